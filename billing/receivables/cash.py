"""Receipts and cash application: bank-statement import, hand/API entry, automatic matching,
the unmatched queue, manual application and reversals. Postings: see `services.py`.

Automatic matching, first rule that finds something wins:
  1. invoice number in the reference (e.g. "GB-INV-2026-000042"): that open invoice of the market
     and currency, up to its open amount; several numbers are served in the order written;
  2. the seller (given, from a referenced invoice, or its code in the reference) and an open
     invoice whose open amount equals the receipt exactly (the oldest such invoice);
  3. the seller: its open invoices oldest-first (due date, then number) until the money is used up.
What is left stays with the seller as unapplied credit (over-payment) and is used on the
seller's next invoice; a receipt whose seller is unknown waits in the unmatched queue.
Rules 2 and 3 only consider invoices collected by bank (payout-collected invoices are settled by
the payout system), rule 1 takes any invoice the payer names.

The rules are one function, `_match`, over invoices as they stand under lock. A receipt recorded by
hand or API (`receipt_record` -> `receipt_match`) feeds it freshly locked rows and posts its
decision row by row; a bank statement (`receipts_import`) locks every seller and invoice it may
touch in one query each, runs `_match` line after line in file order on those rows in memory (each
line sees what the lines before it paid), then writes everything set-based: the receipts, all
entries through `ledger_post_many` under the same idempotency keys, the applications, and the
invoices' open amounts and statuses in one UPDATE. Both paths give the same applications.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from operator import attrgetter

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from sellers.models import Seller
from settlement_ops import uploads
from settlement_ops.bulk_intake import gc_paused
from settlement_ops.db import retry_on_conflict
from settlement_ops.errors import ConflictError, DomainError
from settlement_ops.models import AccountingPeriod, AccountKind, AuditEvent, Market, PartyType, month_start
from settlement_ops.money import MINOR_UNITS, quantize, to_decimal
from settlement_ops.services import (
    AnyOf,
    EntrySpec,
    PostingLine,
    accounts_for,
    audit_record,
    history_snapshot,
    ledger_post_many,
    ledger_reverse,
    period_status,
    pg_array,
    rows_insert,
)

from . import locks
from .models import Invoice, Receipt, ReceiptApplication
from .services import (
    Source,
    application_entry,
    application_post,
    deduction_sync,
    deductions_sync,
    invoice_refresh_status,
    invoices_refresh_status,
    market_account,
    receipt_refresh_status,
    seller_account,
)

INVOICE_NUMBER_RE = re.compile(r"\b([A-Z]{2,10}-INV-\d{4}-\d{6})\b")
CSV_HEADER = ["value_date", "amount", "currency", "reference", "payer_name", "bank_reference"]
CSV_OPTIONAL = ["seller_code"]
# A bank statement: at most 50,000 lines of 5 MB; one more is refused before its rows are checked.
STATEMENT_LIMITS = uploads.UploadLimits(max_rows=50_001, max_columns=16, max_bytes=5 * 1024 * 1024, seconds=60)


# --- The matching rules (one implementation for both paths) ------------------------------------


def _invoice_numbers(reference: str) -> list[str]:
    """Invoice numbers written in a payment reference, each once, in the order written."""
    return list(dict.fromkeys(INVOICE_NUMBER_RE.findall((reference or "").upper())))


class SellerCodes:
    """Which sellers' codes appear in a payment reference (case-insensitive), by looking up every
    piece of the reference as long as some code: a few dozen dict lookups a line, where comparing
    the reference with every seller's code would cost one comparison per seller."""

    def __init__(self, sellers):
        self._by_code: dict[str, list[int]] = defaultdict(list)
        for pk, code in sellers:
            self._by_code[code.upper()].append(pk)
        self._lengths = sorted({len(code) for code in self._by_code})

    @classmethod
    def of_market(cls, market: Market) -> SellerCodes:
        return cls(Seller.objects.filter(market=market).values_list("pk", "code"))

    def found_in(self, reference: str) -> list[int]:
        text, hits = reference.upper(), set()
        for length in self._lengths:
            for start in range(len(text) - length + 1):
                hits.update(self._by_code.get(text[start : start + length], ()))
        return sorted(hits)


def _payer_of(
    reference: str, *, sellers_of_numbers: Callable[[list[str]], set[int]], codes: Callable[[], SellerCodes]
) -> int | None:
    """Who paid when the line does not say: the one seller of the invoices named in the reference,
    else the one seller whose code is in it; None when unknown or ambiguous."""
    if not reference:
        return None
    sellers = sellers_of_numbers(_invoice_numbers(reference))
    if len(sellers) == 1:
        return next(iter(sellers))
    hits = codes().found_in(reference)
    return hits[0] if len(hits) == 1 else None


@dataclass
class _Match:
    """What the rules decided for one receipt: its seller (None: unknown) and the applications
    [(invoice, amount, rule)] in the order they are made."""

    seller_id: int | None
    applications: list = field(default_factory=list)


def _match(*, seller_id, unapplied: Decimal, numbers: list[str], named, payer, candidates) -> _Match:
    """The rules of the module docstring for one receipt, on invoices as they stand (locked).

    `seller_id`: the receipt's seller or None; `named`: the invoices (kind invoice, the receipt's
    market and currency) whose numbers are in `numbers`, the reference's; `payer()`: the seller
    found from the reference; `candidates(seller_id)`: that seller's open bank-collected invoices
    of the currency. Invoices are read (pk, number, seller_id, due_date, amount_open, is_open),
    never changed: the caller applies the result.
    """
    applied, left = [], unapplied
    # Rule 1: invoice numbers in the reference, in the order written.
    named_sellers = {invoice.seller_id for invoice in named}
    if named and len(named_sellers) == 1 and seller_id in (None, *named_sellers):
        seller_id = next(iter(named_sellers))
        written = {number: n for n, number in enumerate(numbers)}
        for invoice in sorted((i for i in named if i.is_open), key=lambda i: written[i.number]):
            if left == 0:
                break
            amount = min(left, invoice.amount_open)
            applied.append((invoice, amount, ReceiptApplication.Rule.INVOICE_NUMBER))
            left -= amount
        if applied:
            return _Match(seller_id, applied)
    if seller_id is None:
        seller_id = payer()
        if seller_id is None:
            return _Match(None)
    oldest_first = sorted((i for i in candidates(seller_id) if i.is_open), key=lambda i: (i.due_date, i.number))
    # Rule 2: exactly the amount of one open invoice (the oldest such).
    exact = next((i for i in oldest_first if i.amount_open == left), None)
    if exact is not None:
        return _Match(seller_id, [(exact, left, ReceiptApplication.Rule.EXACT_AMOUNT)])
    # Rule 3: oldest first until the money is used up.
    for invoice in oldest_first:
        if left == 0:
            break
        amount = min(left, invoice.amount_open)
        applied.append((invoice, amount, ReceiptApplication.Rule.OLDEST_FIRST))
        left -= amount
    return _Match(seller_id, applied)


# --- What a receipt posts (one definition for both paths) ---------------------------------------


def _receipt_entry(*, market: Market, receipt, bank, unapplied, actor) -> EntrySpec:
    """Dr bank / Cr unapplied cash (the seller's, or the market's while the payer is unknown), for
    a Receipt or a statement line's _NewReceipt."""
    return EntrySpec(
        market=market,
        entry_date=receipt.value_date,
        lines=(
            PostingLine(bank, receipt.amount, receipt.bank_reference),
            PostingLine(unapplied, -receipt.amount, receipt.bank_reference),
        ),
        idempotency_key=f"receivables:receipt:{market.pk}:{receipt.bank_reference}",
        source_type=Source.RECEIPT,
        source_id=receipt.bank_reference,
        description=f"Receipt {receipt.bank_reference} {receipt.payer_name}".strip(),
        actor=actor,
    )


def _identify_entry(
    *, market: Market, receipt, amount: Decimal, seller_code: str, unidentified, unapplied, on: date, actor
) -> EntrySpec:
    """Moves an unidentified receipt's unapplied cash to the seller it turned out to be from."""
    return EntrySpec(
        market=market,
        entry_date=on,
        lines=(
            PostingLine(unidentified, amount, receipt.bank_reference),
            PostingLine(unapplied, -amount, receipt.bank_reference),
        ),
        idempotency_key=f"receivables:receipt_identify:{receipt.pk}",
        source_type=Source.RECEIPT_IDENTIFY,
        source_id=receipt.bank_reference,
        description=f"Receipt {receipt.bank_reference} identified as {seller_code}",
        actor=actor,
    )


def _recorded_meanwhile(market: Market, bank_references: list[str]) -> ConflictError | None:
    """After a failed receipt insert: the refusal a clerk understands when another transaction
    recorded one of these bank references since we looked (None when none was)."""
    found = (
        Receipt.objects.filter(market=market, bank_reference__in=bank_references)
        .values_list("bank_reference", flat=True)
        .first()
    )
    if found is None:
        return None
    return ConflictError(
        f"Bank reference {found} was recorded in {market.code} a moment ago by someone else; "
        "look it up, or import the statement again to add only the lines still missing.",
        code="duplicate_receipt",
        field="bank_reference",
    )


# --- Recording one receipt ---------------------------------------------------------------------


def _payer_id(*, market: Market, reference: str) -> int | None:
    """`_payer_of` for one receipt: the invoices it names and the sellers' codes read when asked."""

    def sellers_of_numbers(numbers):
        if not numbers:
            return set()
        return set(Invoice.objects.filter(market=market, number__in=numbers).values_list("seller_id", flat=True))

    return _payer_of(reference, sellers_of_numbers=sellers_of_numbers, codes=lambda: SellerCodes.of_market(market))


def _payer(*, market: Market, seller: Seller | None, reference: str) -> Seller | None:
    """Who paid: the given seller, else the one found from the reference."""
    if seller is not None:
        return seller
    pk = _payer_id(market=market, reference=reference)
    return Seller.objects.get(pk=pk) if pk else None


def _receipt_create(
    *,
    actor,
    market: Market,
    amount: Decimal,
    currency: str,
    value_date: date,
    bank_reference: str,
    reference: str,
    payer_name: str,
    seller: Seller | None,
    source: str,
    batch: str = "",
) -> Receipt:
    seller = _payer(market=market, seller=seller, reference=reference)
    receipt = Receipt(
        market=market,
        seller=seller,
        currency=currency,
        amount=amount,
        amount_unapplied=amount,
        value_date=value_date,
        bank_reference=bank_reference,
        reference=reference,
        payer_name=payer_name,
        source=source,
        import_batch=batch,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    unapplied = (
        seller_account(market, AccountKind.SELLER_UNAPPLIED_CASH, seller.pk)
        if seller
        else market_account(market, AccountKind.SELLER_UNAPPLIED_CASH)
    )
    [receipt.entry] = ledger_post_many(
        entries=[
            _receipt_entry(
                market=market,
                receipt=receipt,
                bank=market_account(market, AccountKind.BANK),
                unapplied=unapplied,
                actor=actor,
            )
        ]
    )
    try:
        with transaction.atomic():
            receipt.save(force_insert=True)
    except IntegrityError as exc:
        raise _recorded_meanwhile(market, [bank_reference]) or exc from None
    return receipt


def _validate_amount(amount, currency: str, *, field: str = "amount") -> Decimal:
    try:
        amount = to_decimal(amount)
    except (TypeError, ValueError):
        raise DomainError(f"{amount!r} is not an amount.", field=field) from None
    if amount <= 0:
        raise DomainError("The amount must be greater than zero.", field=field)
    if amount != quantize(amount, currency):
        raise DomainError(f"{currency} has {MINOR_UNITS[currency]} decimals; {amount} has more.", field=field)
    return amount


@retry_on_conflict
@transaction.atomic(durable=True)
def receipt_record(
    *,
    actor,
    market: Market,
    amount,
    currency: str,
    value_date: date,
    bank_reference: str,
    reference: str = "",
    payer_name: str = "",
    seller: Seller | None = None,
    source: str = Receipt.Source.MANUAL,
) -> Receipt:
    """Record one receipt (by hand or API), post it and match it automatically.

    Raises DomainError for a currency other than the market's, a non-positive or unrounded
    amount, a seller of another market, or a bank reference already recorded in the market.
    """
    if currency != market.currency:
        raise DomainError(f"Receipts in {market.code} are in {market.currency}, not {currency}.", field="currency")
    amount = _validate_amount(amount, currency)
    bank_reference = (bank_reference or "").strip()
    if not bank_reference:
        raise DomainError("The bank reference is required.", field="bank_reference")
    if seller is not None and seller.market_id != market.pk:
        raise DomainError(f"Seller {seller.code} is not in market {market.code}.", field="seller")
    # After an import of the market in progress commits (its lines then count as recorded).
    locks.receipt_record_lock(market.pk)
    if Receipt.objects.filter(market=market, bank_reference=bank_reference).exists():
        raise ConflictError(
            f"Bank reference {bank_reference} is already recorded in {market.code}.",
            code="duplicate_receipt",
            field="bank_reference",
        )
    if seller is not None:
        locks.sellers_lock([seller.pk])
    receipt = _receipt_create(
        actor=actor,
        market=market,
        amount=amount,
        currency=currency,
        value_date=value_date,
        bank_reference=bank_reference,
        reference=reference.strip(),
        payer_name=payer_name.strip(),
        seller=seller,
        source=source,
    )
    receipt_match(actor=actor, receipt=receipt)
    receipt.refresh_from_db()
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="receipt_record",
        obj=receipt,
        detail={"amount": str(amount), "status": receipt.status},
    )
    return receipt


# --- Importing a bank statement ----------------------------------------------------------------


def _parse_rows(market: Market, content: bytes) -> tuple[list[dict], uploads.RowErrors, dict[str, tuple]]:
    """The statement's rows, their errors, and the market's sellers ({CODE: (pk, code)})."""
    header, records = uploads.csv_records(content, limits=STATEMENT_LIMITS)
    if header[: len(CSV_HEADER)] != CSV_HEADER or any(h not in CSV_OPTIONAL for h in header[len(CSV_HEADER) :]):
        raise DomainError(
            "The file must have the header: " + ",".join(CSV_HEADER) + "[,seller_code]",
            code="bad_header",
            field="header",
        )
    sellers = {code.upper(): (pk, code) for pk, code in Seller.objects.filter(market=market).values_list("pk", "code")}
    errors, rows, seen = uploads.RowErrors(), [], set()
    for number, raw in records:
        row = {name: raw.get(name, "") for name in CSV_HEADER + CSV_OPTIONAL}
        problems = []
        try:
            value_date = date.fromisoformat(row["value_date"])
        except ValueError:
            problems.append(("value_date", f"{row['value_date'][:40]!r} is not a YYYY-MM-DD date"))
        if row["currency"] != market.currency:
            problems.append(("currency", f"{row['currency'][:10]!r} is not {market.code}'s currency {market.currency}"))
        try:
            amount = _validate_amount(row["amount"], market.currency)
        except DomainError as exc:
            problems.append(("amount", exc.message))
        if not row["bank_reference"]:
            problems.append(("bank_reference", "is required"))
        elif row["bank_reference"] in seen:
            problems.append(("bank_reference", f"{row['bank_reference'][:100]} appears twice in the file"))
        seen.add(row["bank_reference"])
        seller_id = None
        if row.get("seller_code"):
            seller_id, _ = sellers.get(row["seller_code"].upper(), (None, None))
            if seller_id is None:
                problems.append(("seller_code", f"no seller {row['seller_code'][:30]!r} in {market.code}"))
        for field_name, message in problems:
            errors.add(number, field_name, message)
        if not problems:
            rows.append(
                dict(
                    value_date=value_date,
                    amount=amount,
                    reference=row["reference"][:255],
                    payer_name=row["payer_name"][:200],
                    bank_reference=row["bank_reference"][:100],
                    seller_id=seller_id,
                    row=number,
                )
            )
    return rows, errors, sellers


def _check_periods(market: Market, rows: list[dict], errors: uploads.RowErrors) -> None:
    """A line dated in a closed (or soft-closed) period cannot be posted: say so on its row, so
    the clerk sees every such line at once (the ledger's guard still refuses it on its own)."""
    status = {month: period_status(market=market, on=month) for month in {month_start(r["value_date"]) for r in rows}}
    for row in rows:
        state = status[month_start(row["value_date"])]
        if state != AccountingPeriod.Status.OPEN:
            errors.add(
                row["row"],
                "value_date",
                f"{row['value_date']} is in {row['value_date']:%Y-%m}, which is {state.replace('_', '-')} in "
                f"{market.code}: nothing can be posted dated then",
            )


@retry_on_conflict
@transaction.atomic(durable=True)
def receipts_import(*, actor, market: Market, content: bytes, filename: str = "") -> dict:
    """Import a bank statement CSV (value_date,amount,currency,reference,payer_name,bank_reference
    [,seller_code]) for a market and match every new receipt. All or nothing: any bad row raises
    DomainError listing every row and field. Lines already imported (same bank reference, amount
    and date) are skipped, so importing an overlapping statement again adds only the new lines;
    the same reference with another amount or date is an error. Imports of one market run one
    at a time (a second waits for the first to commit, then skips its lines).

    Returns {"created", "skipped", "matched", "unmatched", "batch"}.
    """
    uploads.file_kind(content=content, filename=filename, limits=STATEMENT_LIMITS, allowed=(uploads.CSV,))
    rows, errors, sellers = _parse_rows(market, content)
    locks.receipts_import_lock(market.pk)
    existing = {
        bank_reference: (amount, value_date)
        for bank_reference, amount, value_date in Receipt.objects.filter(
            AnyOf(F("bank_reference"), [row["bank_reference"] for row in rows]), market=market
        ).values_list("bank_reference", "amount", "value_date")
    }
    new_rows = []
    for row in rows:
        known = existing.get(row["bank_reference"])
        if known is None:
            new_rows.append(row)
        elif known != (row["amount"], row["value_date"]):
            errors.add(
                row["row"],
                "bank_reference",
                f"{row['bank_reference']} was imported before with {market.currency} "
                f"{quantize(known[0], market.currency)} on {known[1]}",
            )
    _check_periods(market, new_rows, errors)
    if errors:
        errors.shown.sort(key=lambda e: e["row"])
        raise errors.refuse()
    if not rows:
        raise DomainError("The file has no receipts.", code="empty_file", field="file")
    batch = hashlib.sha256(content).hexdigest()[:16]
    with gc_paused():  # see gc_paused: a statement's rows live until the import ends
        created = _receipts_import_rows(actor=actor, market=market, rows=new_rows, batch=batch, sellers=sellers)
    result = {
        "created": len(created),
        "skipped": len(rows) - len(new_rows),
        "batch": batch,
        "matched": sum(1 for r in created if r.status != Receipt.Status.UNMATCHED),
        "unmatched": sum(1 for r in created if r.status == Receipt.Status.UNMATCHED),
    }
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="receipts_import",
        detail={"file": filename[:100], "market": market.code, **result},
    )
    return result


@dataclass(slots=True)
class _OpenInvoice:
    """An invoice as a statement import reads it (locked); its open amount changes in memory as
    lines pay it, and is written once at the end."""

    pk: int
    number: str
    seller_id: int
    due_date: date
    collection: str
    gross_total: Decimal
    amount_open: Decimal
    status: str
    is_credit_note = False

    COLUMNS = ("id", "number", "seller_id", "due_date", "collection", "gross_total", "amount_open", "status")

    @property
    def is_open(self) -> bool:
        return self.status in Invoice.OPEN_STATUSES

    def pay(self, amount: Decimal) -> None:
        self.amount_open -= amount
        # Open or not is all the rules need now; invoices_refresh_status settles the final status.
        self.status = Invoice.Status.PARTIALLY_PAID if self.amount_open > 0 else Invoice.Status.PAID


@dataclass(slots=True)
class _NewReceipt:
    """A statement line's receipt until all are written in one INSERT (the Receipt columns an
    import sets; receipt_refresh_status and the entry builders read it like a Receipt)."""

    id: int
    market_id: str
    seller_id: int | None
    currency: str
    amount: Decimal
    amount_unapplied: Decimal
    value_date: date
    bank_reference: str
    reference: str
    payer_name: str
    source: str
    import_batch: str
    created_by_id: int | None
    created_at: object
    status: str = Receipt.Status.UNMATCHED
    entry_id: int | None = None
    identify_entry_id: int | None = None

    COLUMNS = (
        "id",
        "market_id",
        "seller_id",
        "currency",
        "amount",
        "amount_unapplied",
        "value_date",
        "bank_reference",
        "reference",
        "payer_name",
        "source",
        "import_batch",
        "created_by_id",
        "created_at",
        "status",
        "entry_id",
        "identify_entry_id",
    )

    @property
    def pk(self) -> int:
        return self.id


def _ids_reserve(model, count: int) -> list[int]:
    """`count` primary keys drawn from the table's sequence, so rows that refer to each other
    (a receipt, the key of its entries) can be built before any is written."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s) ORDER BY 1",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def _receipts_import_rows(*, actor, market: Market, rows: list[dict], batch: str, sellers: dict) -> list[_NewReceipt]:
    """Record and match a statement's new lines set-based (the caller holds the import lock):

    1. who paid each line, then lock the sellers and every invoice the lines may read or pay,
       `_match` each line in file order, paying the invoices in memory (`_statement_match`);
    2. post every entry under the keys the line-by-line path uses (`_statement_entries`);
    3. write the receipts, the applications, the invoices (one UPDATE), their history and the
       payout deductions of paid payout invoices.
    """
    if not rows:
        return []
    user = actor if getattr(actor, "pk", None) else None
    payers, matches = _statement_match(market=market, rows=rows, sellers=sellers)
    # Receipts are built before anything is written: their ids are in their entries' keys.
    now = timezone.now()
    receipts = [
        _NewReceipt(
            id=pk,
            market_id=market.pk,
            seller_id=payer,
            currency=market.currency,
            amount=row["amount"],
            amount_unapplied=row["amount"],
            value_date=row["value_date"],
            bank_reference=row["bank_reference"],
            reference=row["reference"],
            payer_name=row["payer_name"],
            source=Receipt.Source.IMPORT,
            import_batch=batch,
            created_by_id=_user_id(user),
            created_at=now,
        )
        for pk, row, payer in zip(_ids_reserve(Receipt, len(rows)), rows, payers, strict=True)
    ]
    specs = _statement_entries(market=market, receipts=receipts, matches=matches, sellers=sellers, actor=actor)
    entry_ids = iter(ledger_post_many(entries=specs, ids_only=True))

    applications, touched = [], {}
    for receipt in receipts:
        receipt.entry_id = next(entry_ids)
    for receipt, match in zip(receipts, matches, strict=True):
        if receipt.seller_id is None and match.seller_id is not None:
            receipt.seller_id, receipt.identify_entry_id = match.seller_id, next(entry_ids)
        for invoice, amount, rule in match.applications:
            applications.append((receipt.pk, invoice.pk, amount, rule, next(entry_ids), _user_id(user), now, "", None))
            receipt.amount_unapplied -= amount
            touched[invoice.pk] = invoice
        receipt_refresh_status(receipt)
    try:
        with transaction.atomic():
            rows_insert(
                model=Receipt,
                fields=list(_NewReceipt.COLUMNS),
                rows=list(map(attrgetter(*_NewReceipt.COLUMNS), receipts)),
            )
    except IntegrityError as exc:
        raise _recorded_meanwhile(market, [r.bank_reference for r in receipts]) or exc from None
    history_snapshot(model=Receipt, ids=[r.pk for r in receipts], history_type="+", actor=user)
    rows_insert(model=ReceiptApplication, fields=APPLICATION_COLUMNS, rows=applications)
    _invoices_write(list(touched.values()), actor=user)
    return receipts


# What a statement import writes of each application (the rest of the columns are NULL).
APPLICATION_COLUMNS = [
    "receipt_id",
    "invoice_id",
    "amount",
    "rule",
    "entry_id",
    "applied_by_id",
    "applied_at",
    "reversal_reason",
    "reversed_at",
]


def _statement_match(*, market: Market, rows: list[dict], sellers: dict) -> tuple[list, list[_Match]]:
    """Each line's payer (None: unknown) and `_match` decision, in file order, on the sellers and
    invoices locked here: the sellers any line may end up with, then in one query the invoices
    the lines name and the open bank-collected invoices of those sellers."""
    currency = market.currency
    numbers = [_invoice_numbers(row["reference"]) for row in rows]
    named_numbers = sorted({n for line in numbers for n in line})
    invoice_sellers = {
        number: (seller_id, kind == Invoice.Kind.INVOICE and invoice_currency == currency)
        for number, seller_id, kind, invoice_currency in Invoice.objects.filter(
            AnyOf(F("number"), named_numbers), market=market
        ).values_list("number", "seller_id", "kind", "currency")
    }
    codes = cache(lambda: SellerCodes(sellers.values()))

    def sellers_of_numbers(line_numbers):
        return {invoice_sellers[n][0] for n in line_numbers if n in invoice_sellers}

    payers = [
        row["seller_id"] or _payer_of(row["reference"], sellers_of_numbers=sellers_of_numbers, codes=codes)
        for row in rows
    ]
    # A line ends up with its payer, or with the seller of the invoices it names (rule 1).
    seller_ids = locks.sellers_lock_ids(
        {p for p in payers if p} | {s for s, matchable in invoice_sellers.values() if matchable}
    )
    invoices = [
        _OpenInvoice(*values)
        for values in locks.matchable_invoices_lock(
            market_id=market.pk,
            currency=currency,
            numbers=named_numbers,
            seller_ids=seller_ids,
            columns=_OpenInvoice.COLUMNS,
        )
    ]
    by_number = {i.number: i for i in invoices}
    open_by_seller = defaultdict(list)
    for invoice in invoices:
        if invoice.is_open and invoice.collection == Invoice.Collection.BANK:
            open_by_seller[invoice.seller_id].append(invoice)

    matches = []
    for row, line_numbers, payer in zip(rows, numbers, payers, strict=True):
        match = _match(
            seller_id=payer,
            unapplied=row["amount"],
            numbers=line_numbers,
            named=[by_number[n] for n in line_numbers if n in by_number],
            payer=lambda payer=payer: payer,
            candidates=lambda seller_id: open_by_seller.get(seller_id, ()),
        )
        for invoice, amount, _ in match.applications:
            invoice.pay(amount)
        matches.append(match)
    return payers, matches


def _statement_entries(*, market: Market, receipts: list[_NewReceipt], matches, sellers: dict, actor) -> list:
    """The entries of a statement in the order the line-by-line path posts them: every receipt,
    then each line's identification (payer found only by rule 1) and applications."""
    today = market.local_date()
    bank = market_account(market, AccountKind.BANK)
    unidentified = market_account(market, AccountKind.SELLER_UNAPPLIED_CASH)
    unapplied = accounts_for(
        market=market,
        kind=AccountKind.SELLER_UNAPPLIED_CASH,
        party_type=PartyType.SELLER,
        party_ids={m.seller_id for m in matches if m.seller_id},
    )
    receivable = accounts_for(
        market=market,
        kind=AccountKind.SELLER_RECEIVABLE,
        party_type=PartyType.SELLER,
        party_ids={m.seller_id for m in matches if m.applications},
    )
    specs = [
        _receipt_entry(
            market=market,
            receipt=r,
            bank=bank,
            unapplied=unapplied[r.seller_id] if r.seller_id else unidentified,
            actor=actor,
        )
        for r in receipts
    ]
    code_of = {pk: code for pk, code in sellers.values()}
    for receipt, match in zip(receipts, matches, strict=True):
        if receipt.seller_id is None and match.seller_id is not None:
            if match.seller_id not in code_of:
                raise DomainError(
                    f"Line {receipt.bank_reference} names invoices of a seller of another market.", field="reference"
                )
            specs.append(
                _identify_entry(
                    market=market,
                    receipt=receipt,
                    amount=receipt.amount,
                    seller_code=code_of[match.seller_id],
                    unidentified=unidentified,
                    unapplied=unapplied[match.seller_id],
                    on=today,
                    actor=actor,
                )
            )
        for invoice, amount, _ in match.applications:
            specs.append(
                application_entry(
                    market=market,
                    receipt=receipt,
                    invoice=invoice,
                    amount=amount,
                    nth=1,  # a new receipt pays each invoice once
                    unapplied=unapplied[match.seller_id],
                    receivable=receivable[match.seller_id],
                    on=today,
                    actor=actor,
                )
            )
    return specs


def _user_id(user):
    return user.pk if user is not None else None


def _invoices_write(invoices: list[_OpenInvoice], *, actor) -> None:
    """The paid invoices' open amounts and statuses in one UPDATE, their history, and the payout
    deductions of payout-collected ones (what application_post does per application)."""
    if not invoices:
        return
    invoices_refresh_status(invoices)
    # The arrays go in as subqueries: told their length, the planner hashes the whole invoice
    # table (seq scan, spilling to disk) once they are a few percent of it; by primary key each
    # row is found at once, which is always right when every row found is then rewritten.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {Invoice._meta.db_table} AS i SET amount_open = v.amount_open, status = v.status
            FROM unnest((SELECT %s::bigint[]), (SELECT %s::numeric[]), (SELECT %s::text[]))
                AS v(id, amount_open, status)
            WHERE i.id = v.id
            """,
            [
                pg_array(i.pk for i in invoices),
                pg_array(i.amount_open for i in invoices),
                pg_array(i.status for i in invoices),
            ],
        )
    history_snapshot(model=Invoice, ids=[i.pk for i in invoices], history_type="~", actor=actor)
    deductions_sync([i for i in invoices if i.collection == Invoice.Collection.PAYOUT])


# --- Matching one receipt ------------------------------------------------------------------------


def _identify(*, actor, receipt: Receipt, seller: Seller) -> None:
    """Move an unidentified receipt's cash to the seller's unapplied cash (receipt locked)."""
    if receipt.seller_id is not None:
        if receipt.seller_id != seller.pk:
            raise DomainError(
                f"The receipt belongs to seller {receipt.seller.code}.", code="wrong_seller", field="seller"
            )
        return
    if seller.market_id != receipt.market_id:
        raise DomainError(f"Seller {seller.code} is not in market {receipt.market_id}.", field="seller")
    market = receipt.market
    [receipt.identify_entry] = ledger_post_many(
        entries=[
            _identify_entry(
                market=market,
                receipt=receipt,
                amount=receipt.amount_unapplied,
                seller_code=seller.code,
                unidentified=market_account(market, AccountKind.SELLER_UNAPPLIED_CASH),
                unapplied=seller_account(market, AccountKind.SELLER_UNAPPLIED_CASH, seller.pk),
                on=market.local_date(),
                actor=actor,
            )
        ]
    )
    receipt.seller = seller
    receipt.save(update_fields=["seller", "identify_entry"])


def _open_invoices(receipt: Receipt, seller_id: int):
    return Invoice.objects.filter(
        market_id=receipt.market_id,
        seller_id=seller_id,
        currency=receipt.currency,
        kind=Invoice.Kind.INVOICE,
        status__in=Invoice.OPEN_STATUSES,
        collection=Invoice.Collection.BANK,
    )


def receipt_match(*, actor, receipt: Receipt) -> list[ReceiptApplication]:
    """Apply a receipt by the rules in the module docstring (runs in the caller's transaction)."""
    receipt = locks.receipt_lock(receipt.pk)
    if receipt.amount_unapplied == 0 or receipt.status == Receipt.Status.REVERSED:
        return []
    numbers = _invoice_numbers(receipt.reference)
    named = []
    if numbers:
        named = locks.invoices_lock(
            Invoice.objects.filter(
                market_id=receipt.market_id, currency=receipt.currency, number__in=numbers, kind=Invoice.Kind.INVOICE
            ).values_list("pk", flat=True)
        )
    match = _match(
        seller_id=receipt.seller_id,
        unapplied=receipt.amount_unapplied,
        numbers=numbers,
        named=named,
        payer=lambda: _payer_id(market=receipt.market, reference=receipt.reference),
        candidates=lambda seller_id: locks.invoices_lock(
            _open_invoices(receipt, seller_id).values_list("pk", flat=True)
        ),
    )
    if match.seller_id is None:
        return []
    if receipt.seller_id is None:
        _identify(actor=actor, receipt=receipt, seller=Seller.objects.get(pk=match.seller_id))
    return [
        application_post(actor=actor, receipt=receipt, invoice=invoice, amount=amount, rule=rule)
        for invoice, amount, rule in match.applications
    ]


# --- People working the queue ----------------------------------------------------------------------


@retry_on_conflict
@transaction.atomic(durable=True)
def receipt_apply(*, actor, receipt: Receipt, invoice: Invoice, amount=None) -> ReceiptApplication:
    """Apply (part of) a receipt to an invoice by hand. An unidentified receipt takes the
    invoice's seller. `amount` defaults to the smaller of the unapplied and the open amount.
    Raises DomainError when the receipt or invoice cannot take the amount (e.g. a second clerk
    applied the same money a moment earlier)."""
    receipt = locks.receipt_lock(receipt.pk)
    if receipt.status == Receipt.Status.REVERSED:
        raise DomainError("The receipt was reversed.", code="reversed")
    invoice = locks.invoice_lock(invoice.pk)
    if invoice.market_id != receipt.market_id:
        raise DomainError(f"{invoice.number} is not an invoice of market {receipt.market_id}.", field="invoice")
    _identify(actor=actor, receipt=receipt, seller=invoice.seller)
    if amount in (None, ""):
        amount = min(receipt.amount_unapplied, invoice.amount_open)
        if amount <= 0:
            raise DomainError("Nothing left to apply.", code="nothing_to_apply")
    amount = _validate_amount(amount, receipt.currency)
    application = application_post(
        actor=actor, receipt=receipt, invoice=invoice, amount=amount, rule=ReceiptApplication.Rule.MANUAL
    )
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="receipt_apply",
        obj=application,
        detail={"receipt": receipt.bank_reference, "invoice": invoice.number, "amount": str(amount)},
    )
    return application


@retry_on_conflict
@transaction.atomic(durable=True)
def receipt_identify(*, actor, receipt: Receipt, seller: Seller, auto_match: bool = True) -> Receipt:
    """Name the seller of an unmatched receipt; then match it by rules 2 and 3 (unless told not to)."""
    receipt = locks.receipt_lock(receipt.pk)
    if receipt.status == Receipt.Status.REVERSED:
        raise DomainError("The receipt was reversed.", code="reversed")
    _identify(actor=actor, receipt=receipt, seller=seller)
    if auto_match:
        receipt_match(actor=actor, receipt=receipt)
        receipt.refresh_from_db()
    audit_record(
        kind=AuditEvent.Kind.ACTION, actor=actor, action="receipt_identify", obj=receipt, detail={"seller": seller.code}
    )
    return receipt


def _application_reverse(*, actor, application: ReceiptApplication, reason: str, receipt: Receipt) -> None:
    invoice = locks.invoice_lock(application.invoice_id)
    application = ReceiptApplication.objects.select_for_update().get(pk=application.pk)
    if application.is_reversed:
        raise ConflictError("This application was already reversed.", code="already_reversed")
    application.reversal_entry = ledger_reverse(
        entry=application.entry, reason=reason, actor=actor, entry_date=invoice.market.local_date()
    )
    application.reversed_at, application.reversed_by, application.reversal_reason = timezone.now(), actor, reason[:255]
    application.save(update_fields=["reversal_entry", "reversed_at", "reversed_by", "reversal_reason"])
    receipt.amount_unapplied += application.amount
    receipt_refresh_status(receipt)
    receipt.save(update_fields=["amount_unapplied", "status"])
    invoice.amount_open += application.amount
    invoice_refresh_status(invoice)
    invoice.save(update_fields=["amount_open", "status"])
    deduction_sync(invoice)


@retry_on_conflict
@transaction.atomic(durable=True)
def application_reverse(*, actor, application: ReceiptApplication, reason: str) -> ReceiptApplication:
    """Undo a wrong application: post the mirror entry, reopen the invoice, give the money back to
    the receipt's unapplied amount (to be applied again). Reversing twice is a ConflictError."""
    if not reason.strip():
        raise DomainError("Say why the application is reversed.", field="reason")
    receipt = locks.receipt_lock(application.receipt_id)
    _application_reverse(actor=actor, application=application, reason=reason, receipt=receipt)
    application.refresh_from_db()
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="application_reverse",
        obj=application,
        detail={
            "receipt": receipt.bank_reference,
            "invoice": application.invoice.number,
            "amount": str(application.amount),
            "reason": reason[:255],
        },
    )
    return application


@retry_on_conflict
@transaction.atomic(durable=True)
def receipt_reverse(*, actor, receipt: Receipt, reason: str) -> Receipt:
    """Reverse a receipt that should never have been recorded (e.g. the bank recalled it): its
    applications, its identification and the receipt entry itself, each by a mirror entry."""
    if not reason.strip():
        raise DomainError("Say why the receipt is reversed.", field="reason")
    receipt = locks.receipt_lock(receipt.pk)
    if receipt.status == Receipt.Status.REVERSED:
        raise ConflictError("The receipt was already reversed.", code="already_reversed")
    for application in receipt.applications.filter(reversed_at__isnull=True).order_by("invoice_id"):
        _application_reverse(actor=actor, application=application, reason=reason, receipt=receipt)
    on = receipt.market.local_date()
    if receipt.identify_entry_id:
        ledger_reverse(entry=receipt.identify_entry, reason=reason, actor=actor, entry_date=on)
    ledger_reverse(entry=receipt.entry, reason=reason, actor=actor, entry_date=on)
    receipt.status, receipt.amount_unapplied = Receipt.Status.REVERSED, Decimal(0)
    receipt.save(update_fields=["status", "amount_unapplied"])
    audit_record(
        kind=AuditEvent.Kind.ACTION, actor=actor, action="receipt_reverse", obj=receipt, detail={"reason": reason[:255]}
    )
    return receipt
