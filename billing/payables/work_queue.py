"""Payables on the home: payment runs waiting for approval (never the approver's own), vendor
invoices to audit, disputes open with vendors, and payables overdue or due this week."""

from django.db.models import Count, Sum
from django.template.defaultfilters import pluralize
from django.urls import reverse

from settlement_ops.money import Money
from settlement_ops.work_queue import APPROVALS, PAYABLES, WorkItem, WorkRow, count_and_amounts, filtered_url, may

from .filters import due_q, open_dispute_q
from .models import Payable, PaymentRun, VendorInvoice


def disputed_invoices():
    """Vendor invoices with disputed money and no credit note from the vendor yet."""
    return VendorInvoice.objects.filter(open_dispute_q())


def disputes_open():
    """The disputed invoices per vendor and currency: how many, and the money disputed."""
    return (
        disputed_invoices()
        .order_by()
        .values("vendor_id", "vendor__code", "vendor__legal_name", "currency")
        .annotate(invoices=Count("pk"), disputed=Sum("disputed_total"))
        .order_by("vendor__code", "currency")
    )


def work_items(user, *, today) -> list[WorkItem]:
    items = []
    if may(user, "payables.approve_paymentrun"):
        runs = PaymentRun.objects.filter(status=PaymentRun.Status.DRAFT).exclude(prepared_by=user)
        count, amounts = count_and_amounts(runs, "total_amount")
        items.append(
            WorkItem(
                APPROVALS,
                "Payment runs",
                count,
                filtered_url("payables:run_list", status=PaymentRun.Status.DRAFT),
                "payables.view_paymentrun",
                amounts=amounts,
            )
        )
    if may(user, "payables.audit_vendorinvoice"):
        to_audit = VendorInvoice.objects.filter(status=VendorInvoice.Status.IN_REVIEW)
        count, amounts = count_and_amounts(to_audit, "gross_total")
        items.append(
            WorkItem(
                PAYABLES,
                "Vendor invoices to audit",
                count,
                filtered_url("payables:invoice_list", status=VendorInvoice.Status.IN_REVIEW),
                "payables.view_vendorinvoice",
                amounts=amounts,
            )
        )
        disputes = list(disputes_open())
        rows = [
            WorkRow(
                f"{d['vendor__code']} {d['vendor__legal_name']}: {d['invoices']} invoice{pluralize(d['invoices'])}",
                reverse("payables:vendor_statement", args=[d["vendor_id"]]),
                Money(d["disputed"], d["currency"]),
            )
            for d in disputes
        ]
        totals: dict[str, Money] = {}
        for d in disputes:
            totals[d["currency"]] = totals.get(d["currency"], Money.zero(d["currency"])) + Money(
                d["disputed"], d["currency"]
            )
        items.append(
            WorkItem(
                PAYABLES,
                "Disputes open with vendors",
                sum(d["invoices"] for d in disputes),
                filtered_url("payables:invoice_list", dispute="open"),
                ("payables.view_payable", "payables.view_vendorinvoice"),
                amounts=list(totals.values()),
                rows=rows,
            )
        )
    if may(user, "payables.prepare_paymentrun"):
        for key, label, overdue in (("overdue", "Payables overdue", True), ("week", "Payables due this week", False)):
            # What we must pay: invoices (credit notes and deductions net against them in a run).
            due = Payable.objects.filter(due_q(key, today), kind=Payable.Kind.INVOICE)
            count, amounts = count_and_amounts(due, "amount")
            items.append(
                WorkItem(
                    PAYABLES,
                    label,
                    count,
                    filtered_url("payables:payable_list", due=key, kind=Payable.Kind.INVOICE),
                    "payables.view_payable",
                    amounts=amounts,
                    overdue=overdue and count > 0,
                )
            )
    return items
