"""Kernel use cases: ledger posting and reversal, accounts, number sequences, FX, audit log."""

from __future__ import annotations

import csv
import io
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import ngettext

from .errors import DomainError, PermissionDeniedError
from .models import (
    ACCOUNT_CHART,
    Account,
    AccountingPeriod,
    AccountKind,
    ApprovalLimit,
    AuditEvent,
    FxRate,
    JournalEntry,
    Market,
    NumberSequence,
    Posting,
    month_end,
    month_start,
)
from .money import MINOR_UNITS, is_quantized, to_decimal
from .navigation import area_modules
from .roles import Role, has_role, user_roles
from .security import client_ip
from .selectors import unbalanced_entries

logger = logging.getLogger(__name__)


# --- Accounts --------------------------------------------------------------------------------


def account_for(
    *, market: Market, kind: str, currency: str | None = None, party_type: str = "", party_id: int | None = None
) -> Account:
    """The ledger account of a kind for a market (and party), created on first use."""
    currency = currency or market.currency
    party_id = party_id or 0
    number, _ = ACCOUNT_CHART[AccountKind(kind)]
    label = AccountKind(kind).label
    if party_type:
        code = f"{number}-{party_type[0].upper()}{party_id}"
        name = f"{label} — {party_type} {party_id}"
    else:
        code, name = number, label
    account, _ = Account.objects.get_or_create(
        market=market,
        kind=kind,
        currency=currency,
        party_type=party_type,
        party_id=party_id,
        defaults={"code": code, "name": name},
    )
    return account


# --- Ledger ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostingLine:
    """One line to post: amount > 0 debits the account, < 0 credits it (account's currency)."""

    account: Account
    amount: Decimal
    memo: str = ""


def _amount(index: int, value) -> Decimal:
    try:
        return to_decimal(value)
    except TypeError:
        raise DomainError(
            f"Posting {index}: {value!r} is a binary float; post amounts as Decimal or str",
            code="float_amount",
            field="amount",
        ) from None


def _validate_lines(market: Market, lines) -> None:
    if len(lines) < 2:
        raise DomainError("A journal entry needs at least two postings", code="unbalanced")
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for index, line in enumerate(lines):
        amount = _amount(index, line.amount)
        account = line.account
        if account.market_id != market.pk:
            raise DomainError(
                f"Posting {index}: account {account.code} belongs to market {account.market_id}, not {market.pk}",
                code="wrong_market",
                field="account",
            )
        if amount == 0:
            raise DomainError(f"Posting {index}: amount is zero", code="zero_amount", field="amount")
        if not is_quantized(amount, account.currency):
            raise DomainError(
                f"Posting {index}: {amount} has more decimals than {account.currency} allows "
                f"({MINOR_UNITS[account.currency]}); round before posting",
                code="unrounded_amount",
                field="amount",
            )
        totals[account.currency] += amount
    unbalanced = {cur: total for cur, total in totals.items() if total != 0}
    if unbalanced:
        detail = ", ".join(f"{cur} {total:+}" for cur, total in sorted(unbalanced.items()))
        raise DomainError(f"Journal entry does not balance: {detail}", code="unbalanced")


def ledger_post(
    *,
    market: Market,
    entry_date: date,
    lines,
    idempotency_key: str,
    source_type: str,
    source_id: str,
    description: str,
    actor=None,
    reverses: JournalEntry | None = None,
    adjustment: bool = False,
) -> JournalEntry:
    """Post a balanced journal entry: all postings or none.

    Idempotent by `idempotency_key`: posting the same key again with the same lines returns the
    first entry and writes nothing; the same key with other lines (accounts or amounts) is refused,
    as the API refuses a reused Idempotency-Key with another body. Runs inside the caller's
    transaction when there is one (so postings commit together with the records they account for),
    else opens its own.

    The entry date's accounting period must be open: a closed period refuses every posting, a
    soft-closed one all but adjustments (`adjustment=True`) by a finance approver. The period row
    is share-locked until the entry commits, so a concurrent close waits for it (and vice versa).

    Raises DomainError when the entry is unbalanced per currency, an amount is zero, unrounded or
    a float, an account belongs to another market, or the key was used for other lines;
    PeriodClosedError when the entry date's period is closed (or soft-closed).
    """
    lines = list(lines)
    _validate_lines(market, lines)
    existing = JournalEntry.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return _same_entry(existing, lines)
    with transaction.atomic():
        period_guard(market=market, entry_date=entry_date, actor=actor, adjustment=adjustment)
        try:
            # A savepoint, so a concurrent insert of the same key leaves the outer transaction usable.
            with transaction.atomic():
                entry = JournalEntry.objects.create(
                    market=market,
                    entry_date=entry_date,
                    description=description[:255],
                    source_type=source_type,
                    source_id=str(source_id),
                    idempotency_key=idempotency_key,
                    reverses=reverses,
                    created_by=actor if getattr(actor, "pk", None) else None,
                )
        except IntegrityError:
            existing = JournalEntry.objects.filter(idempotency_key=idempotency_key).first()
            if existing is None:
                raise
            return _same_entry(existing, lines)
        Posting.objects.bulk_create(
            Posting(
                entry=entry,
                account=line.account,
                currency=line.account.currency,
                amount=to_decimal(line.amount),
                market=market,
                entry_date=entry_date,
                party_type=line.account.party_type,
                party_id=line.account.party_id,
                memo=line.memo[:255],
            )
            for line in lines
        )
    return entry


def _same_entry(entry: JournalEntry, lines) -> JournalEntry:
    """The stored entry of a reused key, when it holds exactly these lines (account and amount)."""
    stored = sorted(entry.postings.values_list("account_id", "amount"))
    asked = sorted((line.account.pk, to_decimal(line.amount)) for line in lines)
    if stored != asked:
        raise DomainError(
            f"Idempotency key {entry.idempotency_key!r} was already used for JE{entry.pk} with other lines; "
            "a retry must post the same lines, a different posting needs its own key",
            code="idempotency_key_reused",
            status=422,
        )
    return entry


def ledger_reverse(*, entry: JournalEntry, reason: str, actor=None, entry_date: date | None = None) -> JournalEntry:
    """Post the mirror image of an entry. An entry is reversed at most once (idempotent).

    A reversal dated in a closed or soft-closed period posts on the first day of the next open
    period instead; it references the original (`reverses`, and JE<id> in its description)."""
    if entry.reverses_id is not None:
        raise DomainError("A reversal cannot itself be reversed; post a new entry", code="reversal_of_reversal")
    existing = JournalEntry.objects.filter(idempotency_key=f"reversal:{entry.pk}").first()
    lines = [
        PostingLine(account=p.account, amount=-p.amount, memo=p.memo) for p in entry.postings.select_related("account")
    ]
    on = entry_date or entry.market.local_date()
    return ledger_post(
        market=entry.market,
        entry_date=existing.entry_date if existing else period_next_open_date(market=entry.market, on=on),
        lines=lines,
        idempotency_key=f"reversal:{entry.pk}",
        source_type=entry.source_type,
        source_id=entry.source_id,
        description=f"Reversal of JE{entry.pk}: {reason}",
        actor=actor,
        reverses=entry,
    )


@transaction.atomic(durable=True)
def ledger_adjust(
    *,
    actor,
    market: Market,
    entry_date: date,
    lines,
    reason: str,
    idempotency_key: str,
    corrects: JournalEntry | None = None,
) -> JournalEntry:
    """A manual adjustment entry by a finance approver; the only posting a soft-closed period takes.

    `corrects` names the entry it corrects (its JE id goes into the description). Raises
    PermissionDeniedError for anyone but a finance approver, DomainError without a reason, and
    whatever ledger_post refuses."""
    if not has_role(actor, Role.FINANCE_APPROVER):
        raise PermissionDeniedError("Only a finance approver posts adjustments.", code="not_approver")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give a reason for the adjustment.", code="required", field="reason")
    suffix = f" (corrects JE{corrects.pk})" if corrects is not None else ""
    entry = ledger_post(
        market=market,
        entry_date=entry_date,
        lines=lines,
        idempotency_key=idempotency_key,
        source_type="adjustment",
        source_id=str(corrects.pk) if corrects is not None else "",
        description=f"Adjustment: {reason}{suffix}",
        actor=actor,
        adjustment=True,
    )
    audit_record(kind=AuditEvent.Kind.ACTION, actor=actor, action="ledger_adjust", obj=entry, detail={"reason": reason})
    return entry


# --- Accounting periods (the ledger's side; closing lives in settlement_ops.periods) -------------


class PeriodClosedError(DomainError):
    def __init__(self, message: str, **kwargs):
        kwargs.setdefault("code", "period_closed")
        kwargs.setdefault("status", 409)
        kwargs.setdefault("field", "entry_date")
        super().__init__(message, **kwargs)


def period_status(*, market: Market, on: date, lock: bool = False) -> str:
    """The status of the period holding `on` (no row: open). `lock` takes a share lock on the row
    (inside a transaction), which a close's FOR UPDATE waits for."""
    table = AccountingPeriod._meta.db_table
    sql = f"SELECT status FROM {table} WHERE market_id = %s AND month = %s" + (" FOR SHARE" if lock else "")
    with connection.cursor() as cursor:
        cursor.execute(sql, [market.pk, month_start(on)])
        row = cursor.fetchone()
    return row[0] if row else AccountingPeriod.Status.OPEN


def period_next_open_date(*, market: Market, on: date) -> date:
    """`on` when its period is open, else the first day of the next open period."""
    not_open = set(
        AccountingPeriod.objects.filter(market=market, month__gte=month_start(on))
        .exclude(status=AccountingPeriod.Status.OPEN)
        .values_list("month", flat=True)
    )
    day = on
    while month_start(day) in not_open:
        day = month_end(day) + timedelta(days=1)
    return day


def period_guard(*, market: Market, entry_date: date, actor=None, adjustment: bool = False) -> None:
    """Refuse a posting dated in a closed period, or in a soft-closed one unless it is an
    adjustment by a finance approver. Callers that start long work dated in a period (a billing
    run) call it up front, so the refusal comes before the work. Raises PeriodClosedError."""
    status = period_status(market=market, on=entry_date, lock=connection.in_atomic_block)
    if status == AccountingPeriod.Status.OPEN:
        return
    label = f"{entry_date:%Y-%m}"
    next_open = period_next_open_date(market=market, on=entry_date)
    if status == AccountingPeriod.Status.CLOSED:
        raise PeriodClosedError(
            f"Period {label} of {market.pk} is closed: nothing can be posted dated {entry_date}. "
            f"Post the correction in the next open period (from {next_open}) with a reference to the original."
        )
    if not (adjustment and actor is not None and has_role(actor, Role.FINANCE_APPROVER)):
        raise PeriodClosedError(
            f"Period {label} of {market.pk} is soft-closed: only a finance approver's adjustment can be posted "
            f"dated {entry_date}. Post it in the next open period (from {next_open}) or ask an approver.",
            code="period_soft_closed",
        )


# --- Number sequences --------------------------------------------------------------------------


def sequence_next(*, market: Market, kind: str, year: int) -> int:
    """Next gapless number for (market, kind, year). Must run inside the transaction that stores
    the numbered document: the row lock serialises writers and a rollback returns the number."""
    if not connection.in_atomic_block:
        raise RuntimeError("sequence_next must be called inside the document's transaction")
    NumberSequence.objects.get_or_create(market=market, kind=kind, year=year)
    seq = NumberSequence.objects.select_for_update().get(market=market, kind=kind, year=year)
    seq.last_value += 1
    seq.save(update_fields=["last_value"])
    return seq.last_value


def document_number_next(*, market: Market, kind: str, on: date) -> str:
    """Formatted gapless number, e.g. GB-INV-2026-000042."""
    value = sequence_next(market=market, kind=kind, year=on.year)
    return f"{market.invoice_prefix}-{kind.upper()}-{on.year}-{value:06d}"


# --- FX ----------------------------------------------------------------------------------------

FX_HEADER = ["date", "currency", "rate"]


@transaction.atomic(durable=True)
def fx_rates_import(*, csv_text: str, source: str = "import", actor=None) -> int:
    """Import daily rates from CSV `date,currency,rate` (rate = value of 1 unit in EUR).

    All or nothing: any bad row raises DomainError listing every bad row and field. Re-importing
    a day replaces that day's rate. Returns the number of rates stored.
    """
    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))
    if reader.fieldnames is None or [f.strip().lower() for f in reader.fieldnames] != FX_HEADER:
        raise DomainError("The file must have the header: date,currency,rate", code="bad_header", field="header")
    errors, rows = [], []
    for number, raw in enumerate(reader, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        try:
            rate_date = date.fromisoformat(row["date"])
        except ValueError:
            errors.append({"row": number, "field": "date", "message": f"{row['date']!r} is not a YYYY-MM-DD date"})
            continue
        if row["currency"] not in MINOR_UNITS:
            errors.append({"row": number, "field": "currency", "message": f"unknown currency {row['currency']!r}"})
            continue
        try:
            rate = to_decimal(row["rate"])
        except (ValueError, TypeError):
            errors.append({"row": number, "field": "rate", "message": f"{row['rate']!r} is not a number"})
            continue
        if rate <= 0:
            errors.append({"row": number, "field": "rate", "message": "must be greater than zero"})
            continue
        rows.append((rate_date, row["currency"], rate))
    if errors:
        message = ngettext(
            "%(n)d row has errors; nothing was imported.", "%(n)d rows have errors; nothing was imported.", len(errors)
        )
        raise DomainError(message % {"n": len(errors)}, code="bad_rows", errors=errors)
    for rate_date, currency, rate in rows:
        FxRate.objects.update_or_create(
            rate_date=rate_date, currency=currency, defaults={"rate": rate, "source": source}
        )
    audit_record(kind=AuditEvent.Kind.ACTION, actor=actor, action="fx_rates_import", detail={"rows": len(rows)})
    return len(rows)


@transaction.atomic(durable=True)
def fx_rate_store(*, rate_date: date, currency: str, rate: Decimal, source: str, actor=None) -> FxRate:
    """Store one day's rate for a currency, replacing that day's rate if there is one."""
    rate = to_decimal(rate)
    if rate <= 0:
        raise DomainError("The rate must be greater than zero", field="rate")
    if currency not in MINOR_UNITS:
        raise DomainError(f"Unknown currency {currency!r}", field="currency")
    stored, _ = FxRate.objects.update_or_create(
        rate_date=rate_date, currency=currency, defaults={"rate": rate, "source": source}
    )
    audit_record(
        kind=AuditEvent.Kind.ACTION, actor=actor, action="fx_rate_store", obj=stored, detail={"rate": str(rate)}
    )
    return stored


# --- Audit log -----------------------------------------------------------------------------------


def audit_record(
    *, kind: str, actor=None, action: str = "", obj=None, detail=None, request=None, username: str = ""
) -> AuditEvent:
    ip = None
    if request is not None:
        ip = client_ip(request)
    return AuditEvent.objects.create(
        kind=kind,
        actor=actor if getattr(actor, "pk", None) else None,
        username=username or getattr(actor, "username", "") or "",
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        detail=detail or {},
        ip_address=ip,
        created_at=timezone.now(),
    )


# --- Four eyes and approval limits -----------------------------------------------------------------


def approval_check(*, actor, action: str, prepared_by, amount=None, currency: str | None = None) -> None:
    """Refuse an approval by the preparer, or above the approver's role limit for the currency.

    `amount` None means the action has no amount (e.g. a bank account change): only four eyes.
    Raises PermissionDeniedError naming the rule that failed.
    """
    if prepared_by is not None and actor.pk == getattr(prepared_by, "pk", prepared_by):
        raise PermissionDeniedError("Four eyes: the person who prepared this cannot approve it.", code="four_eyes")
    if amount is None:
        return
    limits = ApprovalLimit.objects.filter(action=action, currency=currency, role__in=user_roles(actor))
    best = max((limit.max_amount for limit in limits), default=None)
    if best is None:
        raise PermissionDeniedError(
            f"Your role has no approval limit for {action.replace('_', ' ')} in {currency}.", code="no_limit"
        )
    if to_decimal(amount) > best:
        raise PermissionDeniedError(
            f"{currency} {amount} is above your approval limit of {currency} {best}.", code="over_limit"
        )


# --- Nightly ledger check -------------------------------------------------------------------------

# Apps whose stored running balances must equal the ledger declare callables returning a list of
# problems (strings) in `<app>/ledger_checks.py` as BALANCE_CHECKS; the nightly check runs them all.


def balance_checks() -> list:
    """Every app's `ledger_checks.BALANCE_CHECKS`, in AREA_APPS order, each check once."""
    checks = [check for module in area_modules("ledger_checks") for check in module.BALANCE_CHECKS]
    return list(dict.fromkeys(checks))


def ledger_check() -> dict:
    """Check every entry balances per currency and every registered running balance ties to the
    postings. Records the result in the audit log; returns {"ok", "problems"}."""
    problems = [
        f"JE{row['entry_id']} does not balance in {row['currency']}: {row['total']}"
        for row in unbalanced_entries()[:100]
    ]
    for check in balance_checks():
        problems.extend(check())
    result = {"ok": not problems, "problems": problems}
    audit_record(kind=AuditEvent.Kind.ACTION, action="ledger_check", detail=result)
    if problems:
        logger.error("Ledger check found %d problem(s): %s", len(problems), problems[:5])
    return result
