"""Receivables on the home: write-offs waiting for approval (never the approver's own proposals),
unmatched receipts and invoices due for their next dunning letter."""

from datetime import date, timedelta

from django.db.models import Q
from django.urls import reverse

from settlement_ops.models import Market
from settlement_ops.work_queue import APPROVALS, RECEIVABLES, WorkItem, count_and_amounts, filtered_url, may

from .dunning import _active_promise, dunning_ladder
from .models import Invoice, Receipt, WriteOff


def dunning_due(*, today: date):
    """Open bank-collected invoices the next dunning run moves up a level: by the dunning rule of
    receivables.dunning (the next level's wait counted from the due date for level 1, from the
    previous letter after that; an active promise to pay holds it), as one query."""
    waited = Q(pk__in=[])
    for market in Market.objects.filter(is_active=True):
        for level, step in dunning_ladder(market).items():
            since = "due_date" if level == 1 else "last_dunned_on"
            waited |= Q(
                market=market, dunning_level=level - 1, **{f"{since}__lte": today - timedelta(days=step.wait_days)}
            )
    promises = _active_promise(today)
    return (
        Invoice.objects.filter(
            kind=Invoice.Kind.INVOICE,
            status__in=Invoice.OPEN_STATUSES,
            collection=Invoice.Collection.BANK,
            due_date__lt=today,
        )
        .filter(waited)
        .exclude(
            Q(pk__in=promises.filter(invoice__isnull=False).values("invoice_id"))
            | Q(seller_id__in=promises.filter(invoice__isnull=True).values("seller_id"))
        )
    )


def work_items(user, *, today) -> list[WorkItem]:
    items = []
    if may(user, "receivables.approve_writeoff"):
        proposed = WriteOff.objects.filter(status=WriteOff.Status.PROPOSED).exclude(proposed_by=user)
        count, amounts = count_and_amounts(proposed, "amount")
        items.append(
            WorkItem(
                APPROVALS,
                "Write-offs",
                count,
                filtered_url("receivables:write_off_list", status=WriteOff.Status.PROPOSED),
                "receivables.view_writeoff",
                amounts=amounts,
            )
        )
    if may(user, "receivables.apply_receipt"):
        unmatched = Receipt.objects.filter(status=Receipt.Status.UNMATCHED)
        count, amounts = count_and_amounts(unmatched, "amount_unapplied")
        items.append(
            WorkItem(
                RECEIVABLES,
                "Unmatched receipts",
                count,
                reverse("receivables:receipt_queue"),
                ("receivables.view_receipt", "receivables.apply_receipt"),
                amounts=amounts,
            )
        )
    if may(user, "receivables.add_collectionnote"):
        count, amounts = count_and_amounts(dunning_due(today=today), "amount_open")
        items.append(
            WorkItem(
                RECEIVABLES,
                "Invoices due for a dunning letter",
                count,
                reverse("receivables:worklist"),
                "receivables.view_collectionnote",
                amounts=amounts,
                overdue=count > 0,
            )
        )
    return items
