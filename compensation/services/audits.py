"""Audit runs (set-based, see compensation/audit.py) and the QA override of the liable party."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from settlement_ops.db import retry_on_conflict
from settlement_ops.errors import ConflictError, DomainError
from settlement_ops.models import AccountKind, AuditEvent, Market
from settlement_ops.money import quantize
from settlement_ops.services import PostingLine, account_for, audit_record, ledger_post

from ..audit import audit_statements
from ..models import AuditPolicy, AuditRun, CompensationRequest, LiableParty


@retry_on_conflict
@transaction.atomic(durable=True)
def audit_run(*, market: Market, actor=None) -> AuditRun:
    """Audit every pending request of the market against its active policy, set-based.

    Posts what the audited requests paid to buyers (Dr compensation expense / Cr clearing: the
    instruments were paid out by the issuing systems), idempotent per run. Runs of one market are
    serialised by a lock on the active policy row, so a request is audited once.

    Raises DomainError when the market has no active policy.
    """
    policy = (
        AuditPolicy.objects.select_for_update(of=("self",))
        .select_related("market")
        .filter(market=market, status=AuditPolicy.Status.ACTIVE)
        .first()
    )
    if policy is None:
        raise DomainError(f"{market.code} has no active compensation audit policy.", code="no_policy")
    max_id = CompensationRequest.objects.filter(market=market).aggregate(m=Max("id"))["m"] or 0
    now = timezone.now()
    run = AuditRun.objects.create(
        market=market, policy=policy, started_by=actor if getattr(actor, "pk", None) else None
    )
    summary = audit_statements(policy=policy, max_id=max_id, now=now)
    run.audited = summary["audited"]
    run.compliant = summary["compliant"]
    run.non_compliant = summary["non_compliant"]
    run.needs_review = summary["needs_review"]
    run.amount_total = quantize(summary["amount"], market.currency)
    run.status, run.finished_at = AuditRun.Status.DONE, timezone.now()
    if run.amount_total > 0:
        run.entry = ledger_post(
            market=market,
            entry_date=market.local_date(),
            lines=[
                PostingLine(
                    account_for(market=market, kind=AccountKind.COMPENSATION_EXPENSE),
                    run.amount_total,
                    f"{run.audited} buyer compensations",
                ),
                PostingLine(account_for(market=market, kind=AccountKind.CLEARING), -run.amount_total, "Paid to buyers"),
            ],
            # The run's start makes the key unique even if run ids were ever reused (a restore).
            idempotency_key=f"compensation:audit_run:{run.pk}:{run.started_at:%Y%m%dT%H%M%S%f}",
            source_type="compensation.audit_run",
            source_id=str(run.pk),
            description=f"Buyer compensations audited in run {run.pk} ({market.code})",
            actor=actor,
        )
    run.save()
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="compensation_audit_run",
        obj=run,
        detail={k: str(v) for k, v in summary.items()} | {"policy": policy.pk},
    )
    return run


def audit_run_all_markets(*, actor=None) -> list[AuditRun]:
    """The nightly audit: every market with an active policy, each in its own transaction."""
    runs = []
    active = AuditPolicy.objects.filter(status=AuditPolicy.Status.ACTIVE, market__is_active=True)
    for policy in active.select_related("market"):
        runs.append(audit_run(market=policy.market, actor=actor))
    return runs


@transaction.atomic(durable=True)
def liable_override(*, actor, request: CompensationRequest, party: str, reason: str) -> CompensationRequest:
    """QA decides the liable party against the rules, with a reason; history keeps both. A
    request already charged back is changed by disputing the chargeback instead."""
    request = CompensationRequest.objects.select_for_update().get(pk=request.pk)
    reason = (reason or "").strip()
    if party not in (LiableParty.CARRIER, LiableParty.SELLER, LiableParty.PLATFORM):
        raise DomainError("Choose carrier, seller or platform.", field="party")
    if not reason:
        raise DomainError("Give the reason for the override.", code="required", field="reason")
    if hasattr(request, "chargeback"):
        raise ConflictError(
            "This compensation was already charged back; dispute the chargeback to change who carries it.",
            code="charged_back",
        )
    if party == LiableParty.CARRIER and request.shipment_id is None:
        raise DomainError("No shipment is known for this request, so no carrier can be charged.", field="party")
    if party == LiableParty.SELLER and request.shipment_id is None:
        raise DomainError("No shipment is known for this request, so no seller can be charged.", field="party")
    before = {"party": request.liable_party, "basis": request.liable_basis}
    request.liable_party = party
    request.liable_basis = f"Decided by QA ({actor.username}): {reason}"[:255]
    request.liable_overridden = True
    request._change_reason = reason[:100]
    request.save(update_fields=["liable_party", "liable_basis", "liable_overridden"])
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="compensation_liable_override",
        obj=request,
        detail={"before": before, "party": party, "reason": reason},
    )
    return request
