"""Compensation pages of the seller portal: the seller's chargebacks, and disputing one."""

from django.urls import path

from . import portal

urlpatterns = [
    path("chargebacks/", portal.PortalChargebackListView.as_view(), name="chargebacks"),
    path("chargebacks/<int:pk>/", portal.PortalChargebackDetailView.as_view(), name="chargeback_detail"),
    path("chargebacks/<int:pk>/dispute/", portal.PortalChargebackDisputeView.as_view(), name="chargeback_dispute"),
]
