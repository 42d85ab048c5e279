"""Shipment intake: bulk JSON, CSV upload and admin import share one validating upsert.

Rules (issue 3):
- Idempotent by (vendor, tracking number): re-sending a shipment updates it, never duplicates it;
  re-sending the same status event is a no-op.
- Every record is validated on its own; each rejected record comes back as
  {"index", "field", "reason"} and the accepted ones are stored all the same (one transaction for
  the accepted set, so they are stored together or — on a database error — not at all).
- A change to a rating input of a stored shipment bumps its `revision`, which makes the next
  billing run re-rate it and post only the difference.

The per-record loop here is validation of one request (at most MAX_RECORDS); the writes are
set-based: COPY into staging tables, then one statement each for new shipments, changed
shipments and events (`_upsert`).
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from sellers.models import Seller
from settlement_ops import uploads
from settlement_ops.bulk_intake import IntakeResult, RecordRejected
from settlement_ops.errors import DomainError
from settlement_ops.models import AuditEvent, Market
from settlement_ops.money import is_quantized, to_decimal
from settlement_ops.services import audit_record
from vendors.models import Vendor

from .models import Shipment, ShipmentEvent

MAX_RECORDS = 10_000
MAX_CSV_BYTES = 20 * 1024 * 1024
# A shipment CSV: the header and at most MAX_RECORDS shipments.
SHIPMENT_CSV_LIMITS = uploads.UploadLimits(max_rows=MAX_RECORDS + 1, max_columns=40, max_bytes=MAX_CSV_BYTES)
MAX_WEIGHT_KG = Decimal("10000")
MAX_DIMENSION_CM = Decimal("1000")
STATUS_VALUES = {value for value, _ in Shipment.Status.choices}
# Amounts, weights and dimensions travel as decimal strings ("1.50"): a JSON number with a fraction
# is a binary float, which cannot hold most decimals exactly.
FLOAT_REASON = 'must be sent as a decimal string such as "1.50", not a JSON number with a fraction'

CSV_COLUMNS = [
    "tracking_number",
    "vendor",
    "seller",
    "market",
    "service",
    "origin_zone",
    "destination_zone",
    "actual_weight_kg",
    "length_cm",
    "width_cm",
    "height_cm",
    "cod_amount",
    "currency",
    "ship_date",
    "delivered_date",
    "status",
    "status_at",
]
REQUIRED_CSV_COLUMNS = {
    "tracking_number",
    "vendor",
    "seller",
    "service",
    "origin_zone",
    "destination_zone",
    "ship_date",
}


def _text(record: dict, name: str, *, required: bool = True, max_length: int = 30, aliases=()) -> str:
    value = record.get(name)
    for alias in aliases:
        if value in (None, ""):
            value = record.get(alias)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RecordRejected(name, "is required")
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise RecordRejected(name, "must be text")
    value = str(value).strip()
    if len(value) > max_length:
        raise RecordRejected(name, f"is longer than {max_length} characters")
    return value


def _decimal(record: dict, name: str, *, maximum: Decimal | None = None, allow_zero: bool = False) -> Decimal | None:
    value = record.get(name)
    if value is None or value == "":
        return None
    try:
        # The one money conversion (settlement_ops.money): it refuses floats, so a JSON number with
        # a fraction (1.5 parses as a binary float) is refused as in vendor-invoice intake.
        number = to_decimal(value)
    except TypeError:
        raise RecordRejected(name, FLOAT_REASON if isinstance(value, float) else "must be a number") from None
    except ValueError:
        raise RecordRejected(name, f"{value!r} is not a number") from None
    if number < 0 or (number == 0 and not allow_zero):
        raise RecordRejected(name, "must be greater than zero" if not allow_zero else "must not be negative")
    if maximum is not None and number > maximum:
        raise RecordRejected(name, f"must be at most {maximum}")
    return number


def _places(number: Decimal | None, places: int, name: str) -> Decimal | None:
    if number is not None and number != number.quantize(Decimal(1).scaleb(-places)):
        raise RecordRejected(name, f"has more than {places} decimals")
    return number


def _date(record: dict, name: str, *, required: bool) -> date | None:
    value = record.get(name)
    if value in (None, ""):
        if required:
            raise RecordRejected(name, "is required")
        return None
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise RecordRejected(name, f"{value!r} is not a YYYY-MM-DD date") from None


def _moment(value, name: str) -> datetime:
    try:
        moment = parse_datetime(str(value).strip())
    except ValueError:
        moment = None
    if moment is None:
        raise RecordRejected(name, f"{value!r} is not an ISO 8601 date-time")
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)  # naive times are UTC
    return moment


def _events(record: dict) -> list[tuple[str, datetime]]:
    events = []
    raw = record.get("events")
    if raw not in (None, ""):
        if not isinstance(raw, list):
            raise RecordRejected("events", "must be a list of {status, at}")
        for position, item in enumerate(raw):
            if not isinstance(item, dict):
                raise RecordRejected(f"events[{position}]", "must be an object with status and at")
            status = str(item.get("status") or "").strip()
            if status not in STATUS_VALUES:
                raise RecordRejected(f"events[{position}].status", f"unknown status {status!r}")
            events.append((status, _moment(item.get("at"), f"events[{position}].at")))
    status = record.get("status")
    if status not in (None, ""):
        status = str(status).strip()
        if status not in STATUS_VALUES:
            raise RecordRejected("status", f"unknown status {status!r}; use one of {', '.join(sorted(STATUS_VALUES))}")
        at = record.get("status_at")
        if at not in (None, ""):
            events.append((status, _moment(at, "status_at")))
        elif not events:
            events.append((status, None))
    return events


def _nul_field(value, name: str = "") -> str | None:
    """The first field (dotted path) whose text holds a NUL character, which PostgreSQL refuses."""
    if isinstance(value, str):
        return name if "\x00" in value else None
    if isinstance(value, dict):
        items = ((f"{name}.{key}" if name else str(key), item) for key, item in value.items())
    elif isinstance(value, list):
        items = ((f"{name}[{position}]", item) for position, item in enumerate(value))
    else:
        return None
    for child_name, item in items:
        if "\x00" in child_name:
            return child_name.replace("\x00", "\\0")
        found = _nul_field(item, child_name)
        if found is not None:
            return found
    return None


def _code_set(records, name: str) -> set[str]:
    codes = (str(r.get(name)).strip() for r in records if isinstance(r, dict) and r.get(name))
    return {code for code in codes if "\x00" not in code}


class _Lookups:
    """Vendors, sellers and markets referenced by a batch, loaded in three queries."""

    def __init__(self, records):
        vendor_codes = _code_set(records, "vendor")
        seller_codes = _code_set(records, "seller")
        self.vendors = {v.code: v for v in Vendor.objects.filter(code__in=vendor_codes)}
        self.sellers = {s.code: s for s in Seller.objects.filter(code__in=seller_codes)}
        self.markets = {m.code: m for m in Market.objects.all()}


def _clean(record, lookups: _Lookups) -> dict:
    """One record -> the Shipment field values and its events, or RecordRejected naming the field."""
    if not isinstance(record, dict):
        raise RecordRejected("record", "must be an object")
    # repr() spells a NUL as \x00: one C call rules out almost every record before the walk.
    nul_field = _nul_field(record) if "\\x00" in repr(record) else None
    if nul_field is not None:
        raise RecordRejected(nul_field, "contains a NUL character (\\0), which text fields cannot hold")
    tracking = _text(record, "tracking_number", max_length=64)
    vendor_code = _text(record, "vendor")
    vendor = lookups.vendors.get(vendor_code)
    if vendor is None:
        raise RecordRejected("vendor", f"unknown vendor {vendor_code!r}")
    market = lookups.markets[vendor.market_id]
    market_code = _text(record, "market", required=False, max_length=2)
    if market_code and market_code != market.code:
        raise RecordRejected("market", f"vendor {vendor.code} works in market {market.code}, not {market_code}")
    seller_code = _text(record, "seller")
    seller = lookups.sellers.get(seller_code)
    if seller is None:
        raise RecordRejected("seller", f"unknown seller {seller_code!r}")
    if seller.market_id != market.code:
        raise RecordRejected("seller", f"seller {seller.code} belongs to market {seller.market_id}, not {market.code}")
    currency = _text(record, "currency", required=False, max_length=3)
    if currency and currency != market.currency:
        raise RecordRejected("currency", f"market {market.code} uses {market.currency}, not {currency}")
    weight = _places(_decimal(record, "actual_weight_kg", maximum=MAX_WEIGHT_KG), 3, "actual_weight_kg")
    dims = {}
    for name in ("length_cm", "width_cm", "height_cm"):
        dims[name] = _places(_decimal(record, name, maximum=MAX_DIMENSION_CM), 1, name)
    given = [name for name, value in dims.items() if value is not None]
    if given and len(given) != 3:
        missing = next(name for name, value in dims.items() if value is None)
        raise RecordRejected(missing, "give all three dimensions or none")
    cod = _decimal(record, "cod_amount", allow_zero=True) or Decimal("0")
    if not is_quantized(cod, market.currency):
        raise RecordRejected("cod_amount", f"has more decimals than {market.currency} allows")
    ship_date = _date(record, "ship_date", required=True)
    delivered_date = _date(record, "delivered_date", required=False)
    if delivered_date and delivered_date < ship_date:
        raise RecordRejected("delivered_date", "is before the ship date")
    events = _events(record)
    values = {
        "market_id": market.code,
        "vendor_id": vendor.pk,
        "seller_id": seller.pk,
        "tracking_number": tracking,
        "service_level": _text(record, "service", aliases=("service_level",)),
        "origin_zone": _text(record, "origin_zone"),
        "destination_zone": _text(record, "destination_zone"),
        "actual_weight_kg": weight,
        "cod_amount": cod,
        "ship_date": ship_date,
        "delivered_date": delivered_date,
        **dims,
    }
    return {"values": values, "events": events}


def _latest_status(events):
    dated = [e for e in events if e[1] is not None]
    if dated:
        return max(dated, key=lambda e: e[1])[0]
    return events[-1][0] if events else None


UPDATABLE_FIELDS = [
    "market_id",
    "seller_id",
    "service_level",
    "origin_zone",
    "destination_zone",
    "actual_weight_kg",
    "length_cm",
    "width_cm",
    "height_cm",
    "cod_amount",
    "ship_date",
    "delivered_date",
]


def shipments_intake(*, records, actor=None, source: str = "api") -> IntakeResult:
    """Validate and upsert shipments by (vendor, tracking_number).

    Args:
        records: list of dicts (API JSON, parsed CSV rows, admin import).
        actor: the user pushing them (audit log).
        source: "api", "csv", "admin".
    Returns IntakeResult with counts and `rejected` [{index, field, reason}] (index 0-based).
    Raises DomainError when the batch itself is unusable (not a list, too many records).
    """
    if not isinstance(records, list):
        raise DomainError("Send a JSON list of shipments.", code="not_a_list", field="records")
    if len(records) > MAX_RECORDS:
        raise DomainError(
            f"At most {MAX_RECORDS} shipments per request; split the batch.", code="too_many", field="records"
        )
    lookups = _Lookups(records)
    result = IntakeResult()
    cleaned: dict[tuple[int, str], tuple[int, dict]] = {}
    for index, record in enumerate(records):
        try:
            item = _clean(record, lookups)
        except RecordRejected as reject:
            result.rejected.append({"index": index, "field": reject.field, "reason": reject.reason})
            continue
        key = (item["values"]["vendor_id"], item["values"]["tracking_number"])
        if key in cleaned:
            result.rejected.append(
                {
                    "index": index,
                    "field": "tracking_number",
                    "reason": f"duplicate of record {cleaned[key][0]} in this request (same vendor and tracking number)",
                }
            )
            continue
        cleaned[key] = (index, item)
    if cleaned:
        result.created, result.updated, result.unchanged = _upsert(cleaned)
        result.accepted = len(cleaned)
    result.rejected.sort(key=lambda r: r["index"])
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="shipments_intake",
        detail={
            "source": source,
            "accepted": result.accepted,
            "created": result.created,
            "updated": result.updated,
            "rejected": len(result.rejected),
        },
    )
    return result


SHIPMENT = Shipment._meta.db_table
EVENT = ShipmentEvent._meta.db_table
# The staged columns of one record, in COPY order: the updatable fields and the key, then the
# status of the request's latest event (NULL: none sent) and whether it was ever returned.
STAGED = ["vendor_id", "tracking_number", *UPDATABLE_FIELDS, "status", "is_return"]
_RATING_COLUMNS = [f for f in Shipment.RATING_FIELDS if f != "is_return"]
_KEY_JOIN = "s.vendor_id = st.vendor_id AND s.tracking_number = st.tracking_number"
_RATING_CHANGED = " OR ".join(
    [*(f"s.{f} IS DISTINCT FROM st.{f}" for f in _RATING_COLUMNS), "(st.is_return AND NOT s.is_return)"]
)

# The staging tables take their column types from the shipment and event tables; they live until
# the transaction ends (ON COMMIT DROP), and are dropped first when a caller's outer transaction
# already staged a batch.
STAGE_SQL = f"""
    DROP TABLE IF EXISTS pg_temp.shipment_intake_stage, pg_temp.shipment_intake_event_stage;
    CREATE TEMP TABLE shipment_intake_stage ON COMMIT DROP AS
        SELECT {", ".join(STAGED)} FROM {SHIPMENT} WITH NO DATA;
    CREATE TEMP TABLE shipment_intake_event_stage ON COMMIT DROP AS
        SELECT s.vendor_id, s.tracking_number, e.status, e.occurred_at
        FROM {SHIPMENT} s JOIN {EVENT} e ON e.shipment_id = s.id WITH NO DATA;
"""
# New shipments in one INSERT ... SELECT, in key order (concurrent batches take the unique index's
# locks in one order). A key another transaction inserts first is skipped here and updated below:
# the INSERT waits for that transaction, so the UPDATE's later snapshot sees its row. The rows
# inserted here equal their staged values, so the UPDATE below passes over them.
INSERT_NEW_SQL = f"""
    INSERT INTO {SHIPMENT} ({", ".join(UPDATABLE_FIELDS)}, vendor_id, tracking_number, status, is_return,
                            revision, created_at, updated_at)
    SELECT {", ".join(UPDATABLE_FIELDS)}, vendor_id, tracking_number, COALESCE(status, %(created)s), is_return,
           1, %(now)s, %(now)s
    FROM shipment_intake_stage ORDER BY vendor_id, tracking_number
    ON CONFLICT (vendor_id, tracking_number) DO NOTHING
"""
_CHANGED = f"""{_RATING_CHANGED}
        OR s.delivered_date IS DISTINCT FROM st.delivered_date
        OR (st.status IS NOT NULL AND st.status <> s.status)"""
# Stored shipments the batch changes, locked in id order before they change (no deadlocks between
# overlapping batches).
LOCK_SQL = f"""
    SELECT s.id FROM {SHIPMENT} s JOIN shipment_intake_stage st ON {_KEY_JOIN}
    WHERE {_CHANGED} ORDER BY s.id FOR UPDATE OF s
"""
# Changed ones in one UPDATE; a changed rating input bumps the revision (the next run re-rates it
# and posts the difference). Rows that would not change are left alone and counted unchanged.
UPDATE_SQL = f"""
    UPDATE {SHIPMENT} s SET
        {", ".join(f"{f} = st.{f}" for f in UPDATABLE_FIELDS)},
        status = COALESCE(st.status, s.status),
        is_return = s.is_return OR st.is_return,
        revision = s.revision + CASE WHEN {_RATING_CHANGED} THEN 1 ELSE 0 END,
        updated_at = %(now)s
    FROM shipment_intake_stage st
    WHERE {_KEY_JOIN} AND ({_CHANGED})
"""
# Status events by the shipments' ids; a re-sent event is a no-op (unique per shipment, status, time).
# In key order, so two batches re-sending the same events wait for each other instead of deadlocking.
INSERT_EVENTS_SQL = f"""
    INSERT INTO {EVENT} (shipment_id, status, occurred_at, received_at)
    SELECT s.id, st.status, st.occurred_at, %(now)s
    FROM shipment_intake_event_stage st JOIN {SHIPMENT} s ON {_KEY_JOIN}
    ORDER BY s.id, st.status, st.occurred_at
    ON CONFLICT DO NOTHING
"""


ANALYZE_GROWTH = 0.1
RELTUPLES_SQL = "SELECT reltuples FROM pg_class WHERE oid = %s::regclass"


def _analyze_shipments() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {SHIPMENT}, {EVENT}")


def _copy_text(value) -> str:
    """One value in COPY's text format (NULL as \\N; backslash, tab and line breaks escaped)."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    text = value.isoformat() if isinstance(value, (date, datetime)) else str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _copy(cursor, table: str, columns: list[str], rows) -> None:
    buffer = io.StringIO()
    buffer.writelines("\t".join(map(_copy_text, row)) + "\n" for row in rows)
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


@transaction.atomic
def _upsert(cleaned) -> tuple[int, int, int]:
    """The validated batch, set-based: COPY into staging tables, one INSERT ... SELECT for the new
    shipments, one UPDATE for the changed ones, one INSERT ... SELECT for the events.
    Returns (created, updated, unchanged)."""
    stage_rows, event_rows = [], []
    for (vendor_id, tracking), (_, item) in cleaned.items():
        values, events = item["values"], item["events"]
        returned = any(e[0] == Shipment.Status.RETURNED for e in events)
        stage_rows.append(
            [vendor_id, tracking, *(values[f] for f in UPDATABLE_FIELDS), _latest_status(events), returned]
        )
        event_rows.extend((vendor_id, tracking, status, at) for status, at in events if at is not None)
    params = {"now": timezone.now(), "created": Shipment.Status.CREATED}
    with connection.cursor() as cursor:
        cursor.execute(STAGE_SQL)
        _copy(cursor, "shipment_intake_stage", STAGED, stage_rows)
        cursor.execute(INSERT_NEW_SQL, params)
        created = cursor.rowcount
        if created:
            cursor.execute(RELTUPLES_SQL, [SHIPMENT])
            known = cursor.fetchone()[0]
            # Refresh the planner's statistics once the table grew by a tenth since they were
            # taken (autovacuum's default analyze threshold): autovacuum may be off or hours late,
            # and the list pages and the runs' plans read these statistics. After commit, outside
            # the batch's transaction, so the batch's row locks are not held while it samples.
            if created >= max(known, 0) * ANALYZE_GROWTH:
                transaction.on_commit(_analyze_shipments)
        updated = 0
        if created < len(stage_rows):
            cursor.execute(LOCK_SQL)
            cursor.execute(UPDATE_SQL, params)
            updated = cursor.rowcount
        if event_rows:
            _copy(
                cursor,
                "shipment_intake_event_stage",
                ["vendor_id", "tracking_number", "status", "occurred_at"],
                event_rows,
            )
            cursor.execute(INSERT_EVENTS_SQL, params)
    return created, updated, len(stage_rows) - created - updated


def parse_shipments_csv(data: bytes, filename: str = "") -> list[dict]:
    """CSV bytes -> records for shipments_intake (all values as text).

    Read by the guarded reader (type by content, at most MAX_RECORDS rows). Raises DomainError
    for a file that is too big, not text, or lacks required columns. The header names the
    columns (CSV_COLUMNS; `service_level` is accepted for `service`).
    """
    uploads.file_kind(content=data, filename=filename, limits=SHIPMENT_CSV_LIMITS, allowed=(uploads.CSV,))
    header, rows = uploads.csv_records(data, limits=SHIPMENT_CSV_LIMITS)
    header = ["service" if name == "service_level" else name for name in header]
    missing = sorted(REQUIRED_CSV_COLUMNS - set(header))
    if missing:
        raise DomainError(f"The header lacks column(s): {', '.join(missing)}", code="bad_header", field="header")
    return [
        {("service" if name == "service_level" else name): value for name, value in record.items()}
        for _, record in rows
    ]
