"""Compensation on the home: chargeback disputes for QA to decide, and accepted disputes whose
reversal waits for a finance approver other than the one who accepted it."""

from settlement_ops.work_queue import APPROVALS, COMPENSATION, WorkItem, count_and_amounts, filtered_url, may

from .models import CompensationRequest, Dispute, Verdict


def work_items(user, *, today) -> list[WorkItem]:
    items = []
    if may(user, "compensation.audit_compensationrequest"):
        count, amounts = count_and_amounts(
            CompensationRequest.objects.filter(verdict=Verdict.NEEDS_REVIEW), "amount", "currency"
        )
        items.append(
            WorkItem(
                COMPENSATION,
                "Compensation requests to review",
                count,
                filtered_url("compensation:request_list", verdict=Verdict.NEEDS_REVIEW),
                "compensation.view_compensationrequest",
                amounts,
            )
        )
    if may(user, "compensation.decide_dispute"):
        count, amounts = count_and_amounts(
            Dispute.objects.filter(status=Dispute.Status.OPEN), "chargeback__amount", "chargeback__currency"
        )
        items.append(
            WorkItem(
                COMPENSATION,
                "Chargeback disputes to decide",
                count,
                filtered_url("compensation:dispute_list", status=Dispute.Status.OPEN),
                "compensation.view_dispute",
                amounts,
            )
        )
    if may(user, "compensation.approve_dispute"):
        accepted = Dispute.objects.filter(status=Dispute.Status.ACCEPTED).exclude(decided_by=user)
        count, amounts = count_and_amounts(accepted, "chargeback__amount", "chargeback__currency")
        items.append(
            WorkItem(
                APPROVALS,
                "Chargeback reversals",
                count,
                filtered_url("compensation:dispute_list", status=Dispute.Status.ACCEPTED),
                "compensation.view_dispute",
                amounts,
            )
        )
    return items
