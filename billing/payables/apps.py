from django.apps import AppConfig


class PayablesConfig(AppConfig):
    """Vendor invoices, freight audit, AP payables and payment runs (a part of billing)."""

    name = "billing.payables"
    label = "payables"
    verbose_name = "Payables"
