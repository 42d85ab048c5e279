"""AP's part of the period tie-outs (settlement_ops.periods finds this module by its name): the
vendor documents and payments that post to the payable, the accrual, input VAT and the bank."""

from django.db.models import F

from settlement_ops.models import AccountKind
from settlement_ops.periods import posted_total

from .models import Payment, VendorDeduction, VendorInvoice


def _negate(totals):
    return {c: -t for c, t in totals.items()}


def _invoices(market):
    return VendorInvoice.objects.filter(market=market, kind=VendorInvoice.Kind.INVOICE)


def _credit_notes(market):
    return VendorInvoice.objects.filter(market=market, kind=VendorInvoice.Kind.CREDIT_NOTE)


def _payments(market):
    return Payment.objects.filter(run__market=market)


def payable_invoiced(market, end):
    """Approved invoices (Cr payable, gross approved)."""
    return _negate(posted_total(_invoices(market), F("approved_net") + F("approved_vat"), end=end))


def payable_credited(market, end):
    """Approved vendor credit notes (Dr payable, gross)."""
    return posted_total(_credit_notes(market), "gross_total", end=end)


def payable_deducted(market, end):
    """Deductions recovered from vendors (Dr payable)."""
    return posted_total(VendorDeduction.objects.filter(market=market), "amount", end=end)


def payable_paid(market, end):
    """Payments the bank confirmed (Dr payable), less those reversed."""
    return posted_total(_payments(market), "amount", end=end)


def accrual_relieved(market, end):
    """Accrued cost of the charge lines approved invoices matched (Dr accrual)."""
    return posted_total(_invoices(market), "accrual_relieved", end=end)


def vat_input(market, end):
    """Input VAT of approved invoices less vendor credit notes."""
    totals = posted_total(_invoices(market), "approved_vat", end=end)
    for currency, amount in posted_total(_credit_notes(market), "vat_total", end=end).items():
        totals[currency] = totals.get(currency, 0) - amount
    return totals


def bank_paid(market, end):
    """Money paid out to vendors (Cr bank)."""
    return _negate(posted_total(_payments(market), "amount", end=end))


SUBLEDGER_PARTS = {
    AccountKind.VENDOR_PAYABLE: [payable_invoiced, payable_credited, payable_deducted, payable_paid],
    AccountKind.ACCRUED_LOGISTICS_COST: [accrual_relieved],
    AccountKind.VAT_INPUT: [vat_input],
    AccountKind.BANK: [bank_paid],
}
