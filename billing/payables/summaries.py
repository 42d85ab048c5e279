"""Payables' part of the vendor account summary (vendors.selectors.vendor_account_summary): what
we owe the vendor now (unpaid invoices, of which overdue, less credit notes and deductions not yet
netted in a payment), invoices in audit, disputes open, and the last payments."""

from django.db.models import Count, Q, Sum

from settlement_ops.money import Money

from .filters import due_q
from .models import Payable, Payment, VendorInvoice
from .work_queue import disputed_invoices

RECENT = 5


def vendor_summary(vendor, *, today) -> dict:
    owed = (
        Payable.objects.filter(due_q("unpaid", today), vendor=vendor)
        .order_by()
        .values("currency")
        .annotate(
            total=Sum("amount"),
            invoices=Sum("amount", filter=Q(kind=Payable.Kind.INVOICE)),
            overdue=Sum("amount", filter=Q(kind=Payable.Kind.INVOICE, due_date__lt=today)),
            credits=Sum("amount", filter=~Q(kind=Payable.Kind.INVOICE)),
            held=Sum("amount", filter=Q(on_hold=True)),
            count=Count("pk"),
        )
        .order_by("currency")
    )
    disputes = disputed_invoices().filter(vendor=vendor)
    return {
        "owed": [
            {
                "total": Money(row["total"], row["currency"]),
                "invoices": Money(row["invoices"] or 0, row["currency"]),
                "overdue": Money(row["overdue"] or 0, row["currency"]),
                "credits": Money(row["credits"] or 0, row["currency"]),
                "held": Money(row["held"] or 0, row["currency"]),
                "count": row["count"],
            }
            for row in owed
        ],
        "invoices_in_audit": list(
            VendorInvoice.objects.filter(
                vendor=vendor, status__in=[VendorInvoice.Status.AUDITING, VendorInvoice.Status.IN_REVIEW]
            ).order_by("invoice_date", "pk")
        ),
        "open_disputes": list(disputes.order_by("invoice_date", "pk")),
        "last_payments": list(
            Payment.objects.filter(vendor=vendor)
            .exclude(status=Payment.Status.PROPOSED)
            .select_related("run")
            .order_by("-run__pay_date", "-pk")[:RECENT]
        ),
    }
