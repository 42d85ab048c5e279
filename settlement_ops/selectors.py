"""Kernel reads: balances derived from postings, FX conversion, journal queries."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db.models import DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce

from .errors import DomainError
from .models import (
    ACCOUNT_CHART,
    Account,
    AccountingPeriod,
    AccountKind,
    FxRate,
    ImportJob,
    JournalEntry,
    Market,
    Posting,
)
from .money import Money, quantize
from .parties import account_number, party_labels

ZERO = Value(Decimal("0"), output_field=DecimalField(max_digits=20, decimal_places=4))


def postings_filter(
    *,
    market=None,
    kind: str | None = None,
    party_type: str | None = None,
    party_id: int | None = None,
    account: Account | None = None,
    currency: str | None = None,
    date_from: date | None = None,
    as_of: date | None = None,
):
    qs = Posting.objects.all()
    if account is not None:
        qs = qs.filter(account=account)
    if market is not None:
        qs = qs.filter(market=market)
    if kind is not None:
        qs = qs.filter(account__kind=kind)
    if party_type is not None:
        qs = qs.filter(party_type=party_type)
    if party_id is not None:
        qs = qs.filter(party_id=party_id)
    if currency is not None:
        qs = qs.filter(currency=currency)
    if date_from is not None:
        qs = qs.filter(entry_date__gte=date_from)
    if as_of is not None:
        qs = qs.filter(entry_date__lte=as_of)
    return qs


def balance(**filters) -> dict[str, Decimal]:
    """Net balance (debits positive) per currency of the postings matching the filters."""
    rows = postings_filter(**filters).values("currency").annotate(total=Coalesce(Sum("amount"), ZERO))
    return {row["currency"]: row["total"] for row in rows}


def account_balance(*, account: Account, as_of: date | None = None) -> Money:
    total = postings_filter(account=account, as_of=as_of).aggregate(total=Coalesce(Sum("amount"), ZERO))["total"]
    return Money(total, account.currency)


def trial_balance(*, market, as_of: date | None = None):
    """Accounts of a market with debit and credit totals and the net, from postings."""
    date_q = Q(postings__entry_date__lte=as_of) if as_of else Q()
    return (
        Account.objects.filter(market=market)
        .annotate(
            debits=Coalesce(Sum("postings__amount", filter=date_q & Q(postings__amount__gt=0)), ZERO),
            credits=Coalesce(Sum("postings__amount", filter=date_q & Q(postings__amount__lt=0)), ZERO),
            net=Coalesce(Sum("postings__amount", filter=date_q), ZERO),
        )
        .order_by("code", "currency")
    )


def trial_balance_rows(*, market, as_of: date | None = None) -> list:
    """The trial balance as finance reads it: accounts by chart number, then party; each party by
    code and name (settlement_ops.parties); credits as positive figures; the balance on its side
    ("Dr" or "Cr")."""
    rows = list(trial_balance(market=market, as_of=as_of))
    labels = party_labels((row.party_type, row.party_id) for row in rows)
    for row in rows:
        row.credits = -row.credits
        row.party_label = labels.get((row.party_type, row.party_id), "")
        row.kind_label = AccountKind(row.kind).label
        row.balance = abs(row.net)
        row.side = "" if row.net == 0 else ("Dr" if row.net > 0 else "Cr")
    rows.sort(key=lambda row: (account_number(row.code), row.kind_label, row.party_label, row.currency))
    return rows


def trial_balance_between(*, market, date_from: date, date_to: date):
    """Accounts of a market with the debits and credits posted between two dates (inclusive)."""
    date_q = Q(postings__entry_date__gte=date_from, postings__entry_date__lte=date_to)
    return (
        Account.objects.filter(market=market)
        .annotate(
            debits=Coalesce(Sum("postings__amount", filter=date_q & Q(postings__amount__gt=0)), ZERO),
            credits=Coalesce(Sum("postings__amount", filter=date_q & Q(postings__amount__lt=0)), ZERO),
        )
        .order_by("code", "currency")
    )


def periods_of(*, market):
    """A market's accounting periods (rows exist once touched), newest first, with workbooks."""
    return AccountingPeriod.objects.filter(market=market).select_related(
        "soft_closed_by", "closed_by", "reopen_requested_by"
    )


def unbalanced_entries():
    """Entries whose postings do not sum to zero per currency (must always be empty); NUMERIC
    sums are exact, so any difference at all is reported."""
    return (
        Posting.objects.values("entry_id", "currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .order_by("entry_id")
    )


def journal_entries(*, market=None, date_from=None, date_to=None, source_type=None, q=None):
    qs = JournalEntry.objects.select_related("market", "created_by").order_by("-entry_date", "-id")
    if market:
        qs = qs.filter(market=market)
    if date_from:
        qs = qs.filter(entry_date__gte=date_from)
    if date_to:
        qs = qs.filter(entry_date__lte=date_to)
    if source_type:
        qs = qs.filter(source_type=source_type)
    if q:
        qs = qs.filter(Q(description__icontains=q) | Q(source_id=q) | Q(idempotency_key__icontains=q))
    return qs


def fx_rate_on(*, currency: str, on: date) -> Decimal:
    """Rate of 1 unit of `currency` in the reporting currency: the latest on or before `on`."""
    if currency == settings.REPORTING_CURRENCY:
        return Decimal(1)
    rate = (
        FxRate.objects.filter(currency=currency, rate_date__lte=on)
        .order_by("-rate_date")
        .values_list("rate", flat=True)
        .first()
    )
    if rate is None:
        raise DomainError(f"No FX rate for {currency} on or before {on}", code="missing_fx_rate", field="currency")
    return rate


def fx_convert(money: Money, *, to: str | None = None, on: date) -> Money:
    """Convert through the reporting currency and round once, in the target currency."""
    to = to or settings.REPORTING_CURRENCY
    if money.currency == to:
        return money
    in_reporting = money.amount * fx_rate_on(currency=money.currency, on=on)
    amount = in_reporting / fx_rate_on(currency=to, on=on)
    return Money(quantize(amount, to), to)


SUMMARY_KINDS = [
    AccountKind.VENDOR_PAYABLE,
    AccountKind.ACCRUED_LOGISTICS_COST,
    AccountKind.SELLER_RECEIVABLE,
    AccountKind.BANK,
]


def market_position_summary():
    """Per market: balances of the accounts finance watches daily, shown on the normal side."""
    rows = (
        Posting.objects.filter(account__kind__in=SUMMARY_KINDS)
        .values("market_id", "account__kind", "currency")
        .annotate(total=Sum("amount"))
    )
    by_market = {m.code: {"market": m, "balances": {}} for m in Market.objects.filter(is_active=True)}
    for row in rows:
        kind = AccountKind(row["account__kind"])
        sign = -1 if ACCOUNT_CHART[kind][1] in ("liability", "income") else 1
        entry = by_market.get(row["market_id"])
        if entry is not None:
            entry["balances"][kind.label] = Money(row["total"] * sign, row["currency"])
    return list(by_market.values())


def change_history(obj, *, limit: int = 200) -> list[dict]:
    """Changes of a model with django-simple-history, newest first: who, when, and each changed
    field's value before and after."""
    records = list(obj.history.select_related("history_user").order_by("-history_date", "-history_id")[: limit + 1])
    changes = []
    for index, record in enumerate(records[:limit]):
        previous = records[index + 1] if index + 1 < len(records) else None
        if previous is not None and record.history_type == "~":
            delta = record.diff_against(previous)
            fields = [{"field": c.field, "before": c.old, "after": c.new} for c in delta.changes]
        else:
            fields = []
        changes.append(
            {
                "when": record.history_date,
                "who": getattr(record.history_user, "username", "") or "system",
                "type": {"+": "created", "~": "changed", "-": "deleted"}[record.history_type],
                "reason": record.history_change_reason or "",
                "fields": fields,
            }
        )
    return changes


def import_jobs_of(*, kind: str, target=None, limit: int = 5):
    """The latest background imports of a door (and target), for its upload page; without the
    files' bytes."""
    qs = ImportJob.objects.filter(kind=kind).defer("content", "error_report").select_related("requested_by")
    if target is not None:
        qs = qs.filter(target=str(target))
    return qs[:limit]


def entry_totals(entry_ids) -> dict[int, list[Money]]:
    """Per journal entry: its debits per currency (equal to its credits: every entry balances),
    for a page of entries in one query."""
    totals: dict[int, list[Money]] = {}
    rows = (
        Posting.objects.filter(entry_id__in=list(entry_ids), amount__gt=0)
        .values("entry_id", "currency")
        .annotate(total=Sum("amount"))
        .order_by("entry_id", "currency")
    )
    for row in rows:
        totals.setdefault(row["entry_id"], []).append(Money(row["total"], row["currency"]))
    return totals


def account_postings(*, account: Account, date_from: date | None = None, as_of: date | None = None):
    """The postings of one account (the trial balance's drill-down), oldest first, with their entry."""
    return (
        postings_filter(account=account, date_from=date_from, as_of=as_of)
        .select_related("entry")
        .order_by("entry_date", "id")
    )


def account_totals(*, account: Account, date_from: date | None = None, as_of: date | None = None) -> dict:
    """Debits, credits (positive) and the balance with its side, of an account's postings."""
    totals = postings_filter(account=account, date_from=date_from, as_of=as_of).aggregate(
        debits=Coalesce(Sum("amount", filter=Q(amount__gt=0)), ZERO),
        credits=Coalesce(Sum("amount", filter=Q(amount__lt=0)), ZERO),
    )
    net = totals["debits"] + totals["credits"]
    return {
        "debits": totals["debits"],
        "credits": -totals["credits"],
        "balance": abs(net),
        "side": "" if net == 0 else ("Dr" if net > 0 else "Cr"),
    }
