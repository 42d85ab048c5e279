"""Each role's home shows its work queue: what waits for the signed-in user, with counts, amounts
and a link to the list already filtered to exactly those rows.

Each area app contributes through `<app>/work_queue.py`, a module with
`work_items(user, *, today) -> list[WorkItem]` (found by settlement_ops.navigation.area_modules,
so the kernel never imports the apps above it). An item names the permission its link needs; the
kernel drops items the user may not follow, and a module skips its queries for users without it.
Items awaiting approval never count what the user prepared themselves (four eyes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.urls import reverse
from django.utils.http import urlencode

from .money import Money
from .navigation import area_modules

# Sections in the order the home shows them.
APPROVALS = "Waiting for your approval"
BILLING = "Billing"
PAYABLES = "Payables"
RECEIVABLES = "Receivables"
RISK = "Risk"
COMPENSATION = "Compensation"
DESK = "Seller desk"
PERIODS = "Periods and exports"
SECTIONS = [APPROVALS, DESK, BILLING, PAYABLES, RECEIVABLES, COMPENSATION, RISK, PERIODS]


@dataclass
class WorkRow:
    """One document behind an item (a bank-detail change, a contract version) with its own link."""

    label: str
    url: str
    amount: Money | None = None


@dataclass
class WorkItem:
    section: str
    label: str
    count: int
    url: str
    permission: str | tuple[str, ...]
    amounts: list[Money] = field(default_factory=list)
    overdue: bool = False
    rows: list[WorkRow] = field(default_factory=list)


def may(user, permission: str | tuple[str, ...]) -> bool:
    perms = (permission,) if isinstance(permission, str) else permission
    return user.has_perms(perms)


def filtered_url(name: str, *args, **params) -> str:
    """The URL of a list page with its filter already applied (empty parameters left out)."""
    url = reverse(name, args=args)
    query = {key: value for key, value in params.items() if value not in (None, "")}
    return f"{url}?{urlencode(query)}" if query else url


def count_and_amounts(queryset, amount_field: str, currency_field: str = "currency") -> tuple[int, list[Money]]:
    """Rows and their total per currency in one GROUP BY query."""
    rows = (
        queryset.order_by()
        .values(currency_field)
        .annotate(n=Count("pk"), total=Sum(amount_field))
        .order_by(currency_field)
    )
    count, amounts = 0, []
    for row in rows:
        count += row["n"]
        amounts.append(Money(row["total"] or Decimal(0), row[currency_field]))
    return count, amounts


def work_items(user, *, today: date) -> list[WorkItem]:
    """Every item the user may follow, kernel items and those of each area app."""
    items: list[WorkItem] = list(_kernel_items(user, today=today))
    for module in area_modules("work_queue"):
        items.extend(module.work_items(user, today=today))
    return [item for item in items if may(user, item.permission)]


def grouped(items: Iterable[WorkItem]) -> list[tuple[str, list[WorkItem]]]:
    by_section: dict[str, list[WorkItem]] = {}
    for item in items:
        by_section.setdefault(item.section, []).append(item)
    order = {name: i for i, name in enumerate(SECTIONS)}
    return sorted(by_section.items(), key=lambda pair: order.get(pair[0], len(order)))


def _kernel_items(user, *, today: date) -> list[WorkItem]:
    from .models import AccountingPeriod, PeriodWorkbook

    items = []
    close_perm = "settlement_ops.close_accountingperiod"
    if may(user, close_perm):
        waiting = (
            AccountingPeriod.objects.filter(
                (Q(status=AccountingPeriod.Status.SOFT_CLOSED) & ~Q(soft_closed_by=user))
                | (Q(reopen_requested_by__isnull=False) & ~Q(reopen_requested_by=user))
            )
            .select_related("market")
            .order_by("market_id", "month")
        )
        rows = [
            WorkRow(
                f"{p.market_id} {p.label}: {'reopening requested' if p.reopen_requested_by_id else 'soft-closed'}",
                filtered_url("periods", market=p.market_id),
            )
            for p in waiting
        ]
        items.append(
            WorkItem(
                APPROVALS,
                "Periods to close or reopen",
                len(rows),
                rows[0].url if len(rows) == 1 else reverse("periods"),
                "settlement_ops.view_accountingperiod",
                rows=rows,
            )
        )
    # The auditor's queue: what is closed and can be downloaded, and what is still being closed.
    auditor_perm = ("settlement_ops.download_periodworkbook", "settlement_ops.view_auditevent")
    if may(user, auditor_perm) and not may(user, "settlement_ops.change_accountingperiod"):
        periods = AccountingPeriod.objects.exclude(status=AccountingPeriod.Status.OPEN)
        for status, label in (
            (AccountingPeriod.Status.CLOSED, "Closed periods"),
            (AccountingPeriod.Status.SOFT_CLOSED, "Periods being closed (soft-closed)"),
        ):
            rows = [
                WorkRow(f"{p.market_id} {p.label}", filtered_url("periods", market=p.market_id))
                for p in periods.filter(status=status).order_by("market_id", "-month")[:12]
            ]
            items.append(
                WorkItem(
                    PERIODS,
                    label,
                    periods.filter(status=status).count(),
                    rows[0].url if rows else reverse("periods"),
                    "settlement_ops.view_accountingperiod",
                    rows=rows,
                )
            )
        ready = PeriodWorkbook.objects.filter(status=PeriodWorkbook.Status.DONE)
        items.append(
            WorkItem(
                PERIODS,
                "Period workbooks ready to download",
                ready.count(),
                reverse("periods"),
                "settlement_ops.download_periodworkbook",
            )
        )
    return items
