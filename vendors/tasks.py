from celery import shared_task
from django.utils import timezone

from .services import contracts_expire


@shared_task(acks_late=True)
def contracts_expire_task() -> int:
    """Nightly: mark active contracts past their valid_to as expired (idempotent)."""
    return contracts_expire(today=timezone.localdate())
