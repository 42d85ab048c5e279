from django.urls import path

from . import views

app_name = "billing"

urlpatterns = [
    path("runs/", views.RunListView.as_view(), name="run_list"),
    path("runs/start/", views.RunStartView.as_view(), name="run_start"),
    path("runs/<int:pk>/", views.RunDetailView.as_view(), name="run_detail"),
    path("runs/<int:pk>/progress/", views.RunProgressView.as_view(), name="run_progress"),
    path("runs/<int:pk>/resume/", views.RunResumeView.as_view(), name="run_resume"),
    path("runs/<int:pk>/export/", views.RunExportView.as_view(), name="run_export"),
    path("shipments/", views.ShipmentListView.as_view(), name="shipment_list"),
    path("shipments/<int:pk>/", views.ShipmentDetailView.as_view(), name="shipment_detail"),
]

NAV = [
    (
        "Billing",
        [
            ("Billing runs", "billing:run_list", "billing.view_billingrun"),
            ("Shipments", "billing:shipment_list", "billing.view_shipment"),
        ],
    ),
]
