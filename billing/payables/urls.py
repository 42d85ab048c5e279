from django.urls import path

from . import views

app_name = "payables"

urlpatterns = [
    path("invoices/", views.InvoiceListView.as_view(), name="invoice_list"),
    path("invoices/export/", views.InvoiceExportView.as_view(), name="invoice_export"),
    path("invoices/upload/", views.InvoiceUploadView.as_view(), name="invoice_upload"),
    path("invoices/<int:pk>/", views.InvoiceDetailView.as_view(), name="invoice_detail"),
    path("invoices/<int:pk>/decide/", views.InvoiceDecideView.as_view(), name="invoice_decide"),
    path("invoices/<int:pk>/reaudit/", views.InvoiceReauditView.as_view(), name="invoice_reaudit"),
    path("invoices/<int:pk>/approve-credit-note/", views.CreditNoteApproveView.as_view(), name="credit_note_approve"),
    path("invoices/<int:pk>/lines.xlsx", views.InvoiceLinesExportView.as_view(), name="invoice_lines_export"),
    path("imports/<int:pk>/", views.ImportDetailView.as_view(), name="import_detail"),
    path("imports/<int:pk>/progress/", views.ImportProgressView.as_view(), name="import_progress"),
    path("imports/<int:pk>/problems.<str:fmt>", views.ImportErrorsView.as_view(), name="import_errors"),
    path("vendors/<int:pk>/mapping/", views.MappingEditView.as_view(), name="mapping_edit"),
    path("vendors/<int:pk>/dispute-letter.xlsx", views.DisputeLetterView.as_view(), name="dispute_letter"),
    path("vendors/<int:pk>/statement/", views.VendorStatementView.as_view(), name="vendor_statement"),
    path("vendors/<int:pk>/statement.xlsx", views.VendorStatementExportView.as_view(), name="vendor_statement_export"),
    path("", views.PayableListView.as_view(), name="payable_list"),
    path("export/", views.PayableExportView.as_view(), name="payable_export"),
    path("<int:pk>/hold/", views.PayableHoldView.as_view(), name="payable_hold"),
    path("<int:pk>/release/", views.PayableReleaseView.as_view(), name="payable_release"),
    path("runs/", views.RunListView.as_view(), name="run_list"),
    path("runs/prepare/", views.RunPrepareView.as_view(), name="run_prepare"),
    path("runs/<int:pk>/", views.RunDetailView.as_view(), name="run_detail"),
    path("runs/<int:pk>/approve/", views.RunApproveView.as_view(), name="run_approve"),
    path("runs/<int:pk>/export/", views.RunExportView.as_view(), name="run_export"),
    path("runs/<int:pk>/cancel/", views.RunCancelView.as_view(), name="run_cancel"),
    path("runs/<int:pk>/remove-item/", views.RunRemoveItemView.as_view(), name="run_remove_item"),
    path("runs/<int:pk>/results/", views.RunResultsView.as_view(), name="run_results"),
    path("runs/<int:pk>/bank-file/", views.BankFileDownloadView.as_view(), name="bank_file"),
    path("runs/<int:pk>/workbook.xlsx", views.RunWorkbookView.as_view(), name="run_workbook"),
    path("payments/<int:pk>/mark/", views.PaymentMarkView.as_view(), name="payment_mark"),
    path("payments/<int:pk>/remittance/", views.RemittanceView.as_view(), name="remittance"),
    path("payments/<int:pk>/lineage.xlsx", views.LineageView.as_view(), name="payment_lineage"),
]

NAV = [
    (
        "Payables",
        [
            ("Invoice inbox", "payables:invoice_list", "payables.view_vendorinvoice"),
            ("Upload invoice", "payables:invoice_upload", "payables.import_vendorinvoice"),
            ("Payables", "payables:payable_list", "payables.view_payable"),
            ("Payment runs", "payables:run_list", "payables.view_paymentrun"),
        ],
    ),
]
