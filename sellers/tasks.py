from celery import shared_task

from .desk.services import sla_sweep


@shared_task
def desk_sla_sweep_task() -> dict:
    """Escalates breached tickets and closes resolved ones after 7 quiet days (idempotent)."""
    return sla_sweep()
