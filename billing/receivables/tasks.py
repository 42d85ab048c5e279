from celery import shared_task

from .dunning import dunning_run


@shared_task(acks_late=True)
def dunning_run_task() -> dict:
    """Nightly: move overdue invoices up the dunning ladder. Idempotent (one notice per invoice
    and level), so a redelivered message or a second run the same day sends nothing."""
    return dunning_run()


@shared_task(acks_late=True)
def statements_run_task() -> dict:
    """Nightly: write each active market's statements (and invoices) for its last complete period
    (monthly or weekly, Market.statement_cycle) once it is over. Idempotent: sellers that have
    the period's statement are skipped, so every night after the first does nothing."""
    from settlement_ops.errors import DomainError
    from settlement_ops.models import Market

    from .services import statement_period, statements_generate

    result = {}
    for market in Market.objects.filter(is_active=True):
        start, end = statement_period(market=market)
        try:
            result[market.code] = len(
                statements_generate(actor=None, market=market, period_start=start, period_end=end)
            )
        except DomainError as exc:
            result[market.code] = exc.message
    return result
