from django.urls import path

from . import views
from .desk.urls import staff_urlpatterns as desk_urlpatterns
from .health import views as health_views

app_name = "sellers"

urlpatterns = [
    path("", views.SellerListView.as_view(), name="seller_list"),
    path("<int:pk>/", views.SellerDetailView.as_view(), name="seller_detail"),
    *desk_urlpatterns,
    path("health/", health_views.PortfolioView.as_view(), name="health_portfolio"),
    path("health/rules/", health_views.RuleSetListView.as_view(), name="health_rules"),
    path("health/rules/draft/", health_views.RuleSetDraftView.as_view(), name="health_rule_draft"),
    path("health/rules/<int:pk>/activate/", health_views.RuleSetActivateView.as_view(), name="health_rule_activate"),
    path("health/warnings/", health_views.WorklistView.as_view(), name="health_worklist"),
    path("health/warnings/<int:pk>/take/", health_views.WarningTakeView.as_view(), name="health_warning_take"),
    path("<int:pk>/health/", health_views.SellerHealthView.as_view(), name="health_seller"),
    path("<int:pk>/health/contacts/", health_views.ContactLogView.as_view(), name="health_contact"),
    path("<int:pk>/health/plans/", health_views.PlanCreateView.as_view(), name="health_plan"),
]

NAV = [
    ("Sellers", [("Sellers", "sellers:seller_list", "sellers.view_seller")]),
    (
        "Seller desk",
        [
            ("Queue", "sellers:desk_queue", "sellers.work_desk_tier1"),
            ("New question", "sellers:desk_new", "sellers.work_desk_tier1"),
            ("Desk report", "sellers:desk_report", "sellers.work_desk_tier1"),
        ],
    ),
    (
        "Seller health",
        [
            ("Portfolio", "sellers:health_portfolio", "sellers.work_seller_health"),
            ("Warnings", "sellers:health_worklist", "sellers.work_seller_health"),
            ("Warning rules", "sellers:health_rules", "sellers.view_healthwarning"),
        ],
    ),
]
