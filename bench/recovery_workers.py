"""The worker processes of bench/recovery.py. Spawned: this module imports nothing of Django at
the top, so a child can load it before `django.setup()`."""

from __future__ import annotations

import queue as queue_module
import time


def _setup_worker() -> None:
    import django

    django.setup()
    from settlement_ops.celery import app

    # Messages the sweep re-sends run in this process (it is the worker).
    app.conf.task_always_eager = True


def first_worker(chunks) -> None:
    _setup_worker()
    from billing.services import billing_chunk_rate

    while True:
        try:
            chunk_id = chunks.get(timeout=1)
        except queue_module.Empty:
            return
        billing_chunk_rate(chunk_id=chunk_id)


def fresh_worker(chunks, run_id: int, sweep_every: float) -> None:
    _setup_worker()
    from billing.models import BillingRun as Run
    from billing.services import billing_chunk_rate, billing_runs_sweep

    # Worst case for beat's phase: it swept just before the kill, so the next sweep is a full
    # interval away.
    next_sweep = time.monotonic() + sweep_every
    while not Run.objects.filter(pk=run_id, status=Run.Status.COMPLETED).exists():
        if time.monotonic() >= next_sweep:
            billing_runs_sweep()
            next_sweep = time.monotonic() + sweep_every
        try:
            chunk_id = chunks.get(timeout=0.2)
        except queue_module.Empty:
            continue
        billing_chunk_rate(chunk_id=chunk_id)
