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
    path("fee-schedules/", views.FeeScheduleListView.as_view(), name="fee_schedule_list"),
    path("fee-schedules/new/", views.FeeScheduleCreateView.as_view(), name="fee_schedule_create"),
    path("fee-schedules/export/", views.FeeScheduleExportView.as_view(), name="fee_schedule_export"),
    path("fee-schedules/<int:pk>/", views.FeeScheduleDetailView.as_view(), name="fee_schedule_detail"),
    path("fee-schedules/<int:pk>/approve/", views.FeeScheduleApproveView.as_view(), name="fee_schedule_approve"),
    path("fee-schedules/<int:pk>/reject/", views.FeeScheduleRejectView.as_view(), name="fee_schedule_reject"),
]

NAV = [
    (
        "Billing",
        [
            ("Billing runs", "billing:run_list", "billing.view_billingrun"),
            ("Shipments", "billing:shipment_list", "billing.view_shipment"),
            ("Seller fee schedules", "billing:fee_schedule_list", "billing.view_sellerfeeschedule"),
        ],
    ),
]
