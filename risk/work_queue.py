"""Risk on the home: the analyst's open cases and findings; for approvers, case closings and hold
releases asked for by someone else (four eyes)."""

from django.urls import reverse

from settlement_ops.work_queue import APPROVALS, RISK, WorkItem, WorkRow, count_and_amounts, filtered_url, may

from .models import Case, Finding, Hold


def work_items(user, *, today) -> list[WorkItem]:
    items = []
    if may(user, "risk.work_case"):
        for state, label in ((Case.State.OPEN, "Open cases"), (Case.State.ACTING, "Cases with action taken")):
            count, amounts = count_and_amounts(Case.objects.filter(state=state), "money_at_risk")
            items.append(
                WorkItem(RISK, label, count, filtered_url("risk:case_list", state=state), "risk.view_case", amounts)
            )
        count, amounts = count_and_amounts(Finding.objects.filter(state=Finding.State.OPEN), "money_at_risk")
        items.append(
            WorkItem(
                RISK,
                "Findings not yet in a case",
                count,
                filtered_url("risk:finding_list", state=Finding.State.OPEN),
                "risk.view_finding",
                amounts,
            )
        )
    if may(user, "risk.approve_case_close"):
        closing = Case.objects.filter(state=Case.State.CLOSE_REQUESTED).exclude(close_requested_by=user)
        count, amounts = count_and_amounts(closing, "money_at_risk")
        items.append(
            WorkItem(
                APPROVALS,
                "Risk cases to close",
                count,
                filtered_url("risk:case_list", state=Case.State.CLOSE_REQUESTED),
                "risk.view_case",
                amounts,
            )
        )
    if may(user, "risk.release_hold"):
        # No list page of holds: each release links to its case, where it is decided.
        releases = (
            Hold.objects.filter(status=Hold.Status.RELEASE_REQUESTED)
            .exclude(release_requested_by=user)
            .select_related("case")
            .order_by("placed_at")
        )
        rows = [
            WorkRow(f"{h.case.number}: {h.get_kind_display()}", reverse("risk:case_detail", args=[h.case_id]))
            for h in releases
        ]
        items.append(
            WorkItem(
                APPROVALS,
                "Hold releases",
                len(rows),
                rows[0].url if rows else reverse("risk:dashboard"),
                ("risk.view_case", "risk.view_finding"),
                rows=rows,
            )
        )
    return items
