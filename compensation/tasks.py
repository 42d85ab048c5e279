"""Compensation's nightly job: audit the day's requests, charge back what is due, draw the QA
sample, build guarantee claims and match their credits; the weekly digest. Each step is
idempotent, so a redelivered message or a second run repeats nothing."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from settlement_ops.errors import DomainError

from . import services
from .models import AuditPolicy


@shared_task(acks_late=True)
def compensation_nightly_task() -> dict:
    result = {}
    active = AuditPolicy.objects.filter(status=AuditPolicy.Status.ACTIVE, market__is_active=True)
    for policy in active.select_related("market"):
        market = policy.market
        try:
            run = services.audit_run(market=market)
            posted = services.chargebacks_post_due(market=market)
            sampled = services.qa_sample_draw(market=market, day=market.local_date())
            claims = services.guarantee_claims_build(market=market)
            credited = services.guarantee_claims_check_credits(market=market)
        except DomainError as exc:
            result[market.code] = exc.message
            continue
        result[market.code] = {
            "audited": run.audited,
            "chargebacks": posted,
            "sampled": sampled,
            "claims": len(claims),
            "credited": credited,
        }
    return result


@shared_task(acks_late=True)
def compensation_digest_task() -> int:
    """Weekly (beat: Monday morning): the QA team's digest of the week up to yesterday."""
    return services.digest_send(end=timezone.localdate() - timedelta(days=1))


__all__ = ["compensation_nightly_task", "compensation_digest_task"]
