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
