from celery import shared_task

from .period_workbook import period_workbook_generate
from .services import ledger_check


@shared_task(acks_late=True)
def ledger_check_task() -> dict:
    """Nightly proof that the ledger holds its invariants (read-only, safe to repeat)."""
    return ledger_check()


@shared_task(acks_late=True)
def period_workbook_task(workbook_id: int) -> str:
    """Write a period workbook (idempotent: a done workbook is left as it is)."""
    return period_workbook_generate(workbook_id=workbook_id).status


@shared_task(acks_late=True)
def import_job_task(job_id: int) -> str:
    """Import an uploaded file (settlement_ops.import_jobs); a job no longer queued is left as it
    is, so a redelivered message does nothing."""
    from .import_jobs import import_job_run
    from .models import ImportJob

    if not ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).exists():
        return "skipped"
    return import_job_run(job_id=job_id).status


@shared_task(acks_late=True)
def import_jobs_sweep_task() -> int:
    """Re-send lost import job messages and resume jobs whose worker died (idempotent)."""
    from .import_jobs import import_jobs_sweep

    return len(import_jobs_sweep())
