"""Billing runs that heal themselves (issue #11), rule by rule through the services and tasks:
a held chunk is not "done", the sweep re-sends lost work from the run's state, stalls are
measured from the last progress, failed runs resume with back-off and alert once, a new start
completes a failed run first, the nightly check proves every line posted once, and the pages
say what is going on. Celery runs in-process here; tests/billing/test_faults.py does it with
real workers, a flushed broker and a cut database."""

from contextlib import suppress
from datetime import date, timedelta
from decimal import Decimal

import psycopg2
import pytest
from django.db import connection
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from billing import services
from billing.models import BillingRun, BillingRunChunk, BillingRunEntry, ChargeLine
from billing.selectors import charge_lines_integrity, charge_lines_posted, unposted_runs
from billing.services import (
    ChunkBusy,
    billing_chunk_rate,
    billing_run_start,
    billing_runs_dispatch,
    billing_runs_sweep,
)
from billing.tasks import billing_sweep_task
from settlement_ops.models import AuditEvent
from settlement_ops.roles import Role
from tests.billing.helpers import gb_setup, make_shipment
from tests.factories import UserFactory, market

D = Decimal
BUSINESS_DATE = date(2026, 11, 10)


def _shipments(n, weight="1"):
    vendor, seller, _, _ = gb_setup()
    for _ in range(n):
        make_shipment(vendor=vendor, seller=seller, weight=weight)


def _plan(chunk_size=2):
    """A run planned in chunks of `chunk_size`, whose messages were never sent (as if lost)."""
    services.CHUNK_SIZE, saved = chunk_size, services.CHUNK_SIZE
    try:
        return billing_run_start(market=market("GB"), business_date=BUSINESS_DATE, enqueue=False)
    finally:
        services.CHUNK_SIZE = saved


def _raw_connection():
    return psycopg2.connect(**connection.get_connection_params())


class RatingFails(Exception):
    pass


def _fail_rating(execute, sql, params, many, context):
    if "INSERT INTO billing_chargeline" in sql:
        raise RatingFails("rating statement failed")
    return execute(sql, params, many, context)


def _sweep_while_failing(django_capture_on_commit_callbacks, now):
    """One sweep while rating fails: the messages it sends run in-process and fail as a worker's
    would (their error is the worker's to log, not the sweep's)."""
    with connection.execute_wrapper(_fail_rating):
        with django_capture_on_commit_callbacks() as callbacks:
            report = billing_runs_sweep(now=now)
        for callback in callbacks:
            with suppress(Exception):  # the chunk failed, as intended
                callback()
    return report


def _all_lines_posted_once():
    lines = ChargeLine.objects.aggregate(n=Sum("vendor_net"), s=Sum("seller_net"))
    posted = BillingRunEntry.objects.aggregate(n=Sum("vendor_net"), s=Sum("seller_net"))
    return lines == posted and charge_lines_posted() == [] and charge_lines_integrity() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_chunk_held_by_another_transaction_is_busy_not_done_and_the_sweep_leaves_it():
    # given: a planned run; another backend (a worker, or a killed worker's) holds chunk 1's row
    _shipments(4)
    run = _plan()
    first, second = run.chunks.order_by("seq")
    holder = _raw_connection()
    try:
        with holder.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {BillingRunChunk._meta.db_table} WHERE id = %s FOR UPDATE", [first.pk])
        # when: its message is delivered (again)
        with pytest.raises(ChunkBusy):
            billing_chunk_rate(chunk_id=first.pk, post_when_done=False)
        # then: nothing was acknowledged as done
        assert BillingRunChunk.objects.get(pk=first.pk).status == BillingRunChunk.Status.PENDING
        # and the sweep re-sends only the chunk nobody holds (in-process: it is rated at once)
        report = billing_runs_sweep(now=timezone.now() + timedelta(seconds=31))
        assert report["requeued"] == {run.pk: [2]}
        assert BillingRunChunk.objects.get(pk=second.pk).status == BillingRunChunk.Status.DONE
    finally:
        holder.rollback()
        holder.close()
    # when: the holder rolled back (the killed worker's backend noticed); the task's retry comes
    assert billing_chunk_rate(chunk_id=first.pk) == "done"
    # then: the run completed, every line posted once
    run.refresh_from_db()
    assert run.status == BillingRun.Status.COMPLETED and run.shipments_rated == 4
    assert _all_lines_posted_once()


@pytest.mark.django_db
def test_sweep_resends_lost_chunk_messages_once_the_run_is_idle(django_capture_on_commit_callbacks, settings):
    # given: three chunks whose messages were lost (broker queue flushed)
    _shipments(6)
    run = _plan()
    now = timezone.now()
    BillingRunChunk.objects.filter(run=run).update(queued_at=now, sends=1)
    # when: the sweep runs before BILLING_REQUEUE_AFTER has passed
    with django_capture_on_commit_callbacks(execute=True):
        early = billing_runs_sweep(now=now + timedelta(seconds=settings.BILLING_REQUEUE_AFTER - 1))
    # then: nothing is re-sent yet (the messages may still be in the queue)
    assert early["requeued"] == {} and run.chunks.filter(status="done").count() == 0
    # when: the beat task runs once the requeue limit has passed
    with django_capture_on_commit_callbacks(execute=True):
        report = billing_runs_sweep(now=now + timedelta(seconds=settings.BILLING_REQUEUE_AFTER))
    # then: every chunk was sent again, rated, and the run posted
    assert report["requeued"] == {run.pk: [1, 2, 3]}
    run.refresh_from_db()
    assert run.status == BillingRun.Status.COMPLETED and run.shipments_rated == 6
    assert run.requeue_note == "Re-sent 3 chunk message(s): 1, 2, 3"
    assert list(run.chunks.values_list("sends", flat=True)) == [2, 2, 2]
    assert _all_lines_posted_once()
    # and a run with nothing left is not touched by the beat task
    assert billing_sweep_task.delay().result == {}


@pytest.mark.django_db
def test_sweep_resends_a_lost_posting(django_capture_on_commit_callbacks):
    # given: every chunk done, but the posting message was lost
    _shipments(2)
    run = _plan()
    for chunk in run.chunks.all():
        billing_chunk_rate(chunk_id=chunk.pk, post_when_done=False)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        report = billing_runs_sweep(now=timezone.now() + timedelta(seconds=31))
    # then
    assert report["posted"] == [run.pk]
    run.refresh_from_db()
    assert run.status == BillingRun.Status.COMPLETED and _all_lines_posted_once()


@pytest.mark.django_db
def test_stall_is_measured_from_the_last_progress_not_the_start(settings, client_as):
    # given: a run started two hours ago whose first chunk finished just now; the rest is stuck
    settings.BILLING_REQUEUE_AFTER = 3600  # nothing re-sent in this test
    _shipments(4)
    run = _plan()
    BillingRun.objects.filter(pk=run.pk).update(
        started_at=timezone.now() - timedelta(hours=2), progress_at=timezone.now() - timedelta(hours=2)
    )
    first, second = run.chunks.order_by("seq")
    billing_chunk_rate(chunk_id=first.pk, post_when_done=False)
    finished = BillingRunChunk.objects.get(pk=first.pk).finished_at
    stall = timedelta(seconds=settings.BILLING_STALL_AFTER)
    # when: the sweep runs within the stall limit of that progress
    report = billing_runs_sweep(now=finished + stall - timedelta(seconds=1))
    # then: not stalled (the start is two hours ago, but it moved)
    run.refresh_from_db()
    assert report["stalled"] == [] and run.health()["state"] == "running"
    # when: no progress for the stall limit
    report = billing_runs_sweep(now=finished + stall)
    # then: stalled since its last progress, with the reason, audit-logged once
    run.refresh_from_db()
    assert report["stalled"] == [run.pk]
    assert run.stalled_since == finished
    assert "No progress since" in run.stall_reason and "1 of 2 chunk(s) open, 0 held by a worker" in run.stall_reason
    assert run.health()["state"] == "stalled"
    billing_runs_sweep(now=finished + stall + timedelta(minutes=1))
    assert AuditEvent.objects.filter(action="billing_run_stalled", object_id=str(run.pk)).count() == 1
    # and the run page says so instead of "Running, 50%"
    page = client_as(Role.FINANCE_SPECIALIST).get(reverse("billing:run_detail", args=[run.pk])).content.decode()
    assert "Stalled</span>" in page and "No progress since" in page and "not moving" in page
    # when: it moves again, the stall is cleared
    billing_chunk_rate(chunk_id=second.pk, post_when_done=False)
    billing_runs_sweep(now=timezone.now())
    run.refresh_from_db()
    assert run.stalled_since is None and run.stall_reason == ""


@pytest.mark.django_db
def test_a_failed_run_resumes_by_itself_with_back_off(django_capture_on_commit_callbacks, settings):
    # given: one chunk that fails for good (a database outage, say)
    settings.BILLING_CHUNK_MAX_ATTEMPTS = 1
    backoff = timedelta(seconds=settings.BILLING_RECOVERY_BACKOFF)
    _shipments(3)
    run = _plan(chunk_size=10)
    chunk = run.chunks.get()
    with connection.execute_wrapper(_fail_rating), pytest.raises(RatingFails):
        billing_chunk_rate(chunk_id=chunk.pk)
    run.refresh_from_db()
    assert run.status == BillingRun.Status.FAILED and "rating statement failed" in run.error
    assert run.next_recovery_at == run.failed_at + backoff
    assert run.health()["state"] == "retrying" and run.health()["attempt"] == 1
    # when: the sweep comes before the back-off passed
    with django_capture_on_commit_callbacks(execute=True):
        report = billing_runs_sweep(now=run.failed_at + backoff - timedelta(seconds=1))
    assert report["resumed"] == []
    # when: after it, and the cause persists: the run fails again, waiting twice as long
    report = _sweep_while_failing(django_capture_on_commit_callbacks, run.failed_at + backoff)
    run.refresh_from_db()
    assert report["resumed"] == [run.pk]
    assert run.status == BillingRun.Status.FAILED and run.recovery_attempts == 1
    assert run.next_recovery_at == run.failed_at + 2 * backoff
    # when: the cause is gone and the second back-off passed
    with django_capture_on_commit_callbacks(execute=True):
        report = billing_runs_sweep(now=run.next_recovery_at)
    # then: completed without a person, every line posted once
    run.refresh_from_db()
    assert report["resumed"] == [run.pk]
    assert run.status == BillingRun.Status.COMPLETED and run.recovery_attempts == 2 and run.shipments_rated == 3
    assert AuditEvent.objects.filter(action="billing_run_recover", object_id=str(run.pk)).count() == 2
    assert _all_lines_posted_once()


@pytest.mark.django_db
def test_recovery_gives_up_after_n_attempts_and_alerts_finance_once(
    django_capture_on_commit_callbacks, settings, mailoutbox, user_with_role
):
    # given: finance users (one without an address, one inactive) and a run that keeps failing
    settings.BILLING_CHUNK_MAX_ATTEMPTS = 1
    settings.BILLING_RECOVERY_MAX_ATTEMPTS = 2
    specialist = user_with_role(Role.FINANCE_SPECIALIST)
    approver = user_with_role(Role.FINANCE_APPROVER)
    user_with_role(Role.FINANCE_APPROVER, email="")
    user_with_role(Role.FINANCE_SPECIALIST, is_active=False)
    user_with_role(Role.AUDITOR)
    _shipments(2)
    run = _plan(chunk_size=10)
    with connection.execute_wrapper(_fail_rating), pytest.raises(RatingFails):
        billing_chunk_rate(chunk_id=run.chunks.get().pk)
    # when: the sweep keeps coming, each time after the back-off
    for _ in range(6):
        run.refresh_from_db()
        _sweep_while_failing(
            django_capture_on_commit_callbacks, (run.next_recovery_at or timezone.now()) + timedelta(hours=1)
        )
    # then: two automatic resumes, then one e-mail to the active finance users with an address
    run.refresh_from_db()
    assert run.status == BillingRun.Status.FAILED and run.recovery_attempts == 2
    assert run.alerted_at is not None and run.health()["state"] == "failed"
    assert len(mailoutbox) == 1
    assert sorted(mailoutbox[0].to) == sorted([specialist.email, approver.email])
    assert f"Billing run {run.pk} of GB" in mailoutbox[0].subject
    assert "rating statement failed" in mailoutbox[0].body
    assert AuditEvent.objects.filter(action="billing_run_alert", object_id=str(run.pk)).count() == 1
    # and the nightly dispatcher leaves the market alone (no second run beside the failed one)
    assert billing_runs_dispatch(markets=[market("GB")]) == []
    # when: a person resumes it after fixing the cause
    with django_capture_on_commit_callbacks(execute=True):
        services.billing_run_resume(run=run, actor=specialist)
    run.refresh_from_db()
    assert run.status == BillingRun.Status.COMPLETED and run.recovery_attempts == 0 and run.alerted_at is None


@pytest.mark.django_db
def test_alert_goes_to_the_configured_addresses(django_capture_on_commit_callbacks, settings, mailoutbox):
    settings.BILLING_ALERT_EMAILS = ["billing-oncall@marketplace.example"]
    settings.BILLING_RECOVERY_MAX_ATTEMPTS = 0
    UserFactory(role=Role.FINANCE_SPECIALIST)
    _shipments(1)
    run = _plan()
    BillingRun.objects.filter(pk=run.pk).update(status=BillingRun.Status.FAILED, error="Chunk 1 failed")
    with django_capture_on_commit_callbacks(execute=True):
        billing_runs_sweep()
        billing_runs_sweep()
    assert [m.to for m in mailoutbox] == [["billing-oncall@marketplace.example"]]


@pytest.mark.django_db
def test_a_new_start_after_a_failed_run_completes_it_and_every_line_is_posted_once(
    django_capture_on_commit_callbacks, settings, client_as
):
    # given: a run whose first chunk committed its lines and whose second failed for good
    settings.BILLING_CHUNK_MAX_ATTEMPTS = 1
    _shipments(4)
    failed = _plan()
    first, second = failed.chunks.order_by("seq")
    billing_chunk_rate(chunk_id=first.pk, post_when_done=False)
    with connection.execute_wrapper(_fail_rating), pytest.raises(RatingFails):
        billing_chunk_rate(chunk_id=second.pk)
    failed.refresh_from_db()
    assert failed.status == BillingRun.Status.FAILED
    # then: the nightly check names its two stored, unposted lines
    problems = charge_lines_posted()
    assert len(problems) == 1
    assert problems[0].startswith(f"Billing run {failed.pk} (GB {BUSINESS_DATE}, failed): 2 charge line(s) not posted")
    assert "vendor cost GBP 7.90" in problems[0]
    # when: a person starts the market's run for a later date
    with django_capture_on_commit_callbacks(execute=True):
        response = client_as(Role.FINANCE_SPECIALIST).post(
            reverse("billing:run_start"), {"market": "GB", "business_date": "2026-11-11"}, follow=True
        )
    # then: the failed run was resumed and completed instead of a second run rating only the rest
    failed.refresh_from_db()
    assert failed.status == BillingRun.Status.COMPLETED and failed.shipments_rated == 4
    assert BillingRun.objects.count() == 1
    assert "is not finished, so it was resumed first" in response.content.decode()
    assert failed.vendor_net_total == D("15.80")  # all four lines, the first chunk's included
    assert _all_lines_posted_once()
    # when: started again, a new run rates nothing twice
    with django_capture_on_commit_callbacks(execute=True):
        again = billing_run_start(market=market("GB"), business_date=date(2026, 11, 11))
    again.refresh_from_db()
    assert again.pk != failed.pk and again.shipments_rated == 0 and ChargeLine.objects.count() == 4
    assert _all_lines_posted_once()


@pytest.mark.django_db
def test_nightly_check_spares_progressing_runs_and_flags_stale_and_misposted_ones(django_capture_on_commit_callbacks):
    # given: an active run with one chunk rated just now
    _shipments(4)
    run = _plan()
    billing_chunk_rate(chunk_id=run.chunks.order_by("seq").first().pk, post_when_done=False)
    # then: it is progressing — not a problem now, but one after the stall limit
    assert charge_lines_posted() == []
    later = unposted_runs(now=timezone.now() + timedelta(hours=1))
    assert [(row["run"].pk, row["lines"]) for row in later] == [(run.pk, 2)]
    # when: it completes
    with django_capture_on_commit_callbacks(execute=True):
        billing_runs_sweep(now=timezone.now() + timedelta(minutes=1))
    assert _all_lines_posted_once()
    # when: an entry's recorded figures no longer match the lines (posted twice, say)
    BillingRunEntry.objects.filter(run=run).update(vendor_net=D("31.60"))
    # then
    assert charge_lines_posted() == [
        f"Billing run {run.pk} posted amounts that differ from its charge lines (vendor cost posted 31.60, lines 15.80)"
    ]


@pytest.mark.django_db
def test_run_pages_and_api_show_running_stalled_retrying_failed_and_completed(client_as, api_as, settings):
    # given: one run in each state (one market each: one active run per market)
    now = timezone.now()

    def run(code, **fields):
        return BillingRun.objects.create(
            market=market(code), business_date=BUSINESS_DATE, currency=market(code).currency, **fields
        )

    running = run("GB", status="running", started_at=now, progress_at=now, chunk_count=5)
    stalled = run(
        "DE",
        status="running",
        started_at=now - timedelta(hours=1),
        stalled_since=now - timedelta(minutes=12),
        stall_reason="No progress since 01:02:03 UTC (12 min): 2 of 5 chunk(s) open, 1 held by a worker",
        requeued_at=now,
        requeue_note="Re-sent 1 chunk message(s): 4",
    )
    retrying = run(
        "FR",
        status="failed",
        error="Chunk 3 failed 3 times: OperationalError: server closed the connection",
        failed_at=now,
        recovery_attempts=1,
        next_recovery_at=now + timedelta(minutes=2),
    )
    failed = run(
        "ID",
        status="failed",
        error="Chunk 1 failed 3 times: DataError: numeric field overflow",
        recovery_attempts=settings.BILLING_RECOVERY_MAX_ATTEMPTS,
        alerted_at=now,
    )
    completed = run("VN", status="completed", started_at=now, finished_at=now)
    client = client_as(Role.FINANCE_SPECIALIST)
    # when / then: the list
    page = client.get(reverse("billing:run_list")).content.decode()
    for label in ("Running</span>", "Stalled</span>", "Retrying</span>", "Failed</span>", "Completed</span>"):
        assert label in page
    assert "attempt 2 of 5" in page and "numeric field overflow" in page and "1 held by a worker" in page
    # and each detail page
    expected = {
        running: ["Running</span>"],
        stalled: ["Stalled</span>", "1 held by a worker", "Re-sent 1 chunk message(s): 4"],
        retrying: ["Retrying</span>", "automatic resume 2 of 5", "server closed the connection"],
        failed: ["Failed</span>", "after 5 automatic resumes", "finance e-mailed", "numeric field overflow"],
        completed: ["Completed</span>"],
    }
    for each, texts in expected.items():
        detail = client.get(reverse("billing:run_detail", args=[each.pk])).content.decode()
        for text in texts:
            assert text in detail, (each.status, text)
    # and the API
    rows = api_as(Role.FINANCE_SPECIALIST).get("/api/billing-runs/").json()["results"]
    states = {row["id"]: (row["health"]["state"], row["health"]["attempt"]) for row in rows}
    assert states == {
        running.pk: ("running", 0),
        stalled.pk: ("stalled", 0),
        retrying.pk: ("retrying", 2),
        failed.pk: ("failed", 5),
        completed.pk: ("completed", 0),
    }
