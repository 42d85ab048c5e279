from django.apps import AppConfig


class ReceivablesConfig(AppConfig):
    """Seller statements, AR invoices, receipts, collections (a part of billing)."""

    name = "billing.receivables"
    label = "receivables"
    verbose_name = "Receivables"

    def ready(self):
        from settlement_ops.services import BALANCE_CHECKS

        from .services import balance_problems

        # The nightly ledger check proves the invoice and receipt open amounts tie to the ledger.
        if balance_problems not in BALANCE_CHECKS:
            BALANCE_CHECKS.append(balance_problems)
