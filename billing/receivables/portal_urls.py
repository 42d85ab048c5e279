"""Receivables pages of the seller portal (statements, invoices with PDF, payments). The portal
(settlement_ops.navigation.portal_urlpatterns) collects every app's `portal_urls.urlpatterns`
under /portal/ and the `portal` namespace."""

from django.urls import path

from . import portal

urlpatterns = [
    path("statements/", portal.PortalStatementListView.as_view(), name="statements"),
    path("statements/<int:pk>/", portal.PortalStatementDetailView.as_view(), name="statement_detail"),
    path("statements/<int:pk>/export/", portal.PortalStatementExportView.as_view(), name="statement_export"),
    path("invoices/", portal.PortalInvoiceListView.as_view(), name="invoices"),
    path("invoices/<int:pk>/", portal.PortalInvoiceDetailView.as_view(), name="invoice_detail"),
    path("invoices/<int:pk>/pdf/", portal.PortalInvoicePdfView.as_view(), name="invoice_pdf"),
    path("payments/", portal.PortalPaymentListView.as_view(), name="payments"),
]
