from django.urls import path

from . import views

app_name = "receivables"

urlpatterns = [
    path("statements/", views.StatementListView.as_view(), name="statement_list"),
    path("statements/export/", views.StatementExportListView.as_view(), name="statements_export"),
    path("statements/<int:pk>/", views.StatementDetailView.as_view(), name="statement_detail"),
    path("statements/<int:pk>/export/", views.StatementExportView.as_view(), name="statement_export"),
    path("invoices/", views.InvoiceListView.as_view(), name="invoice_list"),
    path("invoices/<int:pk>/", views.InvoiceDetailView.as_view(), name="invoice_detail"),
    path("invoices/<int:pk>/pdf/", views.InvoicePdfView.as_view(), name="invoice_pdf"),
    path("invoices/<int:pk>/credit-note/", views.InvoiceCreditNoteView.as_view(), name="invoice_credit_note"),
    path("invoices/<int:pk>/write-off/", views.InvoiceWriteOffView.as_view(), name="invoice_write_off"),
    path("receipts/", views.ReceiptListView.as_view(), name="receipt_list"),
    path("receipts/unmatched/", views.ReceiptQueueView.as_view(), name="receipt_queue"),
    path("receipts/export/", views.ReceiptExportView.as_view(), name="receipts_export"),
    path("receipts/<int:pk>/", views.ReceiptDetailView.as_view(), name="receipt_detail"),
    path("receipts/<int:pk>/apply/", views.ReceiptActionView.as_view(action="apply"), name="receipt_apply"),
    path("receipts/<int:pk>/identify/", views.ReceiptActionView.as_view(action="identify"), name="receipt_identify"),
    path("receipts/<int:pk>/reverse/", views.ReceiptActionView.as_view(action="reverse"), name="receipt_reverse"),
    path("applications/<int:pk>/reverse/", views.ApplicationReverseView.as_view(), name="application_reverse"),
    path("aging/", views.AgingView.as_view(), name="aging"),
    path("collections/", views.WorklistView.as_view(), name="worklist"),
    path("collections/<int:pk>/", views.SellerCollectionsView.as_view(), name="seller_collections"),
    path("write-offs/", views.WriteOffListView.as_view(), name="write_off_list"),
    path("write-offs/<int:pk>/decide/", views.WriteOffDecideView.as_view(), name="write_off_decide"),
]

NAV = [
    (
        "Receivables",
        [
            ("Statements", "receivables:statement_list", "receivables.view_statement"),
            ("Invoices", "receivables:invoice_list", "receivables.view_invoice"),
            ("Receipts", "receivables:receipt_list", "receivables.view_receipt"),
            ("Unmatched receipts", "receivables:receipt_queue", "receivables.apply_receipt"),
            ("Aging", "receivables:aging", "receivables.view_invoice"),
            ("Collections", "receivables:worklist", "receivables.view_collectionnote"),
            ("Write-offs", "receivables:write_off_list", "receivables.view_writeoff"),
        ],
    ),
]
