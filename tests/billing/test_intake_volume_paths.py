"""The set-based shipment intake (a new batch COPYed straight into the tables; any other merged
through staging tables, one statement per kind of write): a retried batch writes nothing twice, bad
records are named by row and field while the rest are stored, text that COPY must escape arrives
intact, both write paths store the same rows, batches racing through either path store each
shipment once without deadlocking, the statistics are refreshed once a tenth of the table was
written, and the fast check of plain records accepts only what the full check accepts."""

import random
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection

from billing.intake import shipments_intake
from billing.intake.checks import Lookups, PlainCheck, clean_record
from billing.models import Shipment, ShipmentEvent
from settlement_ops.bulk_intake import RecordRejected
from settlement_ops.models import AuditEvent
from settlement_ops.roles import Role
from tests.factories import SellerFactory, VendorFactory, market

D = Decimal


def _batch(vendor, seller, n, *, weight="1.250", prefix="VOL"):
    return [
        {
            "tracking_number": f"{prefix}{i:05d}",
            "vendor": vendor.code,
            "seller": seller.code,
            "service": "STD",
            "origin_zone": "LDN",
            "destination_zone": "MAN",
            "actual_weight_kg": weight,
            "cod_amount": "12.50" if i % 2 else "0",
            "ship_date": "2026-11-02",
            "events": [{"status": "picked_up", "at": "2026-11-02T09:00:00Z"}],
        }
        for i in range(n)
    ]


@pytest.mark.django_db
def test_a_retried_batch_stores_each_shipment_and_event_once_and_names_bad_rows(api_as):
    # given: 300 records, three of them bad, one tracking number with characters COPY escapes
    vendor = VendorFactory(market=market("GB"))
    seller = SellerFactory(market=market("GB"))
    api = api_as(Role.INTEGRATION)
    records = _batch(vendor, seller, 300)
    records[7]["tracking_number"] = "TAB\tBACK\\SLASH"
    records[10]["actual_weight_kg"] = 1.25  # a float: refused
    records[20]["ship_date"] = "2026-13-01"
    records[30]["seller"] = "NOBODY"
    expected_rejections = [
        {
            "index": 10,
            "field": "actual_weight_kg",
            "reason": 'must be sent as a decimal string such as "1.50", not a JSON number with a fraction',
        },
        {"index": 20, "field": "ship_date", "reason": "'2026-13-01' is not a YYYY-MM-DD date"},
        {"index": 30, "field": "seller", "reason": "unknown seller 'NOBODY'"},
    ]

    # when: sent, replayed with the same Idempotency-Key, and re-sent without a key
    first = api.post("/api/shipments/bulk/", records, format="json", HTTP_IDEMPOTENCY_KEY="vol-1")
    replay = api.post("/api/shipments/bulk/", records, format="json", HTTP_IDEMPOTENCY_KEY="vol-1")
    resent = api.post("/api/shipments/bulk/", records, format="json")

    # then
    assert first.status_code == replay.status_code == resent.status_code == 200, first.content
    body = first.json()
    assert (body["accepted"], body["created"], body["updated"], body["unchanged"]) == (297, 297, 0, 0)
    assert body["rejected"] == expected_rejections
    assert replay.json() == body
    assert (resent.json()["created"], resent.json()["unchanged"], resent.json()["rejected"]) == (
        0,
        297,
        expected_rejections,
    )
    assert Shipment.objects.filter(vendor=vendor).count() == 297
    assert ShipmentEvent.objects.filter(shipment__vendor=vendor).count() == 297
    odd = Shipment.objects.get(tracking_number="TAB\tBACK\\SLASH")
    assert (odd.status, odd.revision, odd.market_id, odd.seller_id) == ("picked_up", 1, "GB", seller.pk)
    totals = Shipment.objects.filter(vendor=vendor).values_list("cod_amount", "actual_weight_kg")
    assert sum(c for c, _ in totals) == D("1875.00")  # 150 odd rows of 12.50 and {w for _, w in totals} == {D("1.250")}


@pytest.mark.django_db
def test_a_mixed_batch_creates_new_updates_changed_and_leaves_the_rest(api_as, django_capture_on_commit_callbacks):
    # given: 40 shipments stored; the table grew by more than a tenth, so its statistics are refreshed
    vendor = VendorFactory(market=market("GB"))
    seller = SellerFactory(market=market("GB"))
    api = api_as(Role.INTEGRATION)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post("/api/shipments/bulk/", _batch(vendor, seller, 40), format="json").json()["created"] == 40
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [Shipment._meta.db_table])
        assert cursor.fetchone()[0] >= 40
    stored = dict(Shipment.objects.filter(vendor=vendor).values_list("tracking_number", "updated_at"))

    # when: the same 40 plus 10 new; 5 with a new weight (a rating input), 5 delivered (not one)
    records = _batch(vendor, seller, 50)
    for record in records[:5]:
        record["actual_weight_kg"] = "2.000"
    for record in records[5:10]:
        record["delivered_date"] = "2026-11-04"
        record["events"].append({"status": "delivered", "at": "2026-11-04T10:00:00Z"})
    body = api.post("/api/shipments/bulk/", records, format="json").json()

    # then
    assert (body["created"], body["updated"], body["unchanged"], body["rejected"]) == (10, 10, 30, [])
    rows = {s.tracking_number: s for s in Shipment.objects.filter(vendor=vendor)}
    assert [rows[f"VOL{i:05d}"].revision for i in range(10)] == [2] * 5 + [1] * 5
    assert {rows[f"VOL{i:05d}"].status for i in range(5, 10)} == {"delivered"}
    assert rows["VOL00000"].actual_weight_kg == D("2.000") and rows["VOL00045"].revision == 1
    untouched = [f"VOL{i:05d}" for i in range(10, 40)]
    assert all(rows[t].updated_at == stored[t] for t in untouched)
    assert ShipmentEvent.objects.filter(shipment__vendor=vendor).count() == 55


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_overlapping_batches_at_once_store_each_shipment_once():
    from django.db import connection as default_connection

    # given: two batches of 60 that share 30 new shipments (the second changes their weight)
    vendor = VendorFactory(market=market("GB"))
    seller = SellerFactory(market=market("GB"))
    first = _batch(vendor, seller, 60)
    second = _batch(vendor, seller, 90, weight="2.000")[30:]
    barrier = threading.Barrier(2)
    results, errors = [], []

    def push(records):
        try:
            barrier.wait()
            results.append(shipments_intake(records=records))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            default_connection.close()

    # when: both at once, each on its own connection
    threads = [threading.Thread(target=push, args=(records,)) for records in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then: no error, 90 shipments, the 30 shared ones created once and either unchanged or updated once
    assert errors == []
    assert sum(r.created for r in results) == 90
    assert sum(r.updated + r.unchanged for r in results) == 30
    assert Shipment.objects.filter(vendor=vendor).count() == 90
    shared = Shipment.objects.filter(vendor=vendor, tracking_number__in=[r["tracking_number"] for r in first[30:]])
    assert {s.revision for s in shared} <= {1, 2} and shared.count() == 30
    assert ShipmentEvent.objects.filter(shipment__vendor=vendor).count() == 90


@pytest.mark.django_db
def test_a_request_of_5000_names_its_bad_record_and_a_retry_with_its_key_creates_nothing(api_as):
    # given: 5,000 records, one with two of three sizes and one with a COD the column cannot hold
    vendor = VendorFactory(market=market("GB"))
    seller = SellerFactory(market=market("GB"))
    api = api_as(Role.INTEGRATION)
    records = _batch(vendor, seller, 5000)
    records[4321]["length_cm"], records[4321]["width_cm"] = "30.0", "20.0"
    records[17]["cod_amount"] = "99999999999999999"
    audits = AuditEvent.objects.filter(action="shipments_intake").count()

    # when: sent, then retried with the same Idempotency-Key
    first = api.post("/api/shipments/bulk/", records, format="json", HTTP_IDEMPOTENCY_KEY="big-1")
    retry = api.post("/api/shipments/bulk/", records, format="json", HTTP_IDEMPOTENCY_KEY="big-1")

    # then: the two named, the other 4,998 stored once with their events; the retry replays the
    # first answer byte for byte and writes nothing, not even an audit row
    assert first.status_code == 200, first.content
    assert first.json() == {
        "accepted": 4998,
        "created": 4998,
        "updated": 0,
        "unchanged": 0,
        "rejected": [
            {"index": 17, "field": "cod_amount", "reason": "must be at most 9999999999999999.9999"},
            {"index": 4321, "field": "height_cm", "reason": "give all three dimensions or none"},
        ],
    }
    assert retry.status_code == 200 and retry.content == first.content and retry["Idempotent-Replayed"] == "true"
    assert Shipment.objects.filter(vendor=vendor).count() == 4998
    assert ShipmentEvent.objects.filter(shipment__vendor=vendor).count() == 4998
    assert AuditEvent.objects.filter(action="shipments_intake").count() == audits + 1
    assert sum(Shipment.objects.filter(vendor=vendor).values_list("cod_amount", flat=True)) == D("31225.00")
    # where the time went, for the bench ("analyze" too when a commit refreshes the statistics)
    phases = [part.split(";")[0] for part in first["Server-Timing"].split(", ")]
    assert phases == ["parse", "validate", "write", "commit"]


def _varied(vendor, seller, n, *, prefix):
    """Records that exercise every column and event rule: sizes or none, COD, delivery, a bare
    status, a return, one event sent twice (the same instant in two time zones)."""
    records = []
    for i in range(n):
        record = {
            "tracking_number": f"{prefix}{i:04d}" + ("\tX\nY\rZ\\" if i == 9 else ""),
            "vendor": vendor.code,
            "seller": seller.code,
            "service_level": "EXP" if i % 2 else "STD",
            "origin_zone": "LDN",
            "destination_zone": "MAN\\1" if i == 5 else "MAN",
            "ship_date": "2026-11-02",
            "cod_amount": ["0", "12.50", "0.00", 7][i % 4],
        }
        if i % 3:
            record.update(actual_weight_kg=f"{i % 7 + 1}.25", length_cm="30", width_cm="20.5", height_cm="10")
        if i % 5 == 0:
            record.update(delivered_date="2026-11-04", status="delivered", status_at="2026-11-04T12:00:00")
        elif i % 5 == 1:
            record["status"] = "in_transit"
        elif i % 5 == 2:
            record["events"] = [
                {"status": "picked_up", "at": "2026-11-02T09:00:00Z"},
                {"status": "picked_up", "at": "2026-11-02T10:00:00+01:00"},
                {"status": "returned", "at": "2026-11-06T08:30:00+07:00"},
            ]
        records.append(record)
    return records


def _stored(vendor):
    columns = [f for f in ("tracking_number", *Shipment.RATING_FIELDS, "delivered_date", "status", "revision")]
    rows = {r["tracking_number"]: r for r in Shipment.objects.filter(vendor=vendor).values(*columns)}
    for row in rows.values():
        row.pop("seller_id")
    events = sorted(
        ShipmentEvent.objects.filter(shipment__vendor=vendor).values_list(
            "shipment__tracking_number", "status", "occurred_at"
        )
    )
    return rows, events


@pytest.mark.django_db
def test_the_copy_path_and_the_merge_path_store_the_same_rows_and_events():
    # given: the same 60 varied records for two vendors; one of the second's is stored already
    # (unchanged), so its batch is merged through the staging tables
    gb = market("GB")
    copied, merged = VendorFactory(market=gb), VendorFactory(market=gb)
    seller = SellerFactory(market=gb)
    for_copy, for_merge = _varied(copied, seller, 60, prefix="P"), _varied(merged, seller, 60, prefix="P")
    assert shipments_intake(records=for_merge[:1]).created == 1

    # when
    by_copy = shipments_intake(records=for_copy)
    by_merge = shipments_intake(records=for_merge)

    # then
    assert (by_copy.created, by_copy.unchanged, by_copy.rejected) == (60, 0, [])
    assert (by_merge.created, by_merge.unchanged, by_merge.rejected) == (59, 1, [])
    copy_rows, copy_events = _stored(copied)
    merge_rows, merge_events = _stored(merged)
    assert copy_rows == merge_rows and copy_events == merge_events
    assert len(copy_events) == 12 + 12 * 2  # the twice-sent event once, the bare statuses none
    assert copy_rows["P0002"]["status"] == "returned" and copy_rows["P0002"]["is_return"] is True
    assert copy_rows["P0001"]["status"] == "in_transit" and copy_rows["P0004"]["status"] == "created"
    assert (
        copy_rows["P0009\tX\nY\rZ\\"]["destination_zone"] == "MAN"
        and copy_rows["P0005"]["destination_zone"] == "MAN\\1"
    )
    assert copy_rows["P0001"]["actual_weight_kg"] == D("2.250") and copy_rows["P0001"]["width_cm"] == D("20.5")
    assert [copy_rows[f"P000{i}"]["cod_amount"] for i in range(4)] == [D("0"), D("12.50"), D("0"), D("7")]


@pytest.mark.django_db
def test_a_new_batch_holding_a_stored_key_the_sample_missed_is_merged_whole():
    # given: one key of the batch stored (one the sample of keys does not look at)
    vendor = VendorFactory(market=market("GB"))
    seller = SellerFactory(market=market("GB"))
    records = _batch(vendor, seller, 100)
    assert shipments_intake(records=[records[5]]).created == 1
    records[5]["actual_weight_kg"] = "3.000"

    # when
    result = shipments_intake(records=records)

    # then: the direct COPY stopped at the stored key and was undone; the merge stored the rest
    assert (result.created, result.updated, result.unchanged) == (99, 1, 0)
    assert Shipment.objects.filter(vendor=vendor).count() == 100
    assert ShipmentEvent.objects.filter(shipment__vendor=vendor).count() == 100
    changed = Shipment.objects.get(vendor=vendor, tracking_number="VOL00005")
    assert (changed.actual_weight_kg, changed.revision) == (D("3.000"), 2)


def _race(*batches):
    """shipments_intake of each batch in its own thread and connection, released at once."""
    from django.db import connection as default_connection

    barrier = threading.Barrier(len(batches))
    results, errors = [], []

    def push(records):
        try:
            barrier.wait()
            results.append(shipments_intake(records=records))
        except Exception as exc:  # noqa: BLE001 - reported by the caller's assertion
            errors.append(exc)
        finally:
            default_connection.close()

    threads = [threading.Thread(target=push, args=(records,)) for records in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_new_batch_and_a_resent_one_racing_on_the_same_keys_store_each_once():
    # given: 10 stored shipments; batch A has 200 new ones (COPY path), batch B the same 200 in
    # the opposite order with another weight, plus the 10 stored ones (merge path)
    vendor = VendorFactory(market=market("GB"))
    seller = SellerFactory(market=market("GB"))
    for round_ in range(3):
        prefix = f"R{round_}-"
        stored = _batch(vendor, seller, 10, prefix=f"{prefix}OLD")
        assert shipments_intake(records=stored).created == 10
        new = _batch(vendor, seller, 200, prefix=prefix)
        batch_a = new
        batch_b = _batch(vendor, seller, 200, weight="2.000", prefix=prefix)[::-1] + stored
        # when: both at once, each on its own connection
        results, errors = _race(batch_a, batch_b)

        # then: no deadlock or error; each shared shipment created by one batch and updated by
        # the other (revision 2, one weight for all), its event stored once
        assert errors == []
        assert sum(r.created for r in results) == 200 and sum(r.updated for r in results) == 200
        shared = Shipment.objects.filter(vendor=vendor, tracking_number__startswith=prefix).exclude(
            tracking_number__contains="OLD"
        )
        assert shared.count() == 200 and set(shared.values_list("revision", flat=True)) == {2}
        assert len(set(shared.values_list("actual_weight_kg", flat=True))) == 1
        assert ShipmentEvent.objects.filter(shipment__in=shared).count() == 200


# Values the fast check meets: each kind the full check refuses or reads in its own way.
_ODD_VALUES = [
    *[None, "", "  ", 0, 1, 7, True, 1.5, [], {}, ["x"], {"a": 1}, "\x00", "a\x00", " x ", "x", "x" * 31, "x" * 65],
    *["1.2", "1.25", "1.2345", "-1", "0", "0.00", "-0", "1e3", "1E-2", "NaN", "Infinity", "1_000", "10000.001"],
    *["1000.0", "9999999999999999.99", "99999999999999999", "12.5", "12.505"],
    *["2026-11-02", " 2026-11-02 ", "2026-02-30", "20261102", "2026-11-01", "02/11/2026", "2026-11-05"],
    *["2026-11-02T09:00:00", "2026-11-02T09:00:00Z", "2026-11-02T09:00:00+07:00", "2026-11-02 09:00"],
    *["2026-11-02T25:00", "delivered", " returned ", "teleported", "GB", "DE", "GBP", "EUR"],
]


def _odd_events(rng):
    event = {"status": "picked_up", "at": "2026-11-02T09:00:00Z"}
    return rng.choice(
        [
            [],
            [event],
            [event, dict(event)],
            [{**event, "note": "x"}],
            [{"status": "picked_up"}],
            [{**event, "at": rng.choice(_ODD_VALUES)}],
            [{**event, "status": rng.choice(_ODD_VALUES)}],
            ["picked_up"],
            "picked_up",
        ]
    )


@pytest.mark.django_db
def test_the_plain_check_accepts_only_what_the_full_check_accepts_with_the_same_values():
    # given: a valid record and 3,000 seeded variations of it (codes of two markets, odd values,
    # odd events, unknown keys)
    gb, id_ = market("GB"), market("ID")
    vendors = [VendorFactory(market=gb), VendorFactory(market=id_)]
    sellers = [SellerFactory(market=gb), SellerFactory(market=id_)]
    base = {
        "tracking_number": "T1",
        "vendor": vendors[0].code,
        "seller": sellers[0].code,
        "service": "STD",
        "origin_zone": "LDN",
        "destination_zone": "MAN",
        "actual_weight_kg": "1.250",
        "length_cm": "30",
        "width_cm": "20",
        "height_cm": "10",
        "cod_amount": "12.50",
        "ship_date": "2026-11-02",
        "events": [{"status": "picked_up", "at": "2026-11-02T09:00:00Z"}],
    }
    keys = [*base, "market", "currency", "service_level", "delivered_date", "status", "status_at", "extra\x00", "note"]
    codes = [v.code for v in vendors] + [s.code for s in sellers] + ["NOPE"]
    rng = random.Random(18)
    records = [base]
    for _ in range(3000):
        record = dict(base)
        for key in rng.sample(keys, rng.randint(1, 3)):
            if key == "events":
                record[key] = _odd_events(rng)
            elif rng.random() < 0.1:
                record.pop(key, None)
            else:
                record[key] = rng.choice(codes if key in ("vendor", "seller") else _ODD_VALUES)
        records.append(record)
    lookups = Lookups(records)
    plain = PlainCheck(lookups)

    # when / then: where the fast check answers, it answers as the full check does
    answered = 0
    for record in records:
        fast = plain(record)
        try:
            full = clean_record(record, lookups)
        except RecordRejected as reject:
            full = ("rejected", reject.field)
        if fast is not None:
            answered += 1
            assert fast == full, record
    assert plain(base) is not None and answered > 300


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_statistics_are_refreshed_once_small_batches_add_up_to_a_tenth_of_the_table(monkeypatch):
    from billing.intake import writes

    # given: 200 shipments whose statistics were just taken
    vendor = VendorFactory(market=market("GB"))
    seller = SellerFactory(market=market("GB"))
    table = Shipment._meta.db_table

    def flushed_reltuples() -> float:
        # Make this connection's write counts visible to the next statement's statistics.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_force_next_flush()")
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
            return cursor.fetchone()[0]

    def small_batch(n: int) -> tuple[float, bool]:
        result = shipments_intake(records=_batch(vendor, seller, 5, prefix=f"SMALL{n}-"))
        assert result.created == 5
        return flushed_reltuples(), "analyze" in result.timings

    assert shipments_intake(records=_batch(vendor, seller, 200, prefix="BASE")).created == 200
    flushed_reltuples()
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")
    assert flushed_reltuples() == 200

    # when: batches of 5, each far below a tenth of the table, the fourth bringing the writes
    # since the statistics to a tenth (20) less than a minute after they were taken
    seen = [small_batch(n) for n in range(4)]
    # and one more as if that minute had passed
    monkeypatch.setattr(writes, "ANALYZE_EVERY_S", 0)
    seen.append(small_batch(4))

    # then: refreshed once, by the last, with the 25 rows written since
    assert seen == [(200, False)] * 4 + [(225, True)]


def _waiting_for_a_lock(seconds: float = 30) -> bool:
    """Whether another session of this database waits for a lock (polled until `seconds`)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.05)
    return False


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_batch_committing_an_event_of_a_shipment_another_batch_has_locked_does_not_deadlock():
    from django.db import connection as default_connection
    from django.db import transaction

    from billing.intake import writes

    # given: two stored shipments; batch B changes the second and sends a new event (same status)
    # for the first; batch C changes both
    vendor = VendorFactory(market=market("GB"))
    seller = SellerFactory(market=market("GB"))
    assert shipments_intake(records=_batch(vendor, seller, 2)).created == 2
    batch_b = _batch(vendor, seller, 2)
    batch_b[1]["actual_weight_kg"] = "3.000"
    batch_b[0]["events"] = [{"status": "picked_up", "at": "2026-11-02T11:00:00Z"}]
    batch_c = _batch(vendor, seller, 2, weight="4.000")
    c_about_to_lock, b_written = threading.Event(), threading.Event()
    errors = []

    def pause_before_locking(execute, sql, params, many, context):
        # C has merged its new rows (none) and is about to lock the changed ones: let B write first.
        if sql == writes.LOCK_SQL:
            c_about_to_lock.set()
            b_written.wait(30)
        return execute(sql, params, many, context)

    def push_c():
        try:
            with default_connection.execute_wrapper(pause_before_locking):
                shipments_intake(records=batch_c)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            default_connection.close()

    def push_b():
        try:
            c_about_to_lock.wait(30)
            with transaction.atomic():
                shipments_intake(records=batch_b)  # locks and changes the second shipment
                b_written.set()
                # C locks the first shipment and waits for B's lock on the second; then B commits,
                # which checks its new event's foreign key on the first.
                assert _waiting_for_a_lock()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            default_connection.close()

    # when
    threads = [threading.Thread(target=push_c), threading.Thread(target=push_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then: no deadlock; B's changes, then C's over them
    assert errors == []
    rows = {s.tracking_number: s for s in Shipment.objects.filter(vendor=vendor)}
    assert [(rows[t].actual_weight_kg, rows[t].revision) for t in ("VOL00000", "VOL00001")] == [
        (D("4.000"), 2),
        (D("4.000"), 3),
    ]
    assert ShipmentEvent.objects.filter(shipment=rows["VOL00000"]).count() == 2
