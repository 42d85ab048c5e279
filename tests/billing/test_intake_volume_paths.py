"""The set-based shipment intake (COPY into staging, one statement per kind of write): a retried
batch writes nothing twice, bad records are named by row and field while the rest are stored, and
text that COPY must escape arrives intact."""

from decimal import Decimal

import pytest
from django.db import connection

from billing.models import Shipment, ShipmentEvent
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
    import threading

    from django.db import connection as default_connection

    from billing.intake import shipments_intake

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
