from celery import shared_task

from .services import ledger_check


@shared_task(acks_late=True)
def ledger_check_task() -> dict:
    """Nightly proof that the ledger holds its invariants (read-only, safe to repeat)."""
    return ledger_check()
