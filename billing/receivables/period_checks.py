"""AR's part of the period tie-outs (settlement_ops.periods finds this module by its name): the
seller documents and receipts that post to the receivable, output VAT and the bank. Rated fees
are billing's part (billing/period_checks.py); a seller invoice posts nothing of its own."""

from django.db.models import F

from settlement_ops.models import AccountKind
from settlement_ops.periods import posted_total

from .models import Invoice, PayoutDeduction, Receipt, ReceiptApplication, WriteOff


def _negate(totals):
    return {c: -t for c, t in totals.items()}


def _credit_notes(market):
    """Credit notes and Vietnam's adjustment invoices: each posts its own gross and VAT."""
    return Invoice.objects.filter(market=market, kind__in=Invoice.REDUCING_KINDS)


def _replacements(market):
    """Vietnam's replacement invoices: each posts what it took off the invoice it replaces."""
    return Invoice.objects.filter(market=market, replaces__isnull=False)


def receivable_credited(market, end):
    """Credit notes (Cr receivable, gross)."""
    return _negate(posted_total(_credit_notes(market), "gross_total", end=end))


def receivable_replaced(market, end):
    """Replacement invoices (Cr receivable, the lines left out)."""
    return _negate(posted_total(_replacements(market), F("replaces__gross_total") - F("gross_total"), end=end))


def receivable_applied(market, end):
    """Receipts applied to invoices (Cr receivable), less applications reversed."""
    return _negate(
        posted_total(
            ReceiptApplication.objects.filter(invoice__market=market), "amount", end=end, currency="invoice__currency"
        )
    )


def receivable_written_off(market, end):
    """Approved write-offs (Cr receivable)."""
    return _negate(posted_total(WriteOff.objects.filter(invoice__market=market), "amount", end=end))


def receivable_deducted(market, end):
    """Invoices collected from payouts (Cr receivable)."""
    return _negate(posted_total(PayoutDeduction.objects.filter(market=market), "amount", end=end))


def vat_credited(market, end):
    """Output VAT given back by credit notes (Dr VAT output)."""
    return posted_total(_credit_notes(market), "vat_total", end=end)


def vat_replaced(market, end):
    """Output VAT given back by replacement invoices (Dr VAT output)."""
    return posted_total(_replacements(market), F("replaces__vat_total") - F("vat_total"), end=end)


def bank_received(market, end):
    """Receipts from sellers (Dr bank), less receipts reversed."""
    return posted_total(Receipt.objects.filter(market=market), "amount", end=end)


SUBLEDGER_PARTS = {
    AccountKind.SELLER_RECEIVABLE: [
        receivable_credited,
        receivable_replaced,
        receivable_applied,
        receivable_written_off,
        receivable_deducted,
    ],
    AccountKind.VAT_OUTPUT: [vat_credited, vat_replaced],
    AccountKind.BANK: [bank_received],
}
