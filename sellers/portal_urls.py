"""The seller portal: every page here is scoped to the signed-in user's seller."""
from django.urls import path

from billing.receivables import portal as receivables

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.PortalHomeView.as_view(), name="home"),
    path("statements/", receivables.PortalStatementListView.as_view(), name="statements"),
    path("statements/<int:pk>/", receivables.PortalStatementDetailView.as_view(), name="statement_detail"),
    path("statements/<int:pk>/export/", receivables.PortalStatementExportView.as_view(), name="statement_export"),
    path("invoices/", receivables.PortalInvoiceListView.as_view(), name="invoices"),
    path("invoices/<int:pk>/", receivables.PortalInvoiceDetailView.as_view(), name="invoice_detail"),
    path("invoices/<int:pk>/pdf/", receivables.PortalInvoicePdfView.as_view(), name="invoice_pdf"),
    path("payments/", receivables.PortalPaymentListView.as_view(), name="payments"),
]
