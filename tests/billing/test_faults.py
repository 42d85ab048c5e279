"""Billing runs under the faults production has (issue #11), with REAL Celery worker processes on
Redis and the test database: a worker killed mid-chunk, the broker's queue flushed, the database's
connections cut and refused, a chunk message delivered while another transaction holds the
chunk. Each time the run completes without a person and its totals equal a clean run's.

The sweep is driven by the test every half second, standing in for beat; the limits are short
(BILLING_REQUEUE_AFTER = 1 s, back-off 1 s) so each test takes seconds, not minutes. Workers run
in their own process group and are always killed; leftover backends are terminated, so the
test database can be flushed."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, suppress
from datetime import date
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import psycopg2
import pytest
from django.db import connection
from django.db.models import Sum

from billing import services
from billing.models import BillingRun, BillingRunChunk, BillingRunEntry, ChargeLine, ChargeLineTotal
from billing.selectors import charge_lines_integrity, charge_lines_posted
from billing.services import billing_run_start, billing_runs_sweep
from billing.tasks import billing_chunk_task
from settlement_ops.models import AuditEvent
from tests.billing.helpers import gb_setup, make_shipment
from tests.factories import market

D = Decimal
ROOT = Path(__file__).resolve().parents[2]
# A clean run's charge per 1 kg and 2.3 kg GB shipment: (vendor net, seller net, seller VAT).
PRICES = {"1": (D("3.95"), D("4.99"), D("1.00")), "2.3": (D("5.85"), D("6.34"), D("1.27"))}
WEIGHTS = ["1", "2.3", "1"] * 10  # 30 shipments, 3 chunks of 10

pytestmark = [pytest.mark.celery_worker, pytest.mark.postgres]


def _database_url() -> str:
    """The test database as a DATABASE_URL for worker processes (a socket directory in the query
    form, as the embedded server's)."""
    params = connection.get_connection_params()
    auth = quote(params.get("user") or "", safe="")
    if params.get("password"):
        auth += f":{quote(params['password'], safe='')}"
    host = params.get("host") or "127.0.0.1"
    if host.startswith("/"):
        return f"postgres://{auth}@/{params['dbname']}?host={host}"
    return f"postgres://{auth}@{quote(host, safe='')}:{params.get('port') or 5432}/{params['dbname']}"


class Workers:
    """Celery worker processes (solo pool, one task at a time) against the test database."""

    def __init__(self, env: dict):
        self.env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "DJANGO_SETTINGS_MODULE": "settlement_ops.settings.test",
            **env,
        }
        self.procs = []
        self.logs = []

    def start(self, name: str) -> subprocess.Popen:
        # Closed and removed by stop_all, whatever the test did.
        log = tempfile.NamedTemporaryFile("w+", prefix=f"billing-{name}-", suffix=".log", delete=False)  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "settlement_ops", "worker", "--pool=solo", "-l", "warning"]
            + ["-n", f"{name}-{os.getpid()}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed whole
        )
        self.procs.append(proc)
        self.logs.append(log)
        return proc

    @staticmethod
    def kill(proc) -> None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def output(self) -> str:
        text = []
        for log in self.logs:
            log.seek(0)
            text.append(log.read()[-3000:])
        return "\n---\n".join(text)

    def stop_all(self) -> None:
        for proc in self.procs:
            self.kill(proc)
        for log in self.logs:
            log.close()
            os.unlink(log.name)


@pytest.fixture
def workers(transactional_db, settings):
    """A broker the test sends through (Redis, not in-process), short recovery limits, and
    worker processes that are always killed, their backends terminated, the database reopened."""
    from settlement_ops.celery import app

    settings.BILLING_REQUEUE_AFTER = 1
    settings.BILLING_RECOVERY_BACKOFF = 1
    app.conf.task_always_eager = False
    app.control.purge()
    pool = Workers({"BILLING_REQUEUE_AFTER": "1", "BILLING_RECOVERY_BACKOFF": "1", "BILLING_CHUNK_MAX_ATTEMPTS": "1"})
    try:
        yield pool
    finally:
        pool.stop_all()
        app.control.purge()
        app.conf.task_always_eager = True
        _allow_connections(True)
        _terminate_other_backends()


def _terminate_other_backends(keep=()) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid), pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND NOT (pid = ANY(%s))",
            [list(keep)],
        )
        return [pid for _, pid in cursor.fetchall()]


def _raw_connection(dbname=None):
    params = connection.get_connection_params()
    return psycopg2.connect(**{**params, "dbname": dbname or params["dbname"]})


def _allow_connections(allow: bool) -> None:
    """Open or close the test database to new connections (existing ones stay). PostgreSQL
    refuses this from a connection to the database itself, so it is said from `postgres`."""
    admin = _raw_connection("postgres")
    try:
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(
                f'ALTER DATABASE "{connection.settings_dict["NAME"]}" ALLOW_CONNECTIONS {str(allow).lower()}'
            )
    finally:
        admin.close()


@contextmanager
def _chunk_totals_locked():
    """Hold the chunk totals table so a chunk's rating statement waits (inside its transaction,
    holding its chunk) until released. Yields the holder's connection."""
    holder = _raw_connection()
    try:
        with holder.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {ChargeLineTotal._meta.db_table} IN EXCLUSIVE MODE")
        yield holder
    finally:
        holder.rollback()
        holder.close()


def _wait_for(condition, timeout: float, what: str, pool: Workers):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}\n{pool.output()}")


def _lock_waiters() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
            "AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


def _shipments():
    vendor, seller, _, _ = gb_setup()
    for weight in WEIGHTS:
        make_shipment(vendor=vendor, seller=seller, weight=weight)


def _start_run() -> BillingRun:
    services.CHUNK_SIZE, saved = 10, services.CHUNK_SIZE
    try:
        run = billing_run_start(market=market("GB"), business_date=date(2026, 11, 10))
    finally:
        services.CHUNK_SIZE = saved
    assert run.chunk_count == 3
    return run


def _drive_to_completion(run: BillingRun, pool: Workers, timeout: float = 30) -> BillingRun:
    """Beat's part: sweep every half second until the run completed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        billing_runs_sweep()
        run.refresh_from_db()
        if run.status == BillingRun.Status.COMPLETED:
            return run
        time.sleep(0.5)
    chunks = list(run.chunks.values_list("seq", "status", "attempts", "sends", "error"))
    raise AssertionError(f"run {run.pk} is {run.status} ({run.error or run.stall_reason}); {chunks}\n{pool.output()}")


def _assert_clean_totals(run: BillingRun) -> None:
    vendor_net = sum(PRICES[w][0] for w in WEIGHTS)
    seller_net = sum(PRICES[w][1] for w in WEIGHTS)
    seller_vat = sum(PRICES[w][2] for w in WEIGHTS)
    assert (run.vendor_net_total, run.seller_net_total, run.seller_vat_total) == (vendor_net, seller_net, seller_vat)
    assert run.shipments_rated == len(WEIGHTS)
    assert ChargeLine.objects.count() == len(WEIGHTS) == ChargeLine.objects.values("shipment").distinct().count()
    posted = BillingRunEntry.objects.filter(run=run).aggregate(n=Sum("line_count"), v=Sum("vendor_net"))
    assert (posted["n"], posted["v"]) == (len(WEIGHTS), vendor_net)
    assert charge_lines_integrity() == [] and charge_lines_posted() == []


def test_a_worker_killed_mid_chunk_is_recovered_by_a_fresh_worker(workers):
    # given: 30 shipments in 3 chunks; a worker inside chunk 1's transaction, waiting in its rating
    _shipments()
    with _chunk_totals_locked():
        first = workers.start("first")
        run = _start_run()
        waiter = _wait_for(_lock_waiters, 30, "the worker to wait inside its chunk", workers)
        # when: the worker is SIGKILLed (its message stays unacknowledged in Redis for the
        # visibility timeout, its backend still holds the chunk) and a fresh one starts at once
        Workers.kill(first)
        workers.start("fresh")
        # the killed worker's backend is still there, holding its chunk
        assert BillingRunChunk.objects.filter(run=run, status="pending").count() == 3
        assert waiter
    # then: once the backend noticed and rolled back, the sweep re-sends the chunk; done, no person
    run = _drive_to_completion(run, workers)
    _assert_clean_totals(run)
    assert run.chunks.get(seq=1).sends >= 2  # its message was sent again


def test_a_flushed_broker_queue_is_re_sent_from_the_run_state(workers):
    # given: a run started while no worker is up; its messages wait in Redis
    _shipments()
    run = _start_run()
    # when: the broker's queue is flushed, then a worker starts
    from settlement_ops.celery import app

    flushed = app.control.purge()
    workers.start("after-flush")
    # then: the sweep re-sends every flushed chunk from PostgreSQL and the run completes
    run = _drive_to_completion(run, workers)
    _assert_clean_totals(run)
    # (a worker thread an earlier test left in this process may have taken a message first)
    resent = [sends for sends in run.chunks.order_by("seq").values_list("sends", flat=True) if sends >= 2]
    assert flushed >= 1 and len(resent) >= flushed


def test_a_cut_database_fails_the_run_and_it_recovers_by_itself(workers):
    # given: a worker inside chunk 1, waiting in its rating (one failure fails a chunk here)
    _shipments()
    with _chunk_totals_locked() as holder:
        workers.start("cut")
        run = _start_run()
        _wait_for(_lock_waiters, 30, "the worker to wait inside its chunk", workers)
        # when: its database connections are cut
        assert _terminate_other_backends(keep=[holder.get_backend_pid()])
        # then: the chunk failed and with it the run (recorded by the worker)
        _wait_for(
            lambda: BillingRun.objects.filter(pk=run.pk, status="failed").exists(), 15, "the run to fail", workers
        )
        # when: the database refuses every new connection for 3 s while the sweep resumes the run
        _allow_connections(False)
        try:
            _terminate_other_backends(keep=[holder.get_backend_pid()])
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                billing_runs_sweep()
                time.sleep(0.5)
        finally:
            _allow_connections(True)
    # then: the run completes without a person, resumed automatically at least once
    run = _drive_to_completion(run, workers)
    _assert_clean_totals(run)
    assert AuditEvent.objects.filter(action="billing_run_recover", object_id=str(run.pk)).exists()
    assert run.recovery_attempts >= 1


def test_a_message_for_a_held_chunk_is_retried_not_acknowledged(workers):
    # given: another transaction holds chunk 1 (as a killed worker's backend would)
    _shipments()
    holder = _raw_connection()
    try:
        workers.start("busy")
        services.CHUNK_SIZE, saved = 10, services.CHUNK_SIZE
        try:
            run = billing_run_start(market=market("GB"), business_date=date(2026, 11, 10), enqueue=False)
        finally:
            services.CHUNK_SIZE = saved
        first = run.chunks.get(seq=1)
        with holder.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {BillingRunChunk._meta.db_table} WHERE id = %s FOR UPDATE", [first.pk])
        # when: every chunk message is delivered twice
        for chunk_id in run.chunks.values_list("pk", flat=True):
            billing_chunk_task.delay(chunk_id)
            billing_chunk_task.delay(chunk_id)
        _wait_for(lambda: run.chunks.filter(status="done").count() == 2, 30, "chunks 2 and 3", workers)
        time.sleep(1)
        # then: chunk 1 is not done while held
        assert BillingRunChunk.objects.get(pk=first.pk).status == BillingRunChunk.Status.PENDING
    finally:
        holder.rollback()
        holder.close()
    # when: released, the task's own retries rate it and the run posts — no sweep needed
    _wait_for(
        lambda: BillingRun.objects.filter(pk=run.pk, status="completed").exists(), 20, "the run to complete", workers
    )
    run.refresh_from_db()
    _assert_clean_totals(run)
