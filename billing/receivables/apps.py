from django.apps import AppConfig


class ReceivablesConfig(AppConfig):
    """Seller statements, AR invoices, receipts, collections (a part of billing)."""

    name = "billing.receivables"
    label = "receivables"
    verbose_name = "Receivables"
