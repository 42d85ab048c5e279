"""Shipment intake: bulk JSON, CSV upload and admin import share one validating upsert.

Rules (issue 3):
- Idempotent by (vendor, tracking number): re-sending a shipment updates it, never duplicates it;
  re-sending the same status event is a no-op.
- Every record is validated on its own; each rejected record comes back as
  {"index", "field", "reason"} and the accepted ones are stored all the same (one transaction for
  the accepted set, so they are stored together or — on a database error — not at all).
- A change to a rating input of a stored shipment bumps its `revision`, which makes the next
  billing run re-rate it and post only the difference.

The per-record loop here is validation of one request (at most MAX_RECORDS): a fast check of the
common well-formed record (`checks.PlainCheck`) and, for anything else, the full check
(`checks.clean_record`), which alone words rejections. The writes are set-based (`writes.upsert`):
a batch of shipments none of which is stored yet is COPYed straight into the shipment and event
tables; any other batch goes through staging tables and one statement each for new shipments,
changed shipments and events.
"""

from __future__ import annotations

import time
from functools import partial

from django.db import transaction

from settlement_ops import uploads
from settlement_ops.bulk_intake import IntakeResult, RecordRejected
from settlement_ops.errors import DomainError
from settlement_ops.models import AuditEvent
from settlement_ops.services import audit_record

from .checks import Lookups, PlainCheck, clean_record
from .writes import analyze_shipments, statistics_behind, upsert

__all__ = ["IntakeResult", "MAX_CSV_BYTES", "MAX_RECORDS", "parse_shipments_csv", "shipments_intake"]

MAX_RECORDS = 10_000
MAX_CSV_BYTES = 20 * 1024 * 1024
# A shipment CSV: the header and at most MAX_RECORDS shipments.
SHIPMENT_CSV_LIMITS = uploads.UploadLimits(max_rows=MAX_RECORDS + 1, max_columns=40, max_bytes=MAX_CSV_BYTES)

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
    started = time.perf_counter()
    lookups = Lookups(records)
    result = IntakeResult()
    cleaned: dict[tuple[int, str], tuple[int, dict]] = {}
    plain_check = PlainCheck(lookups)
    for index, record in enumerate(records):
        item = plain_check(record)
        if item is None:
            try:
                item = clean_record(record, lookups)
            except RecordRejected as reject:
                result.rejected.append({"index": index, "field": reject.field, "reason": reject.reason})
                continue
        key = (item["values"]["vendor_id"], item["values"]["tracking_number"])
        result.keep_once(
            cleaned, key, index, item, field_name="tracking_number", what="same vendor and tracking number"
        )
    result.rejected.sort(key=lambda r: r["index"])
    validated = time.perf_counter()
    # The accepted shipments and their audit row in one transaction: stored together or not at all.
    refresh: dict = {}
    with transaction.atomic():
        if cleaned:
            result.created, result.updated, result.unchanged = upsert(cleaned)
            result.accepted = len(cleaned)
            if result.created and statistics_behind(result.created):
                # After commit, outside the batch's transaction, so its row locks are not held
                # while ANALYZE samples.
                transaction.on_commit(partial(analyze_shipments, refresh))
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
        written = time.perf_counter()
    analyze = refresh.get("seconds", 0.0)
    # "commit" is where PostgreSQL checks the deferred foreign keys of every written row.
    result.timings = {
        "validate": validated - started,
        "write": written - validated,
        "commit": time.perf_counter() - written - analyze,
    }
    if analyze:
        result.timings["analyze"] = analyze
    return result


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
