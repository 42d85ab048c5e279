"""Kernel use cases: ledger posting and reversal, accounts, number sequences, FX, audit log."""

from __future__ import annotations

import csv
import io
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Lookup
from django.utils import timezone
from django.utils.translation import ngettext

from .db import copy_rows
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


# --- Set-based SQL (many rows, one statement) ------------------------------------------------


def rows_insert(*, model, fields: list[str], rows: list[tuple]) -> None:
    """INSERT many rows of `model` by COPY (`bulk_create` sends a parameter per value, many times
    slower at thousands of rows). `fields` are attnames (`seller_id`), `rows` tuples in their
    order; every NOT NULL column without a database default must be given. No signals are sent."""
    if not rows:
        return
    columns = [model._meta.get_field(name).column for name in fields]
    with connection.cursor() as cursor:
        copy_rows(cursor, model._meta.db_table, columns, rows)


def pg_array(values) -> str:
    """A PostgreSQL array literal ('{1,"GB",NULL}') of ints, Decimals, dates, datetimes and str,
    to bind as one parameter and cast (`%s::bigint[]`). psycopg2 sends a Python list as
    ARRAY[v1, v2, ...], an expression per element that PostgreSQL parses one by one: at tens of
    thousands of values the literal is about five times faster to build and to read."""
    values = list(values)
    kinds = set(map(type, values))
    if kinds <= {int, Decimal, date}:
        return "{" + ",".join(map(str, values)) + "}"
    if kinds == {str}:
        text = '","'.join(values)
        if '"' not in text and "\\" not in text:
            return '{"' + text + '"}'
    # NULLs, timestamps, quoted text: each distinct value spelled once.
    spelled = {value: _array_element(value) for value in set(values)}
    return "{" + ",".join(map(spelled.__getitem__, values)) + "}"


class AnyOf(Lookup):
    """`filter(AnyOf(F("party_id"), ids))` is `party_id = ANY('{...}'::bigint[])`: thousands of
    values as one array parameter, where `party_id__in=ids` costs a parameter (and Django's work)
    per value. (`IN (SELECT unnest(...))` would let a stale row estimate pick a nested loop.)"""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s::{self.lhs.output_field.db_type(connection)}[])", [*params, pg_array(self.rhs)]


def _array_element(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, float):
        raise TypeError("binary floats are not sent to the database as money")
    if isinstance(value, datetime):
        return f'"{value.isoformat()}"'
    return str(value)


# --- Accounts --------------------------------------------------------------------------------


def _account_names(kind: str, party_type: str, party_id: int) -> tuple[str, str]:
    """Code and name of an account: the chart's number, with the party's initial and id appended."""
    number, _ = ACCOUNT_CHART[AccountKind(kind)]
    label = AccountKind(kind).label
    if party_type:
        return f"{number}-{party_type[0].upper()}{party_id}", f"{label} — {party_type} {party_id}"
    return number, label


def account_for(
    *, market: Market, kind: str, currency: str | None = None, party_type: str = "", party_id: int | None = None
) -> Account:
    """The ledger account of a kind for a market (and party), created on first use."""
    currency = currency or market.currency
    party_id = party_id or 0
    code, name = _account_names(kind, party_type, party_id)
    account, _ = Account.objects.get_or_create(
        market=market,
        kind=kind,
        currency=currency,
        party_type=party_type,
        party_id=party_id,
        defaults={"code": code, "name": name},
    )
    return account


def accounts_for(
    *, market: Market, kind: str, party_type: str, party_ids, currency: str | None = None
) -> dict[int, Account]:
    """The accounts of a kind for many parties of a market ({party id: account}), created on first
    use: three queries however many parties (`account_for` asks once per party)."""
    currency = currency or market.currency
    wanted = sorted(set(party_ids))
    scope = dict(market=market, kind=kind, currency=currency, party_type=party_type)
    found = {a.party_id: a for a in Account.objects.filter(AnyOf(F("party_id"), wanted), **scope).order_by()}
    missing = [pk for pk in wanted if pk not in found]
    if missing:
        # ignore_conflicts: a concurrent first use of the same account is no error; read it back.
        Account.objects.bulk_create(
            [
                Account(party_id=pk, code=code, name=name, **scope)
                for pk in missing
                for code, name in [_account_names(kind, party_type, pk)]
            ],
            ignore_conflicts=True,
            batch_size=2000,
        )
        found.update((a.party_id, a) for a in Account.objects.filter(AnyOf(F("party_id"), missing), **scope).order_by())
    return found


# --- Ledger ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostingLine:
    """One line to post: amount > 0 debits the account, < 0 credits it (account's currency)."""

    account: Account
    amount: Decimal
    memo: str = ""


@dataclass(frozen=True, slots=True)
class EntrySpec:
    """One journal entry to post: the arguments of `ledger_post`, for `ledger_post_many`."""

    market: Market
    entry_date: date
    lines: tuple
    idempotency_key: str
    source_type: str
    source_id: str
    description: str
    actor: object = None
    reverses: JournalEntry | None = None
    adjustment: bool = False


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
    market_code = market.code
    for index, line in enumerate(lines):
        amount = _amount(index, line.amount)
        account = line.account
        if account.market_id != market_code:
            raise DomainError(
                f"Posting {index}: account {account.code} belongs to market {account.market_id}, not {market_code}",
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
    spec = EntrySpec(
        market=market,
        entry_date=entry_date,
        lines=tuple(lines),
        idempotency_key=idempotency_key,
        source_type=source_type,
        source_id=source_id,
        description=description,
        actor=actor,
        reverses=reverses,
        adjustment=adjustment,
    )
    return ledger_post_many(entries=[spec])[0]


def ledger_post_many(*, entries, ids_only: bool = False) -> list:
    """Post many journal entries (EntrySpec) with a handful of statements, whatever their number:
    all of them or none. Returns the entry of each spec, in the specs' order (with `ids_only`,
    its id: what a bulk caller stores, without building thousands of model instances).

    Every rule of `ledger_post` holds for each entry (it is this function for one entry): balanced
    per currency, amounts Decimal, rounded and non-zero, accounts of the entry's market, the
    entry's period open (each distinct market and month share-locked once), idempotent by key (a
    stored key with the same lines returns the stored entry, with other lines is refused, also
    when a concurrent transaction stored it first). A key given twice in `entries` with the same
    lines is one entry. With more than one entry a refusal names the entry's key.

    Entries are inserted in key order, so two transactions posting overlapping sets of keys wait
    for each other instead of deadlocking. Raises DomainError, PeriodClosedError as ledger_post.
    """
    specs = list(entries)
    named = len(specs) > 1
    first: dict[str, EntrySpec] = {}
    for spec in specs:
        _validate_entry(spec, named=named)
        key = spec.idempotency_key
        seen = first.setdefault(key, spec)
        if seen is not spec and _spec_signature(seen) != _spec_signature(spec):
            raise DomainError(
                f"Idempotency key {key!r} is given twice with other lines; a different posting needs its own key",
                code="idempotency_key_reused",
                status=422,
            )
    if not specs:
        return []
    with transaction.atomic():
        stored = _entries_stored(list(first), first)
        todo = [spec for key, spec in first.items() if key not in stored]
        inserted, now = {}, timezone.now()
        if todo:
            _periods_guard(todo)
            inserted = _entries_insert(todo, created_at=now)
            raced = [spec.idempotency_key for spec in todo if spec.idempotency_key not in inserted]
            if raced:
                # Committed by a concurrent transaction between our read and our insert.
                stored.update(_entries_stored(raced, first))
                if any(key not in stored for key in raced):
                    raise RuntimeError(f"Journal entries {raced[:3]} were neither inserted nor found")
            _postings_insert([(inserted[s.idempotency_key], s) for s in todo if s.idempotency_key in inserted])
    if ids_only:
        ids = {key: entry.pk for key, entry in stored.items()} | inserted
        return [ids[spec.idempotency_key] for spec in specs]
    built = {key: _entry_instance(pk, first[key], now) for key, pk in inserted.items()}
    return [stored.get(spec.idempotency_key) or built[spec.idempotency_key] for spec in specs]


def _validate_entry(spec: EntrySpec, *, named: bool) -> None:
    try:
        _validate_lines(spec.market, spec.lines)
    except DomainError as exc:
        if not named:
            raise
        raise DomainError(
            f"Entry {spec.idempotency_key}: {exc.message}", code=exc.code, field=exc.field, status=exc.status
        ) from None


def _signature(pairs) -> tuple:
    """What makes two postings of a key the same: their accounts and amounts, in any order."""
    return tuple(sorted((account_id, to_decimal(amount)) for account_id, amount in pairs))


def _spec_signature(spec: EntrySpec) -> tuple:
    return _signature((line.account.pk, line.amount) for line in spec.lines)


def _entries_stored(keys: list[str], wanted: dict[str, EntrySpec]) -> dict[str, JournalEntry]:
    """The stored entries of `keys` ({key: entry}); DomainError when one holds other lines than
    the spec of its key in `wanted`."""
    with connection.cursor() as cursor:
        # Mostly none is stored: one cheap probe by the unique index before loading anything. The
        # keys go in as a subquery: told their number, the planner expects every key to be stored
        # and, for thousands of keys, hashes the whole ledger (0.35 s at 800k entries) instead of
        # probing the index (30 ms).
        cursor.execute(
            f"""SELECT j.id FROM unnest((SELECT %s::text[])) AS k(key)
                JOIN {JournalEntry._meta.db_table} j ON j.idempotency_key = k.key""",
            [pg_array(keys)],
        )
        ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return {}
    entries = {e.pk: e for e in JournalEntry.objects.filter(pk__in=ids).select_related("market")}
    lines = defaultdict(list)
    for entry_id, account_id, amount in Posting.objects.filter(entry_id__in=ids).values_list(
        "entry_id", "account_id", "amount"
    ):
        lines[entry_id].append((account_id, amount))
    for entry in sorted(entries.values(), key=lambda e: e.idempotency_key):
        if _signature(lines[entry.pk]) != _spec_signature(wanted[entry.idempotency_key]):
            raise DomainError(
                f"Idempotency key {entry.idempotency_key!r} was already used for JE{entry.pk} with other lines; "
                "a retry must post the same lines, a different posting needs its own key",
                code="idempotency_key_reused",
                status=422,
            )
    return {e.idempotency_key: e for e in entries.values()}


def _periods_guard(specs: list[EntrySpec]) -> None:
    """period_guard for many entries: each distinct (market, month) read and share-locked once, in order."""
    by_day = defaultdict(list)
    for spec in specs:
        by_day[spec.market.pk, spec.entry_date].append(spec)
    periods = defaultdict(list)
    for (market_pk, day), group in by_day.items():
        periods[market_pk, month_start(day)].extend(group)
    for period in sorted(periods):
        group = periods[period]
        status = period_status(market=group[0].market, on=group[0].entry_date, lock=True)
        if status == AccountingPeriod.Status.OPEN:
            continue
        for spec in group:
            _period_refuse(
                status, market=spec.market, entry_date=spec.entry_date, actor=spec.actor, adjustment=spec.adjustment
            )


def _entries_insert(specs: list[EntrySpec], *, created_at) -> dict[str, int]:
    """Insert entries whose keys are not stored yet ({key: id} of those this call wrote).

    ON CONFLICT DO NOTHING waits for a concurrent insert of the same key and skips it once that
    commits; the rows go in key order so two such transactions cannot wait for each other in a
    cycle. Ids are drawn first in the specs' order, so entry numbers follow the order of events."""
    table = JournalEntry._meta.db_table
    with connection.cursor() as cursor:
        if len(specs) > 1:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s) ORDER BY 1",
                [table, len(specs)],
            )
            ids = [row[0] for row in cursor.fetchall()]
        else:
            ids = [None]
        rows = sorted(zip(ids, specs, strict=True), key=lambda pair: pair[1].idempotency_key)
        columns = [
            [entry_id for entry_id, _ in rows],
            [spec.market.pk for _, spec in rows],
            [spec.entry_date for _, spec in rows],
            [spec.description[:255] for _, spec in rows],
            [spec.source_type for _, spec in rows],
            [str(spec.source_id) for _, spec in rows],
            [spec.idempotency_key for _, spec in rows],
            [spec.reverses.pk if spec.reverses is not None else None for _, spec in rows],
            [_actor_id(spec.actor) for _, spec in rows],
        ]
        cursor.execute(
            f"""
            INSERT INTO {table}
                (id, market_id, entry_date, description, source_type, source_id, idempotency_key, reverses_id,
                 created_by_id, created_at)
            SELECT COALESCE(t.id, nextval(pg_get_serial_sequence(%s, 'id'))), t.market_id, t.entry_date,
                   t.description, t.source_type, t.source_id, t.idempotency_key, t.reverses_id, t.created_by_id, %s
            FROM unnest(%s::bigint[], %s::text[], %s::date[], %s::text[], %s::text[], %s::text[], %s::text[],
                        %s::bigint[], %s::bigint[])
                 WITH ORDINALITY AS t(id, market_id, entry_date, description, source_type, source_id,
                                      idempotency_key, reverses_id, created_by_id, n)
            ORDER BY t.n
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING id, idempotency_key
            """,
            [table, created_at, *map(pg_array, columns)],
        )
        return {key: pk for pk, key in cursor.fetchall()}


def _actor_id(actor):
    return actor.pk if getattr(actor, "pk", None) else None


def _entry_instance(pk: int, spec: EntrySpec, created_at) -> JournalEntry:
    """The JournalEntry just inserted, as a saved instance built without a query (positional
    from_db: thousands of keyword __init__ calls cost more than the INSERT)."""
    values = {
        "id": pk,
        "market_id": spec.market.pk,
        "entry_date": spec.entry_date,
        "description": spec.description[:255],
        "source_type": spec.source_type,
        "source_id": str(spec.source_id),
        "idempotency_key": spec.idempotency_key,
        "reverses_id": spec.reverses.pk if spec.reverses is not None else None,
        "created_by_id": _actor_id(spec.actor),
        "created_at": created_at,
    }
    entry = JournalEntry.from_db(
        connection.alias, None, [values[field.attname] for field in JournalEntry._meta.concrete_fields]
    )
    entry._state.fields_cache["market"] = spec.market
    return entry


def _postings_insert(pairs: list[tuple[int, EntrySpec]]) -> None:
    """All postings of the entries just inserted, in one COPY."""
    rows_insert(
        model=Posting,
        fields=[
            "entry_id",
            "account_id",
            "currency",
            "amount",
            "market_id",
            "entry_date",
            "party_type",
            "party_id",
            "memo",
        ],
        rows=[
            (
                entry_id,
                line.account.id,
                line.account.currency,
                to_decimal(line.amount),
                spec.market.code,
                spec.entry_date,
                line.account.party_type,
                line.account.party_id,
                line.memo[:255],
            )
            for entry_id, spec in pairs
            for line in spec.lines
        ],
    )


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
    _period_refuse(status, market=market, entry_date=entry_date, actor=actor, adjustment=adjustment)


def _period_refuse(status: str, *, market: Market, entry_date: date, actor, adjustment: bool) -> None:
    """The period rule on a period's status (read by the caller): PeriodClosedError or nothing."""
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


def history_snapshot(*, model, ids, history_type: str, actor=None) -> None:
    """Write django-simple-history rows for many rows a set-based statement created or changed
    (bulk writes send no save signals): one INSERT ... SELECT copying their current state.
    `history_type` is "+" (created) or "~" (changed), as the per-row signal would write."""
    if not getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
        return
    history, pk = model.history.model, model._meta.pk
    columns = ", ".join(f.column for f in history._meta.concrete_fields if not f.name.startswith("history_"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {history._meta.db_table}
                ({columns}, history_date, history_type, history_user_id, history_change_reason)
            SELECT {columns}, %s, %s, %s, NULL FROM {model._meta.db_table}
            WHERE {pk.column} = ANY(%s::{pk.db_type(connection)}[]) ORDER BY {pk.column}
            """,
            [timezone.now(), history_type, _actor_id(actor), pg_array(ids)],
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
