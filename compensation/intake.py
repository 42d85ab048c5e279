"""Compensation intake: the bulk JSON API and CSV/xlsx uploads share one validation.

Rules (issue 15):
- Idempotent by (market, external id): re-sending the same request changes nothing; re-sending it
  with other values updates it while it is not audited yet, and is refused once it is (an audited
  request is evidence; correct it with a new request).
- The API stores the accepted records and reports each rejected one as {"index", "field",
  "reason"}; a file is all or nothing (`parse_upload` + `requests_intake(all_or_nothing=True)`).
- The buyer reference is a pseudonym: anything that looks like an e-mail address, a phone
  number or a person's name is refused, and so is a note that carries an e-mail or a phone.
- The amount is in the market's currency, > 0, with no more decimals than the currency has.

The per-record loop is validation of one request (at most MAX_RECORDS); the writes are bulk.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing.models import Shipment
from settlement_ops import uploads
from settlement_ops.bulk_intake import IntakeResult, RecordRejected, record_text
from settlement_ops.errors import DomainError
from settlement_ops.models import AuditEvent, Market
from settlement_ops.money import is_quantized, to_decimal
from settlement_ops.services import audit_record

from .models import CompensationRequest, Instrument, Reason, Verdict

MAX_RECORDS = 10_000
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_EVIDENCE = 20
# The header row counts as a row; the file is all or nothing, so MAX_RECORDS rows at most.
COMPENSATION_UPLOAD_LIMITS = uploads.UploadLimits(
    max_rows=MAX_RECORDS + 1, max_columns=64, max_bytes=MAX_FILE_BYTES, seconds=60
)
FLOAT_REASON = 'must be sent as a decimal string such as "12.50", not a JSON number with a fraction'

COLUMNS = [
    "market",
    "external_id",
    "order_number",
    "tracking_number",
    "buyer_reference",
    "instrument",
    "reason",
    "amount",
    "currency",
    "item_value",
    "agent",
    "team",
    "issued_at",
    "evidence",
    "note",
]
REQUIRED_COLUMNS = {
    "market",
    "external_id",
    "order_number",
    "buyer_reference",
    "instrument",
    "reason",
    "amount",
    "agent",
    "issued_at",
}
# Fields compared to decide "unchanged" vs "updated" on a re-sent request.
VALUE_FIELDS = [
    "order_number",
    "tracking_number",
    "shipment_id",
    "buyer_reference",
    "instrument",
    "reason",
    "currency",
    "amount",
    "item_value",
    "agent",
    "team",
    "issued_at",
    "evidence",
    "note",
]

EMAIL_RE = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
# A run of 7+ digits, optionally separated by spaces, dots, dashes or parentheses, maybe with +.
PHONE_RE = re.compile(r"(?:\+|00)?\d(?:[\s().-]*\d){6,}")
PSEUDONYM_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{3,63}$")


def _text(record: dict, name: str, *, required: bool = True, max_length: int = 64, aliases=()) -> str:
    return record_text(record, name, required=required, max_length=max_length, aliases=aliases)


def _money(record: dict, name: str, currency: str, *, required: bool, allow_zero: bool = False) -> Decimal | None:
    value = record.get(name)
    if value is None or value == "":
        if required:
            raise RecordRejected(name, "is required")
        return None
    try:
        number = to_decimal(value)
    except TypeError:
        raise RecordRejected(name, FLOAT_REASON if isinstance(value, float) else "must be a number") from None
    except ValueError:
        raise RecordRejected(name, f"{value!r} is not a number") from None
    if number < 0 or (number == 0 and not allow_zero):
        raise RecordRejected(name, "must not be negative" if allow_zero else "must be greater than zero")
    if not is_quantized(number, currency):
        raise RecordRejected(name, f"has more decimals than {currency} allows")
    if number >= Decimal("1e15"):
        raise RecordRejected(name, "is too large")
    return number


def _choice(record: dict, name: str, choices) -> str:
    value = _text(record, name, max_length=20).lower()
    if value not in choices.values:
        raise RecordRejected(name, f"unknown {name} {value!r}; use one of {', '.join(choices.values)}")
    return value


def _moment(record: dict, name: str) -> datetime:
    value = record.get(name)
    if value in (None, ""):
        raise RecordRejected(name, "is required")
    if isinstance(value, datetime):  # xlsx cells
        moment = value
    else:
        try:
            moment = parse_datetime(str(value).strip())
        except ValueError:
            moment = None
        if moment is None:
            raise RecordRejected(name, f"{value!r} is not an ISO 8601 date-time such as 2026-11-03T14:05:00Z")
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)  # naive times are UTC
    if moment > timezone.now() + timedelta(minutes=5):
        raise RecordRejected(name, "is in the future")
    return moment


def pseudonym_problem(value: str) -> str | None:
    """Why a buyer reference is not a pseudonym, or None."""
    if EMAIL_RE.search(value):
        return "looks like an e-mail address; send the buyer's pseudonymous id, never personal data"
    if PHONE_RE.search(value) and sum(ch.isdigit() for ch in value) >= 0.7 * len(value.replace(" ", "")):
        return "looks like a phone number; send the buyer's pseudonymous id, never personal data"
    if re.fullmatch(r"[^\W\d_]+(?:[ '-][^\W\d_]+)+", value):
        return "looks like a person's name; send the buyer's pseudonymous id, never personal data"
    if not PSEUDONYM_RE.match(value):
        return "must be 4-64 letters, digits or _ . : - (a pseudonymous id such as B-7f3a9c)"
    return None


def _evidence(record: dict) -> list[str]:
    raw = record.get("evidence")
    if raw in (None, ""):
        return []
    if isinstance(raw, str):
        items = [item.strip() for item in raw.split(";")]
    elif isinstance(raw, list):
        items = raw
    else:
        raise RecordRejected("evidence", "must be a list of references (or ';'-separated text in a file)")
    refs = []
    for position, item in enumerate(items):
        if not isinstance(item, str):
            raise RecordRejected(f"evidence[{position}]", "must be text")
        item = item.strip()
        if not item:
            continue
        if len(item) > 200:
            raise RecordRejected(f"evidence[{position}]", "is longer than 200 characters")
        if EMAIL_RE.search(item):
            raise RecordRejected(
                f"evidence[{position}]", "contains an e-mail address; reference the evidence, not the person"
            )
        refs.append(item)
    if len(refs) > MAX_EVIDENCE:
        raise RecordRejected("evidence", f"at most {MAX_EVIDENCE} references")
    return refs


class _Lookups:
    """Markets and the shipments a batch names, loaded in two queries."""

    def __init__(self, records):
        self.markets = {m.code: m for m in Market.objects.filter(is_active=True)}
        trackings = {
            str(r.get("tracking_number")).strip()
            for r in records
            if isinstance(r, dict) and r.get("tracking_number") not in (None, "")
        }
        self.shipments: dict[tuple[str, str], int] = {}
        for row in (
            Shipment.objects.filter(tracking_number__in=trackings)
            .order_by("-id")
            .values_list("market_id", "tracking_number", "id")
        ):
            self.shipments[(row[0], row[1])] = row[2]


def _clean(record, lookups: _Lookups) -> dict:
    """One record -> CompensationRequest field values, or RecordRejected naming the field."""
    if not isinstance(record, dict):
        raise RecordRejected("record", "must be an object")
    market_code = _text(record, "market", max_length=2).upper()
    market = lookups.markets.get(market_code)
    if market is None:
        raise RecordRejected("market", f"unknown market {market_code!r}")
    currency = _text(record, "currency", required=True, max_length=3).upper()
    if currency != market.currency:
        raise RecordRejected("currency", f"market {market.code} compensates in {market.currency}, not {currency}")
    buyer = _text(record, "buyer_reference")
    problem = pseudonym_problem(buyer)
    if problem:
        raise RecordRejected("buyer_reference", problem)
    note = _text(record, "note", required=False, max_length=2000)
    if EMAIL_RE.search(note) or PHONE_RE.search(note):
        raise RecordRejected("note", "contains an e-mail address or a phone number; keep personal data out of notes")
    tracking = _text(record, "tracking_number", required=False)
    return {
        "market_id": market.code,
        "external_id": _text(record, "external_id"),
        "order_number": _text(record, "order_number"),
        "tracking_number": tracking,
        "shipment_id": lookups.shipments.get((market.code, tracking)) if tracking else None,
        "buyer_reference": buyer,
        "instrument": _choice(record, "instrument", Instrument),
        "reason": _choice(record, "reason", Reason),
        "currency": currency,
        "amount": _money(record, "amount", currency, required=True),
        "item_value": _money(record, "item_value", currency, required=False, allow_zero=True),
        "agent": _text(record, "agent"),
        "team": _text(record, "team", required=False),
        "issued_at": _moment(record, "issued_at"),
        "evidence": _evidence(record),
        "note": note,
    }


def requests_validate(records) -> list[dict]:
    """The rejections a batch would get, without writing anything (the upload preview)."""
    if not isinstance(records, list):
        raise DomainError("Send a list of compensation requests.", code="not_a_list", field="records")
    lookups = _Lookups(records)
    rejected, seen = [], {}
    for index, record in enumerate(records):
        try:
            values = _clean(record, lookups)
        except RecordRejected as reject:
            rejected.append({"index": index, "field": reject.field, "reason": reject.reason})
            continue
        key = (values["market_id"], values["external_id"])
        if key in seen:
            rejected.append(
                {"index": index, "field": "external_id", "reason": f"duplicate of record {seen[key]} in this file"}
            )
        seen.setdefault(key, index)
    return rejected


def _same(a, b) -> bool:
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return (a is None and b is None) or (a is not None and b is not None and Decimal(a) == Decimal(b))
    return a == b


def requests_intake(*, records, actor=None, source: str = "api", all_or_nothing: bool = False) -> IntakeResult:
    """Validate and store compensation requests, idempotent by (market, external id).

    Args:
        records: list of dicts (API JSON, parsed file rows).
        actor: who pushes them (audit log, created_by).
        source: "api", "csv" or "xlsx".
        all_or_nothing: a file: any rejected record stores nothing (the result still lists them).
    Returns IntakeResult: counts and `rejected` [{index, field, reason}] (index 0-based).
    Raises DomainError when the batch itself is unusable (not a list, too many records).
    """
    if not isinstance(records, list):
        raise DomainError("Send a JSON list of compensation requests.", code="not_a_list", field="records")
    if len(records) > MAX_RECORDS:
        raise DomainError(f"At most {MAX_RECORDS} requests per batch; split it.", code="too_many", field="records")
    lookups = _Lookups(records)
    result = IntakeResult()
    cleaned: dict[tuple[str, str], tuple[int, dict]] = {}
    for index, record in enumerate(records):
        try:
            values = _clean(record, lookups)
        except RecordRejected as reject:
            result.rejected.append({"index": index, "field": reject.field, "reason": reject.reason})
            continue
        key = (values["market_id"], values["external_id"])
        result.keep_once(
            cleaned, key, index, values, field_name="external_id", what="same market and external id", within="batch"
        )
    if cleaned and not (all_or_nothing and result.rejected):
        for attempt in range(3):
            try:
                created, updated, unchanged, refused = _upsert(cleaned, actor, all_or_nothing, source)
                break
            except IntegrityError:
                # A concurrent batch inserted one of our new requests: the next pass sees it.
                if attempt == 2:
                    raise
        result.rejected.extend(refused)
        if not (all_or_nothing and refused):
            result.created, result.updated, result.unchanged = created, updated, unchanged
            result.accepted = created + updated + unchanged
    result.rejected.sort(key=lambda r: r["index"])
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="compensation_requests_intake",
        detail={
            "source": source,
            "accepted": result.accepted,
            "created": result.created,
            "updated": result.updated,
            "rejected": len(result.rejected),
        },
    )
    return result


class _RollBack(Exception):
    pass


def _upsert(cleaned, actor, all_or_nothing: bool, source: str) -> tuple[int, int, int, list]:
    refused: list = []
    try:
        with transaction.atomic():
            counts = _write(cleaned, actor, refused, source)
            if all_or_nothing and refused:
                raise _RollBack
    except _RollBack:
        return 0, 0, 0, refused
    return (*counts, refused)


def _write(cleaned, actor, refused: list, source: str) -> tuple[int, int, int]:
    existing: dict[tuple[str, str], CompensationRequest] = {}
    keys = list(cleaned)
    for start in range(0, len(keys), 2000):
        part = keys[start : start + 2000]
        rows = (
            CompensationRequest.objects.filter(market_id__in={k[0] for k in part}, external_id__in={k[1] for k in part})
            .order_by("pk")
            .select_for_update()
        )
        for row in rows:
            existing[(row.market_id, row.external_id)] = row
    to_create, to_update, unchanged = [], [], 0
    user = actor if getattr(actor, "pk", None) else None
    for key, (index, values) in cleaned.items():
        row = existing.get(key)
        if row is None:
            to_create.append(CompensationRequest(**values, source=source, created_by=user))
            continue
        changed = [name for name in VALUE_FIELDS if not _same(getattr(row, name), values[name])]
        if not changed:
            unchanged += 1
        elif row.verdict != Verdict.PENDING:
            refused.append(
                {
                    "index": index,
                    "field": changed[0],
                    "reason": f"request {row.external_id} was already audited ({row.get_verdict_display()}) "
                    "and cannot change; send a correction as a new request",
                }
            )
        else:
            for name in VALUE_FIELDS:
                setattr(row, name, values[name])
            to_update.append(row)
    CompensationRequest.objects.bulk_create(to_create, batch_size=1000)
    if to_update:
        CompensationRequest.objects.bulk_update(to_update, VALUE_FIELDS, batch_size=1000)
    return len(to_create), len(to_update), unchanged


# --- Files ---------------------------------------------------------------------------------------


def parse_upload(*, filename: str, data: bytes) -> list[dict]:
    """A CSV (UTF-8) or xlsx file -> records for requests_intake (header row names the columns).

    Read by the guarded reader (settlement_ops.uploads): the type is judged by the content, rows
    are streamed within COMPENSATION_UPLOAD_LIMITS whatever an xlsx declares. Raises DomainError
    for a file that is too big, of another type, unreadable, or that lacks required columns.
    """
    kind = _file_kind(filename, data)
    rows = uploads.rows(data, kind=kind, limits=COMPENSATION_UPLOAD_LIMITS)
    try:
        _, header = next(rows)
    except StopIteration:
        raise DomainError("The file is empty.", code="empty_file", field="file") from None
    header = [str(h or "").strip().lower() for h in header]
    missing = sorted(REQUIRED_COLUMNS - set(header))
    if missing:
        raise DomainError(f"The header lacks column(s): {', '.join(missing)}", code="bad_header", field="header")
    records = []
    for _, raw in rows:
        if not any(v not in (None, "") for v in raw):
            continue
        record = {}
        for name, value in zip(header, raw, strict=False):
            if not name:
                continue
            if isinstance(value, float):
                # xlsx numbers arrive as floats: their shortest repr is the decimal the cell shows.
                value = repr(value) if value != int(value) else str(int(value))
            elif isinstance(value, int):
                value = str(value)
            elif isinstance(value, datetime):
                value = value.isoformat()  # kept as JSON between preview and confirmation
            record[name] = value.strip() if isinstance(value, str) else value
        records.append(record)
        if len(records) > MAX_RECORDS:
            raise DomainError(f"At most {MAX_RECORDS} requests per file; split it.", code="too_many", field="file")
    return records


def _file_kind(filename: str, data: bytes) -> str:
    """uploads.CSV or uploads.XLSX, by content; this door's CSV must be UTF-8."""
    name = (filename or "").lower()
    try:
        kind = uploads.file_kind(content=data, filename=filename, limits=COMPENSATION_UPLOAD_LIMITS)
    except DomainError as exc:
        if exc.code == "bad_file_type" and name.endswith(".xlsx") and not data.startswith(b"PK\x03\x04"):
            raise _not_a_workbook() from None
        if exc.code == "bad_file_type" and name.endswith(".csv") and not _is_utf8(data):
            raise _not_utf8() from None
        raise
    if kind == uploads.CSV and not _is_utf8(data):
        raise _not_utf8()
    return kind


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return True


def _not_utf8() -> DomainError:
    return DomainError("The file is not UTF-8 text.", code="bad_encoding", field="file")


def _not_a_workbook() -> DomainError:
    return DomainError("The file is not a readable .xlsx workbook.", code="bad_file", field="file")
