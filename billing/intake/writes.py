"""Writing a checked shipment intake batch, set-based (`upsert`): a batch of shipments none of which
is stored yet is COPYed straight into the shipment and event tables; any other batch goes through
staging tables and one statement each for new shipments, changed shipments and events. And the
planner's statistics, refreshed after commit once a tenth of the table was written."""

from __future__ import annotations

import time
from datetime import date, datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from settlement_ops.db import NULL, analyze_written, copy_escaped, copy_lines, copy_rows

from ..models import Shipment, ShipmentEvent


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
# locks in one order; "C" is code-point order, the order `upsert` sorts a batch in for the direct
# COPY too). A key another transaction inserts first is skipped here and updated below: the INSERT
# waits for that transaction, so the UPDATE's later snapshot sees its row. The rows inserted here
# equal their staged values, so the UPDATE below passes over them.
INSERT_NEW_SQL = f"""
    INSERT INTO {SHIPMENT} ({", ".join(UPDATABLE_FIELDS)}, vendor_id, tracking_number, status, is_return,
                            revision, created_at, updated_at)
    SELECT {", ".join(UPDATABLE_FIELDS)}, vendor_id, tracking_number, COALESCE(status, %(created)s), is_return,
           1, %(now)s, %(now)s
    FROM shipment_intake_stage ORDER BY vendor_id, tracking_number COLLATE "C"
    ON CONFLICT (vendor_id, tracking_number) DO NOTHING
"""
_CHANGED = f"""{_RATING_CHANGED}
        OR s.delivered_date IS DISTINCT FROM st.delivered_date
        OR (st.status IS NOT NULL AND st.status <> s.status)"""
# Stored shipments the batch changes, locked in id order before they change (no deadlocks between
# overlapping batches). FOR NO KEY UPDATE, the lock the UPDATE takes: it orders writers but not the
# foreign-key checks of another batch's events (FOR KEY SHARE), which FOR UPDATE would block while
# that batch holds a lock this one waits for.
LOCK_SQL = f"""
    SELECT s.id FROM {SHIPMENT} s JOIN shipment_intake_stage st ON {_KEY_JOIN}
    WHERE {_CHANGED} ORDER BY s.id FOR NO KEY UPDATE OF s
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


# The direct path for a batch of new shipments: ids drawn from the shipment table's identity
# sequence (as its default would), then both tables COPYed with them.
NEW_IDS_SQL = """
    WITH sequence AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, 'id')::regclass AS name)
    SELECT nextval(sequence.name) FROM sequence, generate_series(1, %s)
"""
NEW_COLUMNS = ["id", *STAGED[:2], *UPDATABLE_FIELDS, "status", "is_return", "revision", "created_at", "updated_at"]
EVENT_COLUMNS = ["shipment_id", "status", "occurred_at", "received_at"]
UNIQUE_KEY = "shipment_unique_per_vendor"
# Keys looked up to tell a re-sent batch from a new one before choosing the path.
SAMPLE_KEYS = 16
ANY_STORED_SQL = f"SELECT EXISTS (SELECT 1 FROM {SHIPMENT} WHERE (vendor_id, tracking_number) IN %s)"

ANALYZE_GROWTH = 0.1
# Batches that add up to a tenth refresh at most this often (autovacuum's default naptime).
ANALYZE_EVERY_S = 60
# The rows the statistics were taken from, the rows written (by committed transactions) since, and
# the seconds since they were taken (NULL: never).
GROWTH_SQL = """
    SELECT reltuples, COALESCE(pg_stat_get_mod_since_analyze(oid), 0),
        EXTRACT(EPOCH FROM now() - GREATEST(
            pg_stat_get_last_analyze_time(oid), pg_stat_get_last_autoanalyze_time(oid)))
    FROM pg_class WHERE oid = %s::regclass
"""
# pg_try_advisory_xact_lock(purpose, 0): the first key says what is locked ("SHIP").
ANALYZE_LOCK = 0x53484950


def analyze_shipments(timing: dict) -> None:
    """ANALYZE the shipment and event tables; its duration in timing["seconds"]."""
    started = time.perf_counter()
    # One batch at a time samples the tables; a batch that finds a refresh under way leaves it
    # (a later one looks again if the statistics are still a tenth behind).
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, 0)", [ANALYZE_LOCK])
        if cursor.fetchone()[0]:
            analyze_written(f"{SHIPMENT}, {EVENT}")
    timing["seconds"] = time.perf_counter() - started


def upsert(cleaned) -> tuple[int, int, int]:
    """The validated batch, set-based. Returns (created, updated, unchanged).

    A batch whose shipments are all new is COPYed straight into the shipment and event tables
    (`_copy_new`); any other is merged through staging tables (`_merge`). The caller holds the
    transaction.
    """
    # Key order; Python orders text by code point, as COLLATE "C" does: whichever path two
    # concurrent batches take, they insert shared keys in one order and wait instead of deadlocking.
    batch = sorted(cleaned.items())
    now = timezone.now()
    with connection.cursor() as cursor:
        if not _any_stored(cursor, batch):
            try:
                with transaction.atomic(), connection.wrap_database_errors:
                    created = _copy_new(cursor, batch, now)
            except IntegrityError as error:
                # A key was stored after all (by a concurrent batch, or one the sample missed):
                # the savepoint undid the COPY; merge instead.
                if getattr(getattr(error.__cause__, "diag", None), "constraint_name", None) != UNIQUE_KEY:
                    raise
            else:
                return created, 0, 0
        return _merge(cursor, batch, now)


def _any_stored(cursor, batch) -> bool:
    """Whether some of a sample of the batch's keys is stored: a re-sent batch goes to `_merge`
    without trying the COPY, which would stop at its first stored key."""
    step = max(len(batch) // SAMPLE_KEYS, 1)
    cursor.execute(ANY_STORED_SQL, [tuple(key for key, _ in batch[::step])])
    return cursor.fetchone()[0]


def _copy_new(cursor, batch, now: datetime) -> int:
    """New shipments and their events by COPY, with ids drawn first. A stored key fails the unique
    constraint (after waiting for a concurrent batch that holds it), and the caller merges."""
    cursor.execute(NEW_IDS_SQL, [SHIPMENT, len(batch)])
    ids = sorted(row[0] for row in cursor.fetchall())
    # The text of each number, date and time, once per batch (they repeat). Equal decimals such as
    # 1.5 and 1.50 share one text: the same value in a NUMERIC column.
    texts: dict = {None: NULL}

    def text(value) -> str:
        known = texts.get(value)
        if known is None:
            known = texts[value] = value.isoformat() if isinstance(value, (date, datetime)) else str(value)
        return known

    stamp = now.isoformat()
    tail = f"\t1\t{stamp}\t{stamp}\n"  # revision, created_at, updated_at
    created_status = Shipment.Status.CREATED.value
    returned_status = Shipment.Status.RETURNED.value
    shipments, events = [], []
    for shipment_id, ((vendor_id, tracking), (_, item)) in zip(ids, batch, strict=True):
        values, moments = item["values"], item["events"]
        if len(moments) == 1:
            status = moments[0][0]
            returned = status == returned_status
        else:
            status = _latest_status(moments) or created_status
            returned = any(event_status == returned_status for event_status, _ in moments)
            # A record may list one event twice; the unique (shipment, status, occurred_at) keeps one.
            moments = dict.fromkeys(moments)
        row = (
            str(shipment_id),
            str(vendor_id),
            copy_escaped(tracking),
            values["market_id"],
            str(values["seller_id"]),
            copy_escaped(values["service_level"]),
            copy_escaped(values["origin_zone"]),
            copy_escaped(values["destination_zone"]),
            text(values["actual_weight_kg"]),
            text(values["length_cm"]),
            text(values["width_cm"]),
            text(values["height_cm"]),
            text(values["cod_amount"]),
            text(values["ship_date"]),
            text(values["delivered_date"]),
            status,
            "t" if returned else "f",
        )
        shipments.append("\t".join(row) + tail)
        for event_status, at in moments:
            if at is not None:
                events.append(f"{shipment_id}\t{event_status}\t{text(at)}\t{stamp}\n")
    copy_lines(cursor, SHIPMENT, NEW_COLUMNS, shipments)
    if events:
        copy_lines(cursor, EVENT, EVENT_COLUMNS, events)
    return len(shipments)


def _merge(cursor, batch, now: datetime) -> tuple[int, int, int]:
    """COPY into staging tables, one INSERT ... SELECT for the new shipments, one UPDATE for the
    changed ones, one INSERT ... SELECT for the events."""
    stage_rows, event_rows = [], []
    for (vendor_id, tracking), (_, item) in batch:
        values, events = item["values"], item["events"]
        returned = any(e[0] == Shipment.Status.RETURNED for e in events)
        stage_rows.append(
            [vendor_id, tracking, *(values[f] for f in UPDATABLE_FIELDS), _latest_status(events), returned]
        )
        event_rows.extend((vendor_id, tracking, status, at) for status, at in events if at is not None)
    params = {"now": now, "created": Shipment.Status.CREATED}
    cursor.execute(STAGE_SQL)
    copy_rows(cursor, "shipment_intake_stage", STAGED, stage_rows)
    cursor.execute(INSERT_NEW_SQL, params)
    created = cursor.rowcount
    updated = 0
    if created < len(stage_rows):
        cursor.execute(LOCK_SQL)
        cursor.execute(UPDATE_SQL, params)
        updated = cursor.rowcount
    if event_rows:
        copy_rows(
            cursor, "shipment_intake_event_stage", ["vendor_id", "tracking_number", "status", "occurred_at"], event_rows
        )
        cursor.execute(INSERT_EVENTS_SQL, params)
    return created, updated, len(stage_rows) - created - updated


def statistics_behind(created: int) -> bool:
    """Whether a tenth of the shipment table was written since the planner's statistics were
    taken, this batch's new rows included (autovacuum's default analyze threshold): autovacuum may
    be off or hours late, and the list pages and the runs' plans read these statistics.

    A batch that alone is a tenth of the table refreshes them at once (they are far off); smaller
    ones that add up to a tenth (a table of millions) at most every ANALYZE_EVERY_S seconds, as
    autovacuum would, so a table filling up fast is not sampled by every other batch.
    """
    with connection.cursor() as cursor:
        cursor.execute(GROWTH_SQL, [SHIPMENT])
        known, written_since, age = cursor.fetchone()
    tenth = max(known, 0) * ANALYZE_GROWTH
    if created >= tenth:
        return True
    return created + written_since >= tenth and (age is None or age >= ANALYZE_EVERY_S)
