"""Receivables on the home: write-offs waiting for approval (never the approver's own proposals),
unmatched receipts and invoices due for their next dunning letter."""

from django.urls import reverse

from settlement_ops.work_queue import APPROVALS, RECEIVABLES, WorkItem, count_and_amounts, filtered_url, may

from .dunning import invoices_due_for_dunning
from .models import Receipt, WriteOff


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
        count, amounts = count_and_amounts(invoices_due_for_dunning(on=today), "amount_open")
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
