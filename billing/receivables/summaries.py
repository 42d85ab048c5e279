"""Receivables' part of the seller account summary (sellers.selectors.seller_account_summary):
balance due and overdue, open invoices, the last statement, recent payments received and
deductions from payouts. A handful of small queries, each bounded."""

from django.db.models import Count, Q, Sum

from settlement_ops.money import Money

from .models import PayoutDeduction, Receipt, Statement
from .selectors import open_invoices

RECENT = 5
OPEN_SHOWN = 10


def seller_summary(seller, *, today) -> dict:
    invoices = open_invoices(seller=seller)
    totals = (
        invoices.order_by()
        .values("currency")
        .annotate(
            due=Sum("amount_open"),
            overdue=Sum("amount_open", filter=Q(due_date__lt=today)),
            count=Count("pk"),
            overdue_count=Count("pk", filter=Q(due_date__lt=today)),
        )
        .order_by("currency")
    )
    balances = [
        {
            "due": Money(row["due"], row["currency"]),
            "overdue": Money(row["overdue"] or 0, row["currency"]),
            "count": row["count"],
            "overdue_count": row["overdue_count"],
        }
        for row in totals
    ]
    open_rows = list(invoices.order_by("due_date", "pk")[:OPEN_SHOWN])
    for invoice in open_rows:
        invoice.days_overdue = max((today - invoice.due_date).days, 0)
    return {
        "balances": balances,
        "open_invoices": open_rows,
        "open_invoice_count": sum(b["count"] for b in balances),
        "last_statement": Statement.objects.filter(seller=seller).order_by("-period_end", "-pk").first(),
        "recent_receipts": list(
            Receipt.objects.filter(seller=seller)
            .exclude(status=Receipt.Status.REVERSED)
            .order_by("-value_date", "-pk")[:RECENT]
        ),
        "recent_deductions": list(
            PayoutDeduction.objects.filter(seller=seller)
            .select_related("invoice")
            .order_by("-created_at", "-pk")[:RECENT]
        ),
    }
