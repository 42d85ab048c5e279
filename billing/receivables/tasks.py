from celery import shared_task

from .dunning import dunning_run


@shared_task(acks_late=True)
def dunning_run_task() -> dict:
    """Nightly: move overdue invoices up the dunning ladder. Idempotent (one notice per invoice
    and level), so a redelivered message or a second run the same day sends nothing."""
    return dunning_run()
