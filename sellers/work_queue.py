"""The seller desk on the home of support (and the other desk roles): open consultations, those
past their SLA, those nobody has taken and those assigned to the user, counted by the desk's own
selectors and each linking to the desk queue with the same filter."""

from django.utils import timezone

from settlement_ops.work_queue import DESK, WorkItem, filtered_url, may

from .desk import selectors as desk
from .desk.sla import Badge


def work_items(user, *, today) -> list[WorkItem]:
    if not may(user, "sellers.work_desk_tier1"):
        return []
    now = timezone.now()
    counts = desk.badge_counts(user, now=now)
    perm = "sellers.work_desk_tier1"
    return [
        WorkItem(DESK, "Open questions", counts["open"], filtered_url("sellers:desk_queue"), perm),
        WorkItem(
            DESK,
            "Past their SLA",
            counts["breached"],
            filtered_url("sellers:desk_queue", badge=Badge.BREACHED),
            perm,
            overdue=counts["breached"] > 0,
        ),
        WorkItem(DESK, "Not assigned", counts["unassigned"], filtered_url("sellers:desk_queue", assignee="none"), perm),
        WorkItem(DESK, "Assigned to me", counts["mine"], filtered_url("sellers:desk_queue", assignee="me"), perm),
    ]
