"""Recovery from a killed worker: `billing_recovery_s` is the time from SIGKILL of a worker
process in the middle of a chunk to the run's completion, a fresh worker process started at once.

The broker is played by a queue shared by the worker processes, with Celery's semantics here
(acks_late, prefetch 1): a worker takes one chunk message at a time; the one a killed worker was
running is lost with it (in Redis it is parked until the visibility timeout), the rest wait in the
queue for the next worker. Each worker rates through `billing_chunk_rate` (what the chunk task
calls); the fresh worker also runs `billing_runs_sweep` every BILLING_SWEEP_EVERY seconds (what
beat does; the first a full interval after the kill, beat's worst phase), whose re-sent messages
it runs in-process. Nothing else knows about the killed chunk:
it is found from the run's state in PostgreSQL.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

from django.conf import settings
from django.db import connection
from django.utils import timezone

from billing import services
from billing.models import BillingRun, BillingRunChunk
from settlement_ops.models import Market

from . import MARKET, data
from .recovery_workers import first_worker, fresh_worker


def _chunk(run_id: int, seq: int) -> BillingRunChunk:
    return BillingRunChunk.objects.get(run_id=run_id, seq=seq)


def measure(*, business_date, chunk_size: int | None) -> dict:
    """Rate market ZZ again in worker processes, SIGKILL the first inside a chunk, start a fresh
    one at once; returns {"seconds" (kill -> completed), "chunks", "killed_chunk", "resent"}."""
    if chunk_size:
        services.CHUNK_SIZE = chunk_size
    data.reset_runs()
    run = services.billing_run_start(
        market=Market.objects.get(pk=MARKET),
        business_date=business_date,
        trigger=BillingRun.Trigger.COMMAND,
        enqueue=False,
    )
    chunk_ids = list(run.chunks.order_by("seq").values_list("pk", flat=True))
    # The run's messages: sent now, into the shared queue.
    BillingRunChunk.objects.filter(run=run).update(queued_at=timezone.now(), sends=1)
    connection.close()  # the workers are spawned; nothing shared
    spawn = multiprocessing.get_context("spawn")
    chunks = spawn.Queue()
    for chunk_id in chunk_ids:
        chunks.put(chunk_id)
    first = spawn.Process(target=first_worker, args=(chunks,), daemon=True)
    first.start()
    # Kill it half-way through its second chunk (its first if there is only one): when that chunk
    # was taken and half a chunk's time has passed.
    victim = 2 if len(chunk_ids) > 1 else 1
    deadline = time.monotonic() + 600
    while _chunk(run.pk, victim).taken_at is None:
        if time.monotonic() > deadline or not first.is_alive():
            raise SystemExit("bench: the first worker never reached the chunk to kill it in")
        time.sleep(0.05)
    one = _chunk(run.pk, 1)
    chunk_seconds = (one.finished_at - one.taken_at).total_seconds() if victim == 2 and one.finished_at else 2.0
    time.sleep(max(0.2, chunk_seconds / 2))
    os.kill(first.pid, signal.SIGKILL)
    killed = time.monotonic()
    fresh = spawn.Process(target=fresh_worker, args=(chunks, run.pk, settings.BILLING_SWEEP_EVERY), daemon=True)
    fresh.start()
    first.join()
    try:
        while not BillingRun.objects.filter(pk=run.pk, status=BillingRun.Status.COMPLETED).exists():
            if not fresh.is_alive():
                raise SystemExit(f"bench: the fresh worker stopped (exit {fresh.exitcode}) before the run completed")
            if time.monotonic() - killed > 600:
                raise SystemExit("bench: the run did not complete within 10 minutes of the kill")
            time.sleep(0.1)
        recovered = time.monotonic()
    finally:
        fresh.join(30)
        if fresh.is_alive():
            fresh.kill()
    run.refresh_from_db()
    victim_chunk = _chunk(run.pk, victim)
    return {
        "seconds": recovered - killed,
        "chunks": len(chunk_ids),
        "killed_chunk": victim,
        "killed_chunk_sends": victim_chunk.sends,
        "rated": run.shipments_rated,
    }
