"""Shipment intake: bulk JSON, CSV upload and admin import share one validating upsert.

Rules (issue 3):
- Idempotent by (vendor, tracking number): re-sending a shipment updates it, never duplicates it;
  re-sending the same status event is a no-op.
- Every record is validated on its own; each rejected record comes back as
  {"index", "field", "reason"} and the accepted ones are stored all the same (one transaction for
  the accepted set, so they are stored together or — on a database error — not at all).
- A change to a rating input of a stored shipment bumps its `revision`, which makes the next
  billing run re-rate it and post only the difference.

The per-record loop here is validation of one request (at most MAX_RECORDS); the writes are bulk.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
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
    nul_field = _nul_field(record)
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


def _same(a, b) -> bool:
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return (a is None and b is None) or (a is not None and b is not None and Decimal(a) == Decimal(b))
    return a == b


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
        # A concurrent request may insert the same new shipment between our read and write; the
        # unique constraint refuses it and a second pass then sees it as an update.
        for attempt in range(3):
            try:
                created, updated, unchanged = _upsert(cleaned)
                break
            except IntegrityError:
                if attempt == 2:
                    raise
        result.created, result.updated, result.unchanged = created, updated, unchanged
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


@transaction.atomic
def _upsert(cleaned) -> tuple[int, int, int]:
    by_key = {key: item for key, (_, item) in cleaned.items()}
    existing: dict[tuple[int, str], Shipment] = {}
    keys = list(by_key)
    for start in range(0, len(keys), 2000):
        part = keys[start : start + 2000]
        vendor_ids = {k[0] for k in part}
        trackings = {k[1] for k in part}
        rows = (
            Shipment.objects.filter(vendor_id__in=vendor_ids, tracking_number__in=trackings)
            .order_by("pk")
            .select_for_update()
        )
        for shipment in rows:
            key = (shipment.vendor_id, shipment.tracking_number)
            if key in by_key:
                existing[key] = shipment
    to_create, to_update, unchanged = [], [], 0
    now = timezone.now()
    for key, item in by_key.items():
        values, events = item["values"], item["events"]
        status = _latest_status(events)
        returned = any(e[0] == Shipment.Status.RETURNED for e in events)
        shipment = existing.get(key)
        if shipment is None:
            to_create.append(Shipment(**values, status=status or Shipment.Status.CREATED, is_return=returned))
            continue
        rating_changed = any(
            not _same(getattr(shipment, f), values.get(f)) for f in Shipment.RATING_FIELDS if f != "is_return"
        )
        rating_changed |= returned and not shipment.is_return
        other_changed = not _same(shipment.delivered_date, values["delivered_date"]) or (
            status and status != shipment.status
        )
        if not rating_changed and not other_changed:
            unchanged += 1
            continue
        for name in UPDATABLE_FIELDS:
            setattr(shipment, name, values[name])
        if status:
            shipment.status = status
        shipment.is_return = shipment.is_return or returned
        if rating_changed:
            shipment.revision += 1
        shipment.updated_at = now
        to_update.append(shipment)
    Shipment.objects.bulk_create(to_create, batch_size=1000)
    if to_update:
        Shipment.objects.bulk_update(
            to_update, UPDATABLE_FIELDS + ["status", "is_return", "revision", "updated_at"], batch_size=1000
        )
    # Events of created shipments need their new ids: fetch them once.
    if to_create:
        for start in range(0, len(to_create), 2000):
            part = to_create[start : start + 2000]
            for shipment in Shipment.objects.filter(
                vendor_id__in={s.vendor_id for s in part}, tracking_number__in={s.tracking_number for s in part}
            ).only("id", "vendor_id", "tracking_number"):
                existing[(shipment.vendor_id, shipment.tracking_number)] = shipment
    new_events = [
        ShipmentEvent(shipment_id=existing[key].pk, status=status, occurred_at=at)
        for key, item in by_key.items()
        for status, at in item["events"]
        if at is not None and key in existing
    ]
    ShipmentEvent.objects.bulk_create(new_events, batch_size=1000, ignore_conflicts=True)
    return len(to_create), len(to_update), unchanged


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
