"""Payables' journal sources (settlement_ops.source_documents finds this module by its name)."""

from django.urls import reverse

from settlement_ops.source_documents import SourceDocument, numeric_ids

from .models import Payment, VendorDeduction, VendorInvoice


def _vendor_invoices(noun: str):
    def describe(ids) -> dict[str, SourceDocument]:
        rows = VendorInvoice.objects.filter(pk__in=numeric_ids(ids)).values_list("pk", "number", "vendor__code")
        return {
            str(pk): SourceDocument(
                f"{noun} {number} ({vendor})",
                reverse("payables:invoice_detail", args=[pk]),
                "payables.view_vendorinvoice",
            )
            for pk, number, vendor in rows
        }

    return describe


def _payments(ids) -> dict[str, SourceDocument]:
    rows = Payment.objects.filter(pk__in=numeric_ids(ids)).values_list("pk", "run_id", "run__number", "vendor__code")
    return {
        str(pk): SourceDocument(
            f"Payment run {run_number}: {vendor}",
            reverse("payables:run_detail", args=[run_id]),
            "payables.view_paymentrun",
        )
        for pk, run_id, run_number, vendor in rows
    }


def _deductions(ids) -> dict[str, SourceDocument]:
    rows = VendorDeduction.objects.filter(pk__in=numeric_ids(ids)).values_list(
        "pk", "vendor_id", "vendor__code", "reason"
    )
    return {
        str(pk): SourceDocument(
            f"Vendor deduction {vendor}: {reason}",
            reverse("payables:vendor_statement", args=[vendor_id]),
            "payables.view_payable",
        )
        for pk, vendor_id, vendor, reason in rows
    }


SOURCES = {
    "vendor_invoice": _vendor_invoices("Vendor invoice"),
    "vendor_credit_note": _vendor_invoices("Vendor credit note"),
    "vendor_payment": _payments,
    "vendor_deduction": _deductions,
}
