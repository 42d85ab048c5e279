from django.urls import path

from . import views

app_name = "sellers"

urlpatterns = [
    path("", views.SellerListView.as_view(), name="seller_list"),
    path("<int:pk>/", views.SellerDetailView.as_view(), name="seller_detail"),
]

NAV = [
    ("Sellers", [("Sellers", "sellers:seller_list", "sellers.view_seller")]),
]
