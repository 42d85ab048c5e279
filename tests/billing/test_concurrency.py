"""Real concurrency (PostgreSQL) and the chunk task through Celery and Redis."""

import time
from datetime import date
from decimal import Decimal

import pytest

from billing import services
from billing.models import BillingRun, BillingRunChunk, ChargeLine
from billing.services import billing_chunk_rate, billing_run_post, billing_run_start
from billing.tasks import billing_chunk_task
from settlement_ops.models import JournalEntry, Posting
from tests.billing.helpers import gb_setup, make_shipment
from tests.conftest import run_concurrently
from tests.factories import market

D = Decimal


def _shipments(n):
    vendor, seller, _, _ = gb_setup()
    for _ in range(n):
        make_shipment(vendor=vendor, seller=seller, weight="1")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_on_the_same_chunk_rate_it_once():
    # given: one run, one chunk, not yet rated
    _shipments(20)
    run = billing_run_start(market=market("GB"), business_date=date(2026, 11, 10), enqueue=False)
    chunk = run.chunks.get()
    # when: two workers get the same message at the same moment
    results, errors = run_concurrently(
        lambda: billing_chunk_rate(chunk_id=chunk.pk, post_when_done=False),
        lambda: billing_chunk_rate(chunk_id=chunk.pk, post_when_done=False),
    )
    # then: one rated it; the other found it held (ChunkBusy: its task retries later, never
    # acknowledging it as done) or, if it came after the commit, done; 20 lines, not 40
    outcomes = sorted(type(e).__name__ if e else r for r, e in zip(results, errors, strict=True))
    assert outcomes in (["ChunkBusy", "done"], ["done", "skipped"])
    assert ChargeLine.objects.count() == 20
    assert BillingRunChunk.objects.get(pk=chunk.pk).rated_count == 20


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_chunks_racing_over_the_same_shipments_never_double_rate():
    # given: a second chunk row covering the same id range (as a faulty plan or a race would make)
    _shipments(30)
    run = billing_run_start(market=market("GB"), business_date=date(2026, 11, 10), enqueue=False)
    a = run.chunks.get()
    b = BillingRunChunk.objects.create(
        run=run, seq=2, first_shipment_id=a.first_shipment_id, last_shipment_id=a.last_shipment_id
    )
    # when
    results, errors = run_concurrently(
        lambda: billing_chunk_rate(chunk_id=a.pk, post_when_done=False),
        lambda: billing_chunk_rate(chunk_id=b.pk, post_when_done=False),
    )
    # then: exactly one line per shipment
    assert ChargeLine.objects.count() == 30
    assert ChargeLine.objects.values("shipment").distinct().count() == 30
    assert len(set(ChargeLine.objects.values_list("chunk_id", flat=True))) == 1
    # the loser either waited and found nothing left to rate, or hit the constraint and rolled back
    assert sum(1 for e in errors if e is not None) <= 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_posting_twice_at_once_posts_once():
    _shipments(5)
    run = billing_run_start(market=market("GB"), business_date=date(2026, 11, 10), enqueue=False)
    billing_chunk_rate(chunk_id=run.chunks.get().pk, post_when_done=False)
    results, errors = run_concurrently(lambda: billing_run_post(run_id=run.pk), lambda: billing_run_post(run_id=run.pk))
    assert errors == [None, None]
    assert JournalEntry.objects.filter(source_type="billing_run").count() == 1
    assert sum(Posting.objects.values_list("amount", flat=True)) == 0
    assert BillingRun.objects.get(pk=run.pk).vendor_net_total == D("19.75")


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_billing_run_through_celery_and_redis(live_celery_worker):
    # given: 50 shipments in 3 chunks
    _shipments(50)
    services.CHUNK_SIZE, saved = 20, services.CHUNK_SIZE
    try:
        # when: started normally; the chunk tasks and the posting travel through Redis to the worker
        run = billing_run_start(market=market("GB"), business_date=date(2026, 11, 10))
    finally:
        services.CHUNK_SIZE = saved
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status == BillingRun.Status.COMPLETED:
            break
        time.sleep(0.2)
    # then
    assert run.status == BillingRun.Status.COMPLETED, run.error
    assert run.chunk_count == 3 and run.shipments_rated == 50
    assert ChargeLine.objects.count() == 50
    assert run.vendor_net_total == D("197.50")
    # a redelivered chunk message through the broker changes nothing
    billing_chunk_task.delay(run.chunks.first().pk)
    time.sleep(1)
    assert ChargeLine.objects.count() == 50
    assert JournalEntry.objects.filter(source_type="billing_run").count() == 1
