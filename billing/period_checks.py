"""Billing's part of the period tie-outs (settlement_ops.periods finds this module by its name):
what each completed billing run posted, from its per-vendor entries (the totals it posted)."""

from django.db.models import F

from settlement_ops.models import AccountKind
from settlement_ops.periods import posted_total

from .models import BillingRunEntry


def _entries(market):
    return BillingRunEntry.objects.filter(run__market=market)


def receivable_charged(market, end):
    """Seller fees with VAT charged by runs: rated, invoiced or not (Dr seller receivable)."""
    return posted_total(_entries(market), F("seller_net") + F("seller_vat"), end=end, currency="run__currency")


def cost_accrued(market, end):
    """Vendor cost accrued by runs (Cr accrued logistics cost)."""
    return {c: -t for c, t in posted_total(_entries(market), "vendor_net", end=end, currency="run__currency").items()}


def vat_charged(market, end):
    """Output VAT on the seller fees (Cr VAT output)."""
    return {c: -t for c, t in posted_total(_entries(market), "seller_vat", end=end, currency="run__currency").items()}


SUBLEDGER_PARTS = {
    AccountKind.SELLER_RECEIVABLE: [receivable_charged],
    AccountKind.ACCRUED_LOGISTICS_COST: [cost_accrued],
    AccountKind.VAT_OUTPUT: [vat_charged],
}
