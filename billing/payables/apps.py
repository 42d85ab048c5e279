from django.apps import AppConfig


class PayablesConfig(AppConfig):
    """Vendor invoices, freight audit, AP payables and payment runs (a part of billing)."""

    name = "billing.payables"
    label = "payables"
    verbose_name = "Payables"

    def ready(self):
        from settlement_ops.services import BALANCE_CHECKS

        from .selectors import invoice_lines_integrity

        if invoice_lines_integrity not in BALANCE_CHECKS:
            BALANCE_CHECKS.append(invoice_lines_integrity)
