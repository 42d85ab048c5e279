"""Risk and nightly-chain jobs. Thin: state lives in PostgreSQL (risk.nightly_chain), so a
redelivered message re-runs only what is not done."""

from datetime import date

from celery import shared_task

from settlement_ops.models import Market

from .nightly_chain import chain_run, chains_due


@shared_task(acks_late=True)
def nightly_chain_task(market_code: str, business_date: str) -> str:
    """Run one market's chain as far as it goes (its steps are idempotent)."""
    market = Market.objects.get(code=market_code)
    return chain_run(market=market, business_date=date.fromisoformat(business_date)).status


@shared_task(acks_late=True)
def nightly_dispatch_task() -> list[str]:
    """Beat, every NIGHTLY_DISPATCH_EVERY seconds: start the chain of each market whose local
    midnight passed, and resume chains whose waiting or retrying step is due."""
    due = chains_due()
    for market, day in due:
        nightly_chain_task.delay(market.code, str(day))
    return [f"{market.code}:{day}" for market, day in due]
