"""Receivables' journal sources (settlement_ops.source_documents finds this module by its name).
Entries of seller documents carry the document's number, receipts the bank's reference, the
others the primary key of the row that posted."""

from django.urls import reverse

from settlement_ops.source_documents import SourceDocument, numeric_ids

from .models import Invoice, PayoutDeduction, Receipt, WriteOff
from .services import Source

INVOICE_PERMISSION = "receivables.view_invoice"


def _invoice_link(pk: int) -> str:
    return reverse("receivables:invoice_detail", args=[pk])


def _documents(ids) -> dict[str, SourceDocument]:
    """Seller invoices and their corrections, by number."""
    found = {}
    for pk, number, kind, replaces in Invoice.objects.filter(number__in=list(ids)).values_list(
        "pk", "number", "kind", "replaces"
    ):
        noun = "Replacement invoice" if replaces else dict(Invoice.Kind.choices)[kind]
        if kind == Invoice.Kind.INVOICE and not replaces:
            noun = "Seller invoice"
        found[number] = SourceDocument(f"{noun} {number}", _invoice_link(pk), INVOICE_PERMISSION)
    return found


def _receipts(ids) -> dict[str, SourceDocument]:
    rows = Receipt.objects.filter(bank_reference__in=list(ids)).values_list("pk", "bank_reference", "seller__code")
    return {
        reference: SourceDocument(
            f"Bank receipt {reference}" + (f" ({seller})" if seller else ""),
            reverse("receivables:receipt_detail", args=[pk]),
            "receivables.view_receipt",
        )
        for pk, reference, seller in rows
    }


def _applications(ids) -> dict[str, SourceDocument]:
    """An application's entry names the receipt applied (it is posted before the application row)."""
    rows = Receipt.objects.filter(pk__in=numeric_ids(ids)).values_list("pk", "bank_reference")
    return {
        str(pk): SourceDocument(
            f"Application of receipt {reference}",
            reverse("receivables:receipt_detail", args=[pk]),
            "receivables.view_receipt",
        )
        for pk, reference in rows
    }


def _on_invoice(model, noun: str):
    """Rows that settle one invoice (applications, payout deductions, write-offs)."""

    def describe(ids) -> dict[str, SourceDocument]:
        rows = model.objects.filter(pk__in=numeric_ids(ids)).values_list("pk", "invoice_id", "invoice__number")
        return {
            str(pk): SourceDocument(f"{noun} {number}", _invoice_link(invoice_id), INVOICE_PERMISSION)
            for pk, invoice_id, number in rows
        }

    return describe


SOURCES = {
    Source.CREDIT_NOTE: _documents,
    Source.ADJUSTMENT: _documents,
    Source.REPLACEMENT: _documents,
    Source.SELLER_CHARGE: _documents,
    Source.RECEIPT: _receipts,
    Source.RECEIPT_IDENTIFY: _receipts,
    Source.APPLICATION: _applications,
    Source.PAYOUT_DEDUCTION: _on_invoice(PayoutDeduction, "Payout deduction for"),
    Source.WRITE_OFF: _on_invoice(WriteOff, "Write-off of"),
}
