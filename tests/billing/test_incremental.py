"""Incremental nightly runs: a run looks only at what can need rating since the last completed run
(new ids, shipments written since it started less a margin, later ship dates, its exceptions, the
amendment window) — and every shipment that needs rating is still found."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import F

from billing import rating, services
from billing.models import BillingRun, ChargeLine, RatingException, Shipment
from billing.services import billing_run_start
from tests.billing.helpers import gb_setup, make_contract, make_fee_schedule, make_shipment
from tests.factories import market

D = Decimal
NIGHT_1 = date(2026, 11, 10)
NIGHT_2 = date(2026, 11, 11)


def _run(business_date, capture):
    with capture(execute=True):
        run = billing_run_start(market=market("GB"), business_date=business_date)
    run.refresh_from_db()
    return run


def _resend(shipment, weight):
    """The vendor re-sends a shipment with another weight, through the intake service."""
    result = services.shipments_intake(
        records=[
            {
                "tracking_number": shipment.tracking_number,
                "vendor": shipment.vendor.code,
                "seller": shipment.seller.code,
                "service": shipment.service_level,
                "origin_zone": shipment.origin_zone,
                "destination_zone": shipment.destination_zone,
                "actual_weight_kg": weight,
                "ship_date": str(shipment.ship_date),
            }
        ]
    )
    assert result.updated == 1


@pytest.mark.django_db
def test_the_next_night_finds_every_shipment_that_needs_rating_and_looks_at_nothing_else(
    django_capture_on_commit_callbacks,
):
    # given: night 1 rates a 1 kg shipment (3.95 / fee 4.99) and lists two it cannot rate
    vendor, seller, _, _ = gb_setup()
    untouched = make_shipment(vendor=vendor, seller=seller, weight="1")  # first: outside every chunk's id range
    amended = make_shipment(vendor=vendor, seller=seller, weight="1")
    no_weight = make_shipment(vendor=vendor, seller=seller, weight=None)
    express = make_shipment(vendor=vendor, seller=seller, weight="1", service="EXP")  # no express contract yet
    shipped_later = make_shipment(vendor=vendor, seller=seller, weight="1", ship_date=NIGHT_2)
    unseen = make_shipment(vendor=vendor, seller=seller, weight="1")
    first = _run(NIGHT_1, django_capture_on_commit_callbacks)
    assert (first.shipments_rated, first.exception_count) == (3, 2)
    # `unseen` stands for a write night 1 did not see (committed after its snapshot, stamped a few
    # minutes before it started); `untouched` for a rated shipment nothing happened to since.
    ChargeLine.objects.filter(shipment__in=[unseen, untouched]).delete()
    # a day passes: night 1 started yesterday, and everything was written before it
    BillingRun.objects.filter(pk=first.pk).update(started_at=F("started_at") - timedelta(days=1))
    first.refresh_from_db()
    Shipment.objects.update(updated_at=first.started_at - timedelta(hours=1))
    Shipment.objects.filter(pk=unseen.pk).update(updated_at=first.started_at - timedelta(minutes=5))
    # then during the day: the vendor corrects one weight to 2.3 kg, an express contract is agreed
    # (express 5.10 flat), and a shipment arrives that was shipped weeks ago
    _resend(amended, "2.3")
    make_contract(vendor=vendor, service="EXP", lines=[("LDN", "LDN", "0", "30", "5.10", "0", "1", "0")])
    make_fee_schedule(service="EXP")
    backdated = make_shipment(vendor=vendor, seller=seller, weight="1", ship_date=date(2026, 10, 1))
    since = services._since(services._last_completed(market("GB")))

    # when: planning, then night 2
    ranges = rating.chunk_ranges(
        market_code="GB", business_date=NIGHT_2, watermark=backdated.pk, size=1000, rerate_from=None, since=since
    )
    second = _run(NIGHT_2, django_capture_on_commit_callbacks)

    # then: planning counted exactly the six that may need rating, never `untouched`
    assert sum(count for _first, _last, count in ranges) == 6
    lines = {line.shipment_id: line for line in ChargeLine.objects.filter(run=second)}
    assert {pk: (line.kind, line.vendor_net, line.seller_net) for pk, line in lines.items()} == {
        amended.pk: ("delta", D("1.90"), D("1.35")),  # 5.85 - 3.95, 6.34 - 4.99
        express.pk: ("original", D("5.10"), D("4.99")),  # was no_contract on night 1
        shipped_later.pk: ("original", D("3.95"), D("4.99")),  # shipped after night 1's date
        backdated.pk: ("original", D("3.95"), D("4.99")),  # new id, old ship date
        unseen.pk: ("original", D("3.95"), D("4.99")),  # written within the margin before night 1
    }
    assert list(RatingException.objects.filter(run=second).values_list("shipment_id", "code")) == [
        (no_weight.pk, "missing_weight")  # still listed, so finance still sees it
    ]
    assert (second.shipments_rated, second.exception_count) == (5, 1)
    assert (second.vendor_net_total, second.seller_net_total) == (D("18.85"), D("21.31"))
    assert not ChargeLine.objects.filter(shipment=untouched).exists()


@pytest.mark.django_db
def test_an_amendment_activated_just_before_the_last_run_is_still_re_rated(django_capture_on_commit_callbacks):
    # given: night 1 rates a 1 kg shipment at 3.95
    vendor, seller, version, _ = gb_setup()
    shipment = make_shipment(vendor=vendor, seller=seller, weight="1")
    first = _run(NIGHT_1, django_capture_on_commit_callbacks)
    BillingRun.objects.filter(pk=first.pk).update(started_at=F("started_at") - timedelta(days=1))
    first.refresh_from_db()
    Shipment.objects.update(updated_at=first.started_at - timedelta(hours=1))
    # when: version 2 (4.20 for the first kilo, effective 2026-11-01) was activated two minutes
    # before night 1 started but committed after it had read the versions
    from tests.billing.helpers import STANDARD_LINES, add_version

    lines = [("LDN", "LDN", "0", "1", "4.20", "0", "1", "0"), *STANDARD_LINES[1:]]
    add_version(
        contract=version.contract,
        number=2,
        effective_from=date(2026, 11, 1),
        lines=lines,
        activated_at=first.started_at - timedelta(minutes=2),
    )
    second = _run(NIGHT_2, django_capture_on_commit_callbacks)
    # then: the difference is charged as a delta
    delta = ChargeLine.objects.get(run=second)
    assert (delta.shipment_id, delta.kind, delta.vendor_net, delta.seller_net) == (
        shipment.pk,
        "delta",
        D("0.25"),
        D("0.00"),
    )


@pytest.mark.django_db
def test_a_bulk_run_refreshes_the_statistics_of_what_it_wrote(django_capture_on_commit_callbacks, monkeypatch):
    # given: a run counts as bulk from one shipment on
    monkeypatch.setattr(services, "ANALYZE_AFTER_LINES", 1)
    vendor, seller, _, _ = gb_setup()
    make_shipment(vendor=vendor, seller=seller, weight="1")

    def analyzed() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = %s", [ChargeLine._meta.db_table]
            )
            return cursor.fetchone()[0]

    before = analyzed()
    # when
    run = _run(NIGHT_1, django_capture_on_commit_callbacks)
    # then: posted, and the charge lines analysed once
    assert run.status == BillingRun.Status.COMPLETED
    assert analyzed() == before + 1
