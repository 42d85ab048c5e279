"""Billing runs: exceptions and re-runs, retries and interruptions (no double rating, ledger
balanced), retroactive amendments as deltas, one ledger entry per run and vendor."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from billing import services
from billing.models import (
    BillingRun,
    BillingRunChunk,
    BillingRunEntry,
    ChargeLine,
    ChargeLineTotal,
    RatingException,
    Shipment,
)
from billing.selectors import charge_lines_integrity
from billing.services import billing_chunk_rate, billing_run_post, billing_run_resume, billing_run_start
from billing.tasks import billing_chunk_task, billing_run_all_markets_task
from settlement_ops.models import AccountKind, JournalEntry, Posting
from settlement_ops.roles import Role
from settlement_ops.selectors import balance
from tests.billing.helpers import STANDARD_LINES, add_version, gb_setup, make_shipment, resend_weight
from tests.factories import SellerFactory, market

D = Decimal
GB = "GB"
BUSINESS_DATE = date(2026, 11, 10)


def _start(**kwargs):
    return billing_run_start(market=market(GB), business_date=BUSINESS_DATE, **kwargs)


def _balanced():
    totals = {}
    for entry_id, amount in Posting.objects.values_list("entry_id", "amount"):
        totals[entry_id] = totals.get(entry_id, D(0)) + amount
    return all(total == 0 for total in totals.values())


@pytest.mark.django_db
def test_run_rates_posts_one_entry_per_vendor_and_lists_exceptions(django_capture_on_commit_callbacks):
    # given: two vendors; 1 kg shipments (GBP 3.95 freight, seller fee 4.99) and three that cannot be rated
    vendor, seller, _, _ = gb_setup()
    other_vendor, _, _, _ = gb_setup()
    for _ in range(3):
        make_shipment(vendor=vendor, seller=seller, weight="1")
    make_shipment(vendor=other_vendor, seller=seller, weight="1")
    missing_weight = make_shipment(vendor=vendor, seller=seller, weight=None)
    no_lane = make_shipment(vendor=vendor, seller=seller, origin="XXX")
    no_contract = make_shipment(vendor=vendor, seller=seller, service="EXPRESS")
    make_shipment(vendor=vendor, seller=seller, weight="1", ship_date=date(2026, 11, 11))  # after the business date
    # when
    with django_capture_on_commit_callbacks(execute=True):
        run = _start()
    # then
    run.refresh_from_db()
    assert run.status == BillingRun.Status.COMPLETED
    assert (run.shipments_rated, run.exception_count) == (4, 3)
    assert run.vendor_net_total == D("15.80")  # 4 x 3.95
    assert run.seller_net_total == D("19.96")  # 4 x 4.99
    assert run.seller_vat_total == D("4.00")  # 4 x 1.00 (20% of 4.99 = 0.998)
    codes = dict(RatingException.objects.filter(run=run).values_list("shipment_id", "code"))
    assert codes == {missing_weight.pk: "missing_weight", no_lane.pk: "no_rate_line", no_contract.pk: "no_contract"}
    entries = BillingRunEntry.objects.filter(run=run).order_by("vendor_id")
    assert [(e.vendor_id, e.line_count, e.vendor_net) for e in entries] == [
        (vendor.pk, 3, D("11.85")),
        (other_vendor.pk, 1, D("3.95")),
    ]
    assert JournalEntry.objects.filter(source_type="billing_run", source_id=str(run.pk)).count() == 2
    m = market(GB)
    assert balance(market=m, kind=AccountKind.LOGISTICS_COST) == {"GBP": D("15.80")}
    assert balance(market=m, kind=AccountKind.ACCRUED_LOGISTICS_COST, party_type="vendor", party_id=vendor.pk) == {
        "GBP": D("-11.85")
    }
    assert balance(market=m, kind=AccountKind.SELLER_RECEIVABLE, party_type="seller", party_id=seller.pk) == {
        "GBP": D("23.96")
    }
    assert balance(market=m, kind=AccountKind.LOGISTICS_REVENUE) == {"GBP": D("-19.96")}
    assert balance(market=m, kind=AccountKind.VAT_OUTPUT) == {"GBP": D("-4.00")}
    assert _balanced()


@pytest.mark.django_db
def test_running_the_same_market_and_date_twice_rates_nothing_twice(django_capture_on_commit_callbacks):
    # given
    vendor, seller, _, _ = gb_setup()
    fixable = make_shipment(vendor=vendor, seller=seller, weight=None)
    make_shipment(vendor=vendor, seller=seller, weight="1")
    with django_capture_on_commit_callbacks(execute=True):
        first = _start()
    # when: the weight arrives, and the same market and date are run again (twice)
    Shipment.objects.filter(pk=fixable.pk).update(actual_weight_kg=D("2.3"), revision=2)
    with django_capture_on_commit_callbacks(execute=True):
        second = _start()
    with django_capture_on_commit_callbacks(execute=True):
        third = _start()
    # then: the second run rated only the fixed shipment, the third nothing
    first.refresh_from_db(), second.refresh_from_db(), third.refresh_from_db()
    assert [r.shipments_rated for r in (first, second, third)] == [1, 1, 0]
    assert ChargeLine.objects.count() == 2
    assert ChargeLine.objects.get(shipment=fixable).vendor_base == D("5.85")
    assert JournalEntry.objects.filter(source_type="billing_run").count() == 2  # third run posted nothing
    assert _balanced()


@pytest.mark.django_db
def test_a_second_start_while_active_returns_the_active_run():
    # given
    vendor, seller, _, _ = gb_setup()
    make_shipment(vendor=vendor, seller=seller)
    # when: tasks are not run (captured, not executed), so the first run stays active
    first = _start()
    second = _start()
    # then
    assert first.pk == second.pk and first.status == BillingRun.Status.RUNNING
    assert BillingRun.objects.count() == 1


@pytest.mark.django_db
def test_chunk_retried_after_it_finished_changes_nothing(django_capture_on_commit_callbacks):
    # given: a completed run
    vendor, seller, _, _ = gb_setup()
    for _ in range(5):
        make_shipment(vendor=vendor, seller=seller, weight="1")
    with django_capture_on_commit_callbacks(execute=True):
        run = _start()
    chunk = run.chunks.get()
    # when: the broker redelivers the chunk message and the post message (acks_late)
    outcome = billing_chunk_task.delay(chunk.pk).result
    billing_run_post(run_id=run.pk)
    # then
    assert outcome == "skipped"
    assert ChargeLine.objects.count() == 5
    assert JournalEntry.objects.filter(source_type="billing_run").count() == 1
    assert BillingRun.objects.get(pk=run.pk).vendor_net_total == D("19.75")


@pytest.mark.django_db
def test_a_chunk_rated_again_by_another_transaction_cannot_double_rate(django_capture_on_commit_callbacks):
    # given: a run whose chunk was rated, then marked open again (as if its commit was not seen)
    vendor, seller, _, _ = gb_setup()
    make_shipment(vendor=vendor, seller=seller, weight="1")
    with django_capture_on_commit_callbacks(execute=True):
        run = _start()
    chunk = run.chunks.get()
    BillingRun.objects.filter(pk=run.pk).update(status=BillingRun.Status.RUNNING)
    BillingRunChunk.objects.filter(pk=chunk.pk).update(status=BillingRunChunk.Status.PENDING)
    # when: it runs again
    result = billing_chunk_rate(chunk_id=chunk.pk, post_when_done=False)
    # then: the shipment is no longer eligible; no second line
    assert result == "done"
    assert ChargeLine.objects.count() == 1
    assert BillingRunChunk.objects.get(pk=chunk.pk).rated_count == 0
    # and the chunk's totals still count its one line once
    assert ChargeLineTotal.objects.filter(chunk=chunk).aggregate(n=Sum("line_count"))["n"] == 1
    assert charge_lines_integrity() == []


@pytest.mark.django_db(transaction=True)
def test_a_worker_dying_half_way_leaves_nothing_half_written_and_resume_finishes():
    # given: three chunks; the worker dies inside the second chunk's transaction
    vendor, seller, _, _ = gb_setup()
    for _ in range(6):
        make_shipment(vendor=vendor, seller=seller, weight="1")
    services.CHUNK_SIZE, saved = 2, services.CHUNK_SIZE
    try:
        run = billing_run_start(market=market(GB), business_date=BUSINESS_DATE, enqueue=False)
    finally:
        services.CHUNK_SIZE = saved
    chunks = list(run.chunks.order_by("seq"))
    assert len(chunks) == 3
    billing_chunk_rate(chunk_id=chunks[0].pk, post_when_done=False)

    class WorkerDied(Exception):
        pass

    def die_after_insert(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if "INSERT INTO billing_chargeline" in sql:
            raise WorkerDied
        return result

    with connection.execute_wrapper(die_after_insert), pytest.raises(WorkerDied):
        billing_chunk_rate(chunk_id=chunks[1].pk, post_when_done=False)
    # then: the dead chunk wrote nothing and nothing was posted
    assert ChargeLine.objects.count() == 2
    assert BillingRunChunk.objects.get(pk=chunks[1].pk).status == BillingRunChunk.Status.PENDING
    assert BillingRunChunk.objects.get(pk=chunks[1].pk).attempts == 1
    assert not JournalEntry.objects.filter(source_type="billing_run").exists()
    # when: the run is resumed (eager tasks run the open chunks and the posting)
    billing_run_resume(run=run)
    # then: every shipment rated once, one entry, balanced
    run.refresh_from_db()
    assert run.status == BillingRun.Status.COMPLETED and run.shipments_rated == 6
    assert ChargeLine.objects.count() == 6 and ChargeLine.objects.values("shipment").distinct().count() == 6
    assert JournalEntry.objects.filter(source_type="billing_run").count() == 1
    assert run.vendor_net_total == D("23.70") and _balanced()


@pytest.mark.django_db
def test_retroactive_amendment_posts_only_the_difference(django_capture_on_commit_callbacks):
    # given: rated at version 1 (1 kg: 3.95 freight)
    vendor, seller, version, _ = gb_setup()
    shipment = make_shipment(vendor=vendor, seller=seller, weight="1", ship_date=date(2026, 11, 2))
    untouched = make_shipment(vendor=vendor, seller=seller, weight="1", ship_date=date(2026, 10, 20))
    with django_capture_on_commit_callbacks(execute=True):
        _start()
    # when: version 2, effective 2026-11-01 (in the past), is activated with 1 kg at 4.25
    lines = [("LDN", "LDN", "0", "1", "4.25", "0", "1", "0")] + STANDARD_LINES[1:]
    v2 = add_version(
        contract=version.contract, number=2, effective_from=date(2026, 11, 1), lines=lines, activated_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        second = _start()
    # then: a delta line of +0.30 (and VAT +0.06) for the affected shipment only; old line untouched
    second.refresh_from_db()
    assert second.shipments_rated == 1
    lines = list(ChargeLine.objects.filter(shipment=shipment).order_by("generation"))
    assert [(line.generation, line.kind, line.contract_version_id) for line in lines] == [
        (1, "original", version.pk),
        (2, "delta", v2.pk),
    ]
    assert (lines[0].vendor_base, lines[0].vendor_net) == (D("3.95"), D("3.95"))
    assert (lines[1].vendor_base, lines[1].vendor_net, lines[1].vendor_vat) == (D("0.30"), D("0.30"), D("0.06"))
    assert (lines[1].seller_net, lines[1].seller_vat) == (D("0"), D("0"))  # the seller's fee did not change
    assert ChargeLine.objects.filter(shipment=untouched).count() == 1
    entry = BillingRunEntry.objects.get(run=second)
    assert entry.vendor_net == D("0.30") and entry.seller_net == D("0")
    postings = sorted((p.account.kind, p.amount) for p in entry.entry.postings.select_related("account"))
    assert postings == [(AccountKind.ACCRUED_LOGISTICS_COST, D("-0.30")), (AccountKind.LOGISTICS_COST, D("0.30"))]
    assert balance(market=market(GB), kind=AccountKind.LOGISTICS_COST) == {"GBP": D("8.20")}  # 3.95 + 3.95 + 0.30
    # and running again re-rates nothing
    with django_capture_on_commit_callbacks(execute=True):
        third = _start()
    third.refresh_from_db()
    assert third.shipments_rated == 0 and ChargeLine.objects.count() == 3


@pytest.mark.django_db
def test_corrected_shipment_data_is_re_rated_as_a_delta(django_capture_on_commit_callbacks):
    # given
    vendor, seller, _, _ = gb_setup()
    shipment = make_shipment(vendor=vendor, seller=seller, weight="1")
    with django_capture_on_commit_callbacks(execute=True):
        _start()
    # when: the vendor re-sends it with 2.3 kg
    result = resend_weight(shipment, "2.3")
    with django_capture_on_commit_callbacks(execute=True):
        run = _start()
    # then: 5.85 - 3.95 = 1.90 vendor, 6.34 - 4.99 = 1.35 seller
    assert result.updated == 1
    delta = ChargeLine.objects.get(run=run)
    assert (delta.kind, delta.shipment_revision, delta.vendor_net, delta.seller_net) == (
        "delta",
        2,
        D("1.90"),
        D("1.35"),
    )
    assert sum(line.vendor_net for line in ChargeLine.objects.filter(shipment=shipment)) == D("5.85")


@pytest.mark.django_db
def test_nightly_task_runs_every_market_for_its_yesterday():
    # given: a GB shipment shipped long ago
    vendor, seller, _, _ = gb_setup()
    make_shipment(vendor=vendor, seller=seller, weight="1")
    # when: the nightly job runs (eager)
    results = billing_run_all_markets_task.delay().result
    # then: one run per active market, for the market's yesterday
    assert sorted(r["market"] for r in results) == ["DE", "FR", "GB", "ID", "VN"]
    gb = next(r for r in results if r["market"] == "GB")
    assert gb["business_date"] == str(market(GB).local_date() - timedelta(days=1))
    # a second dispatch the same day starts nothing new
    assert billing_run_all_markets_task.delay().result == []


@pytest.mark.django_db
def test_chunk_totals_equal_the_lines_and_feed_posting_pages_and_the_nightly_check(
    client_as, api_as, django_capture_on_commit_callbacks
):
    # given: two sellers, rated in three chunks (1 kg: 3.95 freight / 4.99 fee; 2.3 kg: 5.85 / 6.34)
    vendor, seller, version, _ = gb_setup()
    other_seller = SellerFactory(market=market(GB))
    for weight, who in [("1", seller), ("1", seller), ("2.3", other_seller), ("1", other_seller), ("2.3", seller)]:
        make_shipment(vendor=vendor, seller=who, weight=weight)
    services.CHUNK_SIZE, saved = 2, services.CHUNK_SIZE
    try:
        with django_capture_on_commit_callbacks(execute=True):
            run = _start()
    finally:
        services.CHUNK_SIZE = saved
    run.refresh_from_db()
    # then: each chunk summed its own lines per vendor, seller and service
    assert run.chunk_count == 3 and ChargeLineTotal.objects.filter(run=run).values("chunk").distinct().count() == 3
    first = ChargeLineTotal.objects.get(chunk=run.chunks.get(seq=1))  # the seller's two 1 kg shipments
    assert (first.seller_id, first.service_level, first.line_count) == (seller.pk, "STD", 2)
    assert (first.vendor_net, first.vendor_vat, first.seller_net, first.seller_vat) == (
        D("7.90"),
        D("1.58"),
        D("9.98"),
        D("2.00"),
    )
    per_seller = {
        row["seller_id"]: (row["n"], row["vendor_net"], row["seller_net"], row["seller_vat"])
        for row in ChargeLineTotal.objects.filter(run=run)
        .values("seller_id")
        .annotate(
            n=Sum("line_count"),
            vendor_net=Sum("vendor_net"),
            seller_net=Sum("seller_net"),
            seller_vat=Sum("seller_vat"),
        )
    }
    assert per_seller == {
        seller.pk: (
            3,
            D("13.75"),
            D("16.32"),
            D("3.27"),
        ),  # 3.95 + 3.95 + 5.85; 4.99 + 4.99 + 6.34; VAT 1.00 + 1.00 + 1.27
        other_seller.pk: (2, D("9.80"), D("11.33"), D("2.27")),  # 5.85 + 3.95; 6.34 + 4.99; VAT 1.27 + 1.00
    }
    # and posting used them: the entry and the run carry the same figures as the lines
    entry = BillingRunEntry.objects.get(run=run)
    assert (entry.line_count, entry.vendor_net, entry.seller_net, entry.seller_vat) == (
        5,
        D("23.55"),
        D("27.65"),
        D("5.54"),
    )
    assert (run.vendor_net_total, run.seller_net_total, run.seller_vat_total) == (D("23.55"), D("27.65"), D("5.54"))
    receivable = {
        p.account.party_id: p.amount
        for p in entry.entry.postings.select_related("account")
        if p.account.kind == AccountKind.SELLER_RECEIVABLE
    }
    assert receivable == {seller.pk: D("19.59"), other_seller.pk: D("13.60")} and _balanced()
    # and the run page shows them
    page = client_as(Role.FINANCE_SPECIALIST).get(reverse("billing:run_detail", args=[run.pk]))
    assert page.status_code == 200
    assert b"23.55" in page.content and b"27.65" in page.content and b"4.10" in page.content  # margin 27.65 - 23.55

    # when: a retroactive amendment re-rates the 1 kg shipments (3.95 -> 4.25)
    lines = [("LDN", "LDN", "0", "1", "4.25", "0", "1", "0")] + STANDARD_LINES[1:]
    add_version(
        contract=version.contract, number=2, effective_from=date(2026, 11, 1), lines=lines, activated_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        second = _start()
    # then: the second run's totals are its delta lines only: every shipment is re-rated at version 2,
    # the three 1 kg ones by +0.30 (VAT +0.06), the two 2.3 kg ones by 0
    grand = ChargeLineTotal.objects.filter(run=second).aggregate(
        n=Sum("line_count"), net=Sum("vendor_net"), vat=Sum("vendor_vat")
    )
    assert (grand["n"], grand["net"], grand["vat"]) == (5, D("0.90"), D("0.18"))
    assert charge_lines_integrity() == []
    # and each run's lines, found by its chunks' shipment ranges, are its own
    api = api_as(Role.FINANCE_SPECIALIST)
    for each, kind in [(run, "original"), (second, "delta")]:
        listed = api.get(f"/api/charge-lines/?run={each.pk}&page_size=50").json()["results"]
        assert (
            sorted((row["kind"], row["vendor_net"]) for row in listed)
            == sorted((kind, f"{line.vendor_net:.4f}") for line in ChargeLine.objects.filter(run=each))
            and len(listed) == 5
        )

    # when: a total no longer matches its lines
    total = ChargeLineTotal.objects.filter(run=run).order_by("pk").first()
    ChargeLineTotal.objects.filter(pk=total.pk).update(vendor_net=total.vendor_net + D("0.01"))
    # then: the nightly check names it
    assert charge_lines_integrity() == ["1 billing run(s) have totals that differ from their charge lines"]
    # and a run's totals missing altogether are found too
    ChargeLineTotal.objects.filter(run=second).delete()
    assert charge_lines_integrity() == ["2 billing run(s) have totals that differ from their charge lines"]
