"""Billing jobs. Thin: each re-fetches by id and calls one service; state lives in the database,
so a redelivered message (acks_late) re-runs an idempotent step."""

from celery import shared_task
from django.conf import settings

from settlement_ops.models import Market

from .models import BillingRun
from .services import ChunkBusy, billing_chunk_rate, billing_run_post, billing_runs_dispatch, billing_runs_sweep

# A chunk held by another transaction is tried again this many seconds later (far under the
# broker's visibility timeout), up to BUSY_MAX_RETRIES times (10 minutes); after that the sweep
# re-sends it once nobody holds it.
BUSY_COUNTDOWN = 5
BUSY_MAX_RETRIES = 120


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(Exception,),
    dont_autoretry_for=(ChunkBusy,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=5,
)
def billing_chunk_task(self, chunk_id: int) -> str:
    """Rate one chunk of a billing run (one transaction; a retry after a crash redoes it whole).
    A chunk another transaction holds is retried later, never acknowledged as done."""
    try:
        return billing_chunk_rate(chunk_id=chunk_id)
    except ChunkBusy as busy:
        if self.request.is_eager:
            return "busy"  # in-process: the holder finishes it, or the sweep re-sends it
        raise self.retry(exc=busy, countdown=BUSY_COUNTDOWN, max_retries=BUSY_MAX_RETRIES) from busy


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=5, retry_backoff_max=300, max_retries=5)
def billing_run_post_task(run_id: int) -> str:
    """Post a run's ledger entries once all its chunks are done (idempotent)."""
    return billing_run_post(run_id=run_id).status


@shared_task(acks_late=True)
def billing_sweep_task() -> dict:
    """Every BILLING_SWEEP_EVERY seconds (beat): re-send lost work, mark stalls, resume failed runs."""
    report = billing_runs_sweep()
    return {key: value for key, value in report.items() if value}


@shared_task(acks_late=True)
def billing_run_all_markets_task() -> list[dict]:
    """Nightly job (`manage.py run_nightly`): run billing for every active market's yesterday."""
    runs = billing_runs_dispatch(markets=Market.objects.filter(is_active=True), trigger=BillingRun.Trigger.SCHEDULE)
    if settings.CELERY_TASK_ALWAYS_EAGER:
        runs = [BillingRun.objects.get(pk=run.pk) for run in runs]
    return [
        {
            "run": run.pk,
            "market": run.market_id,
            "business_date": str(run.business_date),
            "status": run.status,
            "rated": run.shipments_rated,
            "exceptions": run.exception_count,
        }
        for run in runs
    ]
