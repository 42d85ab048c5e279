"""Period close: per market and month, open -> soft-closed -> closed, with the tie-outs that must
pass before a period closes, four eyes on closing and reopening, and all of it in the audit log.

The ledger's side (refusing a posting dated in a closed period) is services.period_guard, which
ledger_post calls. The tie-outs compare a control account's balance at period end with its
subledger, the sum of the documents that post to it. The kernel knows the control accounts; the
documents belong to the apps above it, which declare their part of each subledger in
`<app>/period_checks.py` as SUBLEDGER_PARTS = {AccountKind: [callable(market, end) -> {currency:
amount}]} (found by name, like ledger_checks.py). Amounts are in the ledger's sign (debit > 0).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import DecimalField, F, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .errors import ConflictError, DomainError
from .models import ACCOUNT_CHART, AccountingPeriod, AccountKind, AuditEvent, Market, Posting, month_start
from .navigation import area_modules
from .services import approval_check, audit_record

ZERO = Decimal(0)

# The controls of the tie-out sheet and of closing, in the order auditors read them.
CONTROLS = [
    (AccountKind.SELLER_RECEIVABLE, "AR subledger = AR control account", "AR subledger (documents)"),
    (AccountKind.VENDOR_PAYABLE, "AP subledger = AP control account", "AP subledger (documents)"),
    (AccountKind.ACCRUED_LOGISTICS_COST, "Accruals = charge lines not yet invoiced", "Charge lines not yet invoiced"),
    (AccountKind.VAT_INPUT, "VAT input = sum of documents", "VAT on vendor documents"),
    (AccountKind.VAT_OUTPUT, "VAT output = sum of documents", "VAT on seller charges and credit notes"),
    (AccountKind.BANK, "Bank = payments + receipts", "Receipts less payments"),
]


@dataclass(frozen=True)
class TieOut:
    control: str
    account_kind: str
    currency: str
    subledger_label: str
    subledger: Decimal
    ledger_label: str
    ledger: Decimal

    @property
    def passed(self) -> bool:
        return self.subledger == self.ledger

    @property
    def difference(self) -> Decimal:
        return self.ledger - self.subledger

    def as_dict(self) -> dict:
        data = asdict(self)
        data.update(subledger=str(self.subledger), ledger=str(self.ledger), passed=self.passed)
        return data


def subledger_parts() -> dict[str, list]:
    parts: dict[str, list] = defaultdict(list)
    for module in area_modules("period_checks"):
        for kind, functions in module.SUBLEDGER_PARTS.items():
            parts[kind].extend(functions)
    return parts


def posted_total(qs, amount, *, end: date, entry: str = "entry", currency: str = "currency") -> dict[str, Decimal]:
    """Per currency: the documents' `amount` whose entry is dated on or before `end`, less those
    whose entry was reversed on or before `end`. For a subledger part in period_checks.py."""
    money = DecimalField(max_digits=20, decimal_places=4)
    total = Coalesce(Sum(amount, output_field=money), Value(ZERO, output_field=money))
    result: dict[str, Decimal] = defaultdict(Decimal)
    for row in qs.filter(**{f"{entry}__entry_date__lte": end}).values(cur=F(currency)).annotate(t=total):
        result[row["cur"]] += row["t"]
    for row in qs.filter(**{f"{entry}__reversed_by__entry_date__lte": end}).values(cur=F(currency)).annotate(t=total):
        result[row["cur"]] -= row["t"]
    return dict(result)


def _normal_sign(kind: str) -> int:
    return -1 if ACCOUNT_CHART[AccountKind(kind)][1] in ("liability", "income") else 1


def tie_outs(*, market: Market, end: date) -> list[TieOut]:
    """Every control of CONTROLS for a market at `end`, per currency, both figures on the
    account's normal side (a payable shows positive)."""
    parts = subledger_parts()
    ledger = defaultdict(Decimal)
    for row in (
        Posting.objects.filter(market=market, entry_date__lte=end, account__kind__in=[k for k, _, _ in CONTROLS])
        .values("account__kind", "currency")
        .annotate(total=Sum("amount"))
    ):
        ledger[(row["account__kind"], row["currency"])] += row["total"]
    results = []
    for kind, control, sub_label in CONTROLS:
        books: dict[str, Decimal] = defaultdict(Decimal)
        for part in parts.get(kind, []):
            for currency, amount in part(market, end).items():
                books[currency] += amount
        currencies = sorted({c for k, c in ledger if k == kind} | set(books)) or [market.currency]
        sign = _normal_sign(kind)
        for currency in currencies:
            results.append(
                TieOut(
                    control=control,
                    account_kind=str(kind),
                    currency=currency,
                    subledger_label=sub_label,
                    subledger=books.get(currency, ZERO) * sign,
                    ledger_label=f"{AccountKind(kind).label} ({ACCOUNT_CHART[AccountKind(kind)][0]})",
                    ledger=ledger.get((kind, currency), ZERO) * sign,
                )
            )
    return results


# --- Use cases --------------------------------------------------------------------------------------


def _lock(market: Market, month: date) -> AccountingPeriod:
    AccountingPeriod.objects.get_or_create(market=market, month=month_start(month))
    return AccountingPeriod.objects.select_for_update().select_related("market").get(market=market, month=month)


def period_for(*, market: Market, month: date) -> AccountingPeriod:
    """The period row of a market and month (created open on first use)."""
    period, _ = AccountingPeriod.objects.get_or_create(market=market, month=month_start(month))
    return period


@transaction.atomic(durable=True)
def period_soft_close(*, actor, market: Market, month: date) -> AccountingPeriod:
    """Soft-close a complete month: from now on only a finance approver's adjustments post in it.
    The actor is the preparer of the close (four eyes: someone else closes).
    Raises DomainError for a month not yet over, ConflictError when it is not open."""
    month = month_start(month)
    period = _lock(market, month)
    if period.end >= market.local_date():
        raise DomainError(
            f"{period.label} is not over yet in {market.pk}; a period closes after its last day.",
            code="period_not_over",
        )
    if period.status != AccountingPeriod.Status.OPEN:
        raise ConflictError(f"{market.pk} {period.label} is already {period.get_status_display().lower()}.")
    period.status = AccountingPeriod.Status.SOFT_CLOSED
    period.soft_closed_by, period.soft_closed_at = actor, timezone.now()
    period.save(update_fields=["status", "soft_closed_by", "soft_closed_at"])
    audit_record(kind=AuditEvent.Kind.ACTION, actor=actor, action="period_soft_close", obj=period)
    return period


@transaction.atomic(durable=True)
def period_close(*, actor, period: AccountingPeriod) -> AccountingPeriod:
    """Close a soft-closed period after every tie-out passes; four eyes with whoever soft-closed it.

    Raises ConflictError when the period is not soft-closed (two closes racing: the second finds
    it closed), PermissionDeniedError for the preparer, DomainError listing the failed tie-outs."""
    period = _lock(period.market, period.month)
    if period.status == AccountingPeriod.Status.CLOSED:
        raise ConflictError(f"{period.market_id} {period.label} is already closed.", code="already_closed")
    if period.status != AccountingPeriod.Status.SOFT_CLOSED:
        raise ConflictError(f"Soft-close {period.market_id} {period.label} before closing it.", code="not_soft_closed")
    approval_check(actor=actor, action="period_close", prepared_by=period.soft_closed_by)
    checks = tie_outs(market=period.market, end=period.end)
    failed = [c for c in checks if not c.passed]
    if failed:
        raise DomainError(
            f"{period.market_id} {period.label} does not tie out; {len(failed)} control(s) failed, nothing was closed.",
            code="tie_out_failed",
            errors=[
                {
                    "field": c.account_kind,
                    "message": f"{c.control} ({c.currency}): {c.subledger_label} {c.subledger} "
                    f"vs {c.ledger_label} {c.ledger}, difference {c.difference}",
                }
                for c in failed
            ],
        )
    period.status = AccountingPeriod.Status.CLOSED
    period.closed_by, period.closed_at = actor, timezone.now()
    period.close_checks = [c.as_dict() for c in checks]
    period.save(update_fields=["status", "closed_by", "closed_at", "close_checks"])
    audit_record(
        kind=AuditEvent.Kind.APPROVAL,
        actor=actor,
        action="period_close",
        obj=period,
        detail={"prepared_by": period.soft_closed_by.username, "prepared_at": period.soft_closed_at.isoformat()},
    )
    return period


@transaction.atomic(durable=True)
def period_reopen_request(*, actor, period: AccountingPeriod, reason: str) -> AccountingPeriod:
    """Ask to reopen a closed or soft-closed period; a second person approves it.
    Raises DomainError without a reason, ConflictError for an open period."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give a reason for reopening the period.", code="required", field="reason")
    period = _lock(period.market, period.month)
    if period.status == AccountingPeriod.Status.OPEN:
        raise ConflictError(f"{period.market_id} {period.label} is open.", code="already_open")
    period.reopen_requested_by, period.reopen_requested_at = actor, timezone.now()
    period.reopen_reason = reason[:255]
    period.save(update_fields=["reopen_requested_by", "reopen_requested_at", "reopen_reason"])
    audit_record(
        kind=AuditEvent.Kind.ACTION, actor=actor, action="period_reopen_request", obj=period, detail={"reason": reason}
    )
    return period


@transaction.atomic(durable=True)
def period_reopen_approve(*, actor, period: AccountingPeriod) -> AccountingPeriod:
    """Reopen a period whose reopening someone else asked for (four eyes), back to open.
    Raises ConflictError when nobody asked, PermissionDeniedError for the requester."""
    period = _lock(period.market, period.month)
    if period.status == AccountingPeriod.Status.OPEN or period.reopen_requested_by_id is None:
        raise ConflictError(
            f"Nobody asked to reopen {period.market_id} {period.label}; ask first, with a reason.",
            code="no_reopen_request",
        )
    approval_check(actor=actor, action="period_reopen", prepared_by=period.reopen_requested_by)
    detail = {
        "requested_by": period.reopen_requested_by.username,
        "requested_at": period.reopen_requested_at.isoformat(),
        "reason": period.reopen_reason,
        "was": period.status,
    }
    period.status = AccountingPeriod.Status.OPEN
    period.soft_closed_by = period.soft_closed_at = period.closed_by = period.closed_at = None
    period.reopen_requested_by = period.reopen_requested_at = None
    period.reopen_reason = ""
    period.save()
    audit_record(kind=AuditEvent.Kind.APPROVAL, actor=actor, action="period_reopen", obj=period, detail=detail)
    return period
