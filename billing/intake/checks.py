"""Checking the records of a shipment intake batch: `clean_record` checks any record and words
every rejection (index, field, reason); `PlainCheck` accepts the common well-formed record with the
same values several times faster and leaves anything else to `clean_record`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from sellers.models import Seller
from settlement_ops.bulk_intake import RecordRejected, record_text
from settlement_ops.models import Market
from settlement_ops.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, is_quantized, to_decimal
from vendors.models import Vendor

from ..models import Shipment

MAX_WEIGHT_KG = Decimal("10000")
MAX_DIMENSION_CM = Decimal("1000")
# What the COD column holds (NUMERIC(20, 4)): a larger amount would fail the whole batch's write.
MAX_COD_AMOUNT = Decimal(10) ** (MONEY_MAX_DIGITS - MONEY_DECIMAL_PLACES) - Decimal(1).scaleb(-MONEY_DECIMAL_PLACES)
STATUS_VALUES = {value for value, _ in Shipment.Status.choices}
# Amounts, weights and dimensions travel as decimal strings ("1.50"): a JSON number with a fraction
# is a binary float, which cannot hold most decimals exactly.
FLOAT_REASON = 'must be sent as a decimal string such as "1.50", not a JSON number with a fraction'


def _text(record: dict, name: str, *, required: bool = True, max_length: int = 30, aliases=()) -> str:
    return record_text(record, name, required=required, max_length=max_length, aliases=aliases)


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
    """The codes `_text` would read from the records, as a set."""
    codes = set()
    for record in records:
        if isinstance(record, dict):
            value = record.get(name)
            if value:
                codes.add(value.strip() if type(value) is str else str(value).strip())
    return {code for code in codes if "\x00" not in code}


class Lookups:
    """Vendors, sellers and markets referenced by a batch, loaded in three queries."""

    def __init__(self, records):
        vendor_codes = _code_set(records, "vendor")
        seller_codes = _code_set(records, "seller")
        self.vendors = {v.code: v for v in Vendor.objects.filter(code__in=vendor_codes)}
        self.sellers = {s.code: s for s in Seller.objects.filter(code__in=seller_codes)}
        self.markets = {m.code: m for m in Market.objects.all()}


def clean_record(record, lookups: Lookups) -> dict:
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
    cod = _decimal(record, "cod_amount", maximum=MAX_COD_AMOUNT, allow_zero=True) or Decimal("0")
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


# --- The fast check of a plain record -------------------------------------------------------------
# Most records of a batch are well formed: text values as JSON strings, amounts as decimal strings,
# known codes. `PlainCheck` accepts exactly such a record, with the values `clean_record` would give
# it, in a fraction of the time (and remembers each weight, size, amount, date and time it parsed:
# a batch repeats them); anything unusual (another type, another key, a value `clean_record` would
# refuse or would have to look at twice) is left to `clean_record`, which words every rejection.
# tests/billing/test_intake_volume_paths.py compares the two over seeded random records.


class _NotPlain(Exception):
    """The record needs the full check."""


# The keys `clean_record` reads. A record with another key goes to `clean_record`, which also
# looks for NUL characters in values it does not otherwise read.
_PLAIN_KEYS = frozenset(
    {
        "tracking_number",
        "vendor",
        "seller",
        "market",
        "currency",
        "service",
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
        "status",
        "status_at",
        "events",
    }
)
_PLAIN_EVENT_KEYS = frozenset({"status", "at"})
_WEIGHT_PLACES = Decimal("0.001")
_DIMENSION_PLACES = Decimal("0.1")
_ZERO = Decimal("0")


def _plain_text(value, max_length: int) -> str:
    if type(value) is not str:
        raise _NotPlain
    text = value.strip()
    if not text or len(text) > max_length:
        raise _NotPlain
    return text


def _plain_code(value, expected: str) -> None:
    """An optional code (market, currency): absent, blank or the expected one."""
    if value is not None:
        if type(value) is not str:
            raise _NotPlain
        text = value.strip()
        if text and text != expected:
            raise _NotPlain


def _plain_decimal(value, *, maximum: Decimal | None, places: Decimal | None, allow_zero: bool = False) -> Decimal:
    """A positive (or zero) decimal string or whole number within the maximum and places."""
    if type(value) is str:
        try:
            number = Decimal(value.strip())  # as settlement_ops.money.to_decimal
        except InvalidOperation:
            raise _NotPlain from None
        if not number.is_finite():
            raise _NotPlain
    elif type(value) is int:
        number = Decimal(value)
    else:
        raise _NotPlain
    if number < 0 or (number == 0 and not allow_zero) or (maximum is not None and number > maximum):
        raise _NotPlain
    if places is not None and number != number.quantize(places):
        raise _NotPlain
    return number


def _plain_date(value) -> date:
    if type(value) is not str:
        raise _NotPlain
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise _NotPlain from None


def _plain_moment(value) -> datetime:
    # parse_datetime (in `_moment`) tries datetime.fromisoformat first; its fallback is for `clean_record`.
    if type(value) is not str or "\x00" in value:
        raise _NotPlain
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _NotPlain from None
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)  # naive times are UTC
    return moment


class PlainCheck:
    """`clean_record` for the plain, valid records of one batch (call it with a record: its item, or None
    when the record needs `clean_record`)."""

    def __init__(self, lookups: Lookups):
        # By code: a vendor's id, market code and currency; a seller's id and market code.
        self.vendors = {
            code: (vendor.pk, vendor.market_id, lookups.markets[vendor.market_id].currency)
            for code, vendor in lookups.vendors.items()
        }
        self.sellers = {code: (seller.pk, seller.market_id) for code, seller in lookups.sellers.items()}
        # Parsed values by their text (Decimal, date and datetime are immutable, so shared).
        self.weights: dict = {}
        self.dimensions: dict = {}
        self.cods: dict = {}
        self.dates: dict = {}
        self.moments: dict = {}

    def _weight(self, value) -> Decimal | None:
        if value is None or value == "":
            return None
        number = self.weights.get(value) if type(value) is str else None
        if number is None:
            number = _plain_decimal(value, maximum=MAX_WEIGHT_KG, places=_WEIGHT_PLACES)
            if type(value) is str:
                self.weights[value] = number
        return number

    def _dimension(self, value) -> Decimal | None:
        if value is None or value == "":
            return None
        number = self.dimensions.get(value) if type(value) is str else None
        if number is None:
            number = _plain_decimal(value, maximum=MAX_DIMENSION_CM, places=_DIMENSION_PLACES)
            if type(value) is str:
                self.dimensions[value] = number
        return number

    def _cod(self, value, currency: str) -> Decimal:
        if value is None or value == "" or value == "0" or value == 0:
            return _ZERO  # as `_decimal(...) or Decimal("0")`
        key = (value, currency)
        number = self.cods.get(key) if type(value) is str else None
        if number is None:
            number = _plain_decimal(value, maximum=MAX_COD_AMOUNT, places=None, allow_zero=True) or _ZERO
            if not is_quantized(number, currency):
                raise _NotPlain
            if type(value) is str:
                self.cods[key] = number
        return number

    def _date(self, value) -> date:
        day = self.dates.get(value) if type(value) is str else None
        if day is None:
            day = self.dates[value] = _plain_date(value)
        return day

    def _moment(self, value) -> datetime:
        moment = self.moments.get(value) if type(value) is str else None
        if moment is None:
            moment = self.moments[value] = _plain_moment(value)
        return moment

    def _events(self, record: dict) -> list[tuple[str, datetime | None]]:
        events = []
        raw = record.get("events")
        if raw is not None and raw != "":
            if type(raw) is not list:
                raise _NotPlain
            for item in raw:
                if type(item) is not dict or not item.keys() <= _PLAIN_EVENT_KEYS:
                    raise _NotPlain
                status = item.get("status")
                if type(status) is not str:
                    raise _NotPlain
                status = status.strip()
                if status not in STATUS_VALUES:
                    raise _NotPlain
                events.append((status, self._moment(item.get("at"))))
        status = record.get("status")
        if status is not None and status != "":
            if type(status) is not str:
                raise _NotPlain
            status = status.strip()
            if status not in STATUS_VALUES:
                raise _NotPlain
            at = record.get("status_at")
            if at is not None and at != "":
                events.append((status, self._moment(at)))
            elif not events:
                events.append((status, None))
        return events

    def __call__(self, record) -> dict | None:
        if type(record) is not dict or not record.keys() <= _PLAIN_KEYS:
            return None
        events_value = record.get("events")
        for value in record.values():
            kind = type(value)
            if kind is str:
                if "\x00" in value:
                    return None
            elif kind is not int and value is not None and value is not events_value:
                return None
        get = record.get
        try:
            vendor = self.vendors.get(_plain_text(get("vendor"), 30))
            if vendor is None:
                return None
            vendor_id, market_code, currency = vendor
            _plain_code(get("market"), market_code)
            seller = self.sellers.get(_plain_text(get("seller"), 30))
            if seller is None or seller[1] != market_code:
                return None
            _plain_code(get("currency"), currency)
            length = self._dimension(get("length_cm"))
            width = self._dimension(get("width_cm"))
            height = self._dimension(get("height_cm"))
            if (length is None) + (width is None) + (height is None) not in (0, 3):
                return None
            ship_date = self._date(get("ship_date"))
            delivered_value = get("delivered_date")
            delivered_date = None if delivered_value is None or delivered_value == "" else self._date(delivered_value)
            if delivered_date is not None and delivered_date < ship_date:
                return None
            service = get("service")
            if service is None or service == "":
                service = get("service_level")
            values = {
                "market_id": market_code,
                "vendor_id": vendor_id,
                "seller_id": seller[0],
                "tracking_number": _plain_text(get("tracking_number"), 64),
                "service_level": _plain_text(service, 30),
                "origin_zone": _plain_text(get("origin_zone"), 30),
                "destination_zone": _plain_text(get("destination_zone"), 30),
                "actual_weight_kg": self._weight(get("actual_weight_kg")),
                "cod_amount": self._cod(get("cod_amount"), currency),
                "ship_date": ship_date,
                "delivered_date": delivered_date,
                "length_cm": length,
                "width_cm": width,
                "height_cm": height,
            }
            return {"values": values, "events": self._events(record)}
        except _NotPlain:
            return None
