"""Risk use cases: rule parameters, the nightly rule run, findings and cases. Holds are in
risk.holds. Each use case is one transaction and writes its audit row inside it."""

from __future__ import annotations

import logging
import time
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from settlement_ops.db import retry_on_conflict
from settlement_ops.errors import ConflictError, DomainError
from settlement_ops.models import AuditEvent, Market
from settlement_ops.money import Money, quantize, to_decimal
from settlement_ops.selectors import fx_convert
from settlement_ops.services import approval_check, audit_record, document_number_next

from .models import Case, Finding, Hold, RootCause, RuleVersion
from .rules import RULES, RULES_BY_CODE, Rule

logger = logging.getLogger(__name__)


# --- Rule parameters -------------------------------------------------------------------------------


def _jsonable(params: dict) -> dict:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in params.items()}


def rule_version_current(*, rule: Rule, market: Market) -> RuleVersion:
    """The market's current version of a rule; version 1 with the rule's defaults on first use."""
    current = RuleVersion.objects.filter(rule_code=rule.code, market=market, is_current=True).first()
    if current is not None:
        return current
    version, _ = RuleVersion.objects.get_or_create(
        rule_code=rule.code,
        market=market,
        version=1,
        defaults={"params": _jsonable(rule.defaults(market)), "note": "Defaults"},
    )
    return version


@retry_on_conflict
@transaction.atomic(durable=True)
def rule_params_change(*, actor, rule_code: str, market: Market, params: dict, note: str = "") -> RuleVersion:
    """Add a new version of a rule's parameters for a market. Past findings keep the version that
    raised them. Unknown parameter names are refused."""
    rule = RULES_BY_CODE.get(rule_code)
    if rule is None:
        raise DomainError(f"No rule {rule_code!r}.", field="rule_code")
    allowed = set(rule.defaults(market))
    unknown = set(params) - allowed
    if unknown:
        raise DomainError(f"Unknown parameter(s): {', '.join(sorted(unknown))}.", field="params")
    current = rule_version_current(rule=rule, market=market)
    current = RuleVersion.objects.select_for_update().get(pk=current.pk)
    merged = {**current.params, **_jsonable(params)}
    RuleVersion.objects.filter(pk=current.pk).update(is_current=False)
    version = RuleVersion.objects.create(
        rule_code=rule_code,
        market=market,
        version=current.version + 1,
        params=merged,
        note=note[:255],
        created_by=actor,
    )
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="risk_rule_params_change",
        obj=version,
        detail={"rule": rule_code, "market": market.code, "params": merged, "previous": current.version},
    )
    return version


# --- The nightly rule run --------------------------------------------------------------------------


def _eur(amount: Decimal, currency: str, on: date) -> Decimal | None:
    try:
        return fx_convert(Money(quantize(amount, currency), currency), to="EUR", on=on).amount
    except DomainError:
        return None


@retry_on_conflict
@transaction.atomic(durable=True)
def rule_run(*, rule: Rule, market: Market, today: date) -> dict:
    """Run one rule over one market and upsert its findings: a condition seen before updates its
    finding (last seen, money at risk, evidence), a new one is added. Running twice on the same
    day changes nothing. Returns {"hits", "new", "updated", "seconds"}."""
    started = time.perf_counter()
    version = rule_version_current(rule=rule, market=market)
    params = {**rule.defaults(market), **version.params}
    hits = rule.run(market, params, today)
    existing = {
        f.dedup_key: f
        for f in Finding.objects.filter(market=market, rule_code=rule.code, dedup_key__in=[h.key[:200] for h in hits])
    }
    new, changed = [], []
    for hit in hits:
        key = hit.key[:200]
        amount = quantize(max(to_decimal(hit.amount or 0), Decimal(0)), market.currency)
        eur = _eur(amount, market.currency, today)
        finding = existing.get(key)
        if finding is None:
            new.append(
                Finding(
                    market=market,
                    rule_code=rule.code,
                    rule_version=version,
                    dedup_key=key,
                    severity=hit.severity or rule.severity,
                    title=hit.title[:255],
                    subject_type=hit.subject_type,
                    subject_id=hit.subject_id,
                    subject_label=hit.subject_label[:250],
                    currency=market.currency,
                    money_at_risk=amount,
                    money_at_risk_eur=eur,
                    evidence=hit.evidence,
                    first_seen_on=today,
                    last_seen_on=today,
                )
            )
            continue
        seen_again = finding.last_seen_on < today
        values = {
            "title": hit.title[:255],
            "money_at_risk": amount,
            "money_at_risk_eur": eur,
            "evidence": hit.evidence,
            "last_seen_on": max(finding.last_seen_on, today),
            "seen_count": finding.seen_count + (1 if seen_again else 0),
        }
        if any(getattr(finding, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(finding, k, v)
            changed.append(finding)
    Finding.objects.bulk_create(new, batch_size=1000)
    Finding.objects.bulk_update(
        changed,
        ["title", "money_at_risk", "money_at_risk_eur", "evidence", "last_seen_on", "seen_count"],
        batch_size=1000,
    )
    return {"hits": len(hits), "new": len(new), "updated": len(changed), "seconds": time.perf_counter() - started}


def rules_run_market(*, market: Market, today: date | None = None, codes=None) -> dict:
    """Every rule over one market, each in its own transaction (one failing rule does not undo the
    others; it is reported and raised at the end so the nightly step retries). Returns the counts
    per rule."""
    today = today or market.local_date()
    report, failures = {}, []
    for rule in RULES:
        if codes and rule.code not in codes:
            continue
        try:
            report[rule.code] = rule_run(rule=rule, market=market, today=today)
        except Exception as exc:  # noqa: BLE001 - reported, then raised for the chain's retry
            logger.exception("Risk rule %s failed in %s", rule.code, market.code)
            failures.append(f"{rule.code}: {exc}")
    if failures:
        raise RuntimeError("; ".join(failures))
    return report


# --- Findings ----------------------------------------------------------------------------------------


@retry_on_conflict
@transaction.atomic(durable=True)
def finding_dismiss(*, actor, finding: Finding, reason: str) -> Finding:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give a reason for dismissing the finding.", code="required", field="reason")
    finding = Finding.objects.select_for_update().get(pk=finding.pk)
    if finding.state != Finding.State.OPEN:
        raise ConflictError("Only an open finding can be dismissed.", code="bad_state")
    finding.state, finding.dismissed_reason, finding.dismissed_by = Finding.State.DISMISSED, reason[:255], actor
    finding.save(update_fields=["state", "dismissed_reason", "dismissed_by"])
    audit_record(
        kind=AuditEvent.Kind.ACTION, actor=actor, action="risk_finding_dismiss", obj=finding, detail={"reason": reason}
    )
    return finding


def case_recompute(case: Case) -> None:
    at_risk = case.findings.aggregate(total=Sum("money_at_risk"))["total"] or Decimal(0)
    stopped = case.holds.exclude(status=Hold.Status.RELEASED).aggregate(total=Sum("amount_stopped"))[
        "total"
    ] or Decimal(0)
    case.money_at_risk, case.money_stopped = at_risk, stopped
    case.save(update_fields=["money_at_risk", "money_stopped"])


@retry_on_conflict
@transaction.atomic(durable=True)
def case_open(*, actor, findings: list[Finding], title: str = "", owner=None) -> Case:
    """Group open findings of one market into a new case owned by `owner` (default: the actor)."""
    ids = [f.pk for f in findings]
    if not ids:
        raise DomainError("Choose at least one finding.", field="findings")
    locked = list(Finding.objects.filter(pk__in=ids).order_by("pk").select_for_update())
    markets = {f.market_id for f in locked}
    if len(markets) != 1:
        raise DomainError("A case groups findings of one market.", field="findings")
    if any(f.state != Finding.State.OPEN for f in locked):
        raise ConflictError("Only open findings can go into a new case.", code="bad_state")
    market = locked[0].market
    today = market.local_date()
    case = Case.objects.create(
        number=document_number_next(market=market, kind="riskcase", on=today),
        market=market,
        title=(title or locked[0].title)[:255],
        owner=owner or actor,
        currency=market.currency,
        created_by=actor,
    )
    Finding.objects.filter(pk__in=ids).update(state=Finding.State.CASE, case=case)
    case_recompute(case)
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="risk_case_open",
        obj=case,
        detail={"findings": ids, "money_at_risk": str(case.money_at_risk)},
    )
    return case


def case_lock(pk: int) -> Case:
    return Case.objects.select_for_update(of=("self",)).select_related("market").get(pk=pk)


@retry_on_conflict
@transaction.atomic(durable=True)
def case_update(
    *,
    actor,
    case: Case,
    owner=None,
    root_cause: str | None = None,
    root_cause_text: str | None = None,
    money_recovered=None,
    add_findings: list[Finding] | None = None,
) -> Case:
    """Work a case: owner, root cause (from the list, plus text), money recovered, more findings."""
    case = case_lock(case.pk)
    if case.is_closed:
        raise ConflictError("The case is closed.", code="closed")
    before = {
        "owner": case.owner.username,
        "root_cause": case.root_cause,
        "money_recovered": str(case.money_recovered),
    }
    if owner is not None:
        case.owner = owner
    if root_cause is not None:
        if root_cause and root_cause not in RootCause.values:
            raise DomainError("Choose a root cause from the list.", field="root_cause")
        case.root_cause = root_cause
    if root_cause_text is not None:
        case.root_cause_text = root_cause_text.strip()
    if money_recovered is not None:
        amount = to_decimal(money_recovered)
        if amount < 0:
            raise DomainError("Money recovered cannot be negative.", field="money_recovered")
        case.money_recovered = quantize(amount, case.currency)
    case.save()
    if add_findings:
        ids = [f.pk for f in add_findings]
        taken = Finding.objects.filter(pk__in=ids).filter(~Q(state=Finding.State.OPEN) | ~Q(market=case.market))
        if taken.exists():
            raise ConflictError("Only open findings of the case's market can be added.", code="bad_state")
        Finding.objects.filter(pk__in=ids).update(state=Finding.State.CASE, case=case)
    case_recompute(case)
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="risk_case_update",
        obj=case,
        detail={
            "before": before,
            "after": {
                "owner": case.owner.username,
                "root_cause": case.root_cause,
                "money_recovered": str(case.money_recovered),
            },
            "added_findings": [f.pk for f in add_findings or []],
        },
    )
    return case


def _has_money_at_risk(case: Case) -> bool:
    return case.money_at_risk > 0


@retry_on_conflict
@transaction.atomic(durable=True)
def case_close(*, actor, case: Case, resolution: str = "") -> Case:
    """Close a case. With money at risk, the first call records the request (state close
    requested) and a second person (finance approver) closes it; a case without money at risk,
    or a request being approved, closes at once. Active holds must be released first."""
    case = case_lock(case.pk)
    if case.is_closed:
        raise ConflictError("The case is already closed.", code="closed")
    if case.holds.filter(status__in=Hold.ACTIVE_STATUSES).exclude(kind=Hold.Kind.SECOND_APPROVER).exists():
        raise ConflictError("Release the case's active holds before closing it.", code="holds_active")
    resolution = (resolution or "").strip() or case.resolution
    if not resolution:
        raise DomainError("Describe the resolution.", code="required", field="resolution")
    if not case.root_cause:
        raise DomainError("Choose the root cause before closing.", code="required", field="root_cause")
    now = timezone.now()
    if case.state == Case.State.CLOSE_REQUESTED:
        if not actor.has_perm("risk.approve_case_close"):
            raise DomainError(
                "A finance approver closes a case with money at risk.", code="permission_denied", status=403
            )
        approval_check(actor=actor, action="hold_release", prepared_by=case.close_requested_by)
        case.state, case.closed_by, case.closed_at, case.resolution = Case.State.CLOSED, actor, now, resolution
        kind = AuditEvent.Kind.APPROVAL
    elif _has_money_at_risk(case):
        case.state, case.close_requested_by, case.close_requested_at = Case.State.CLOSE_REQUESTED, actor, now
        case.resolution = resolution
        kind = AuditEvent.Kind.ACTION
    else:
        case.state, case.closed_by, case.closed_at, case.resolution = Case.State.CLOSED, actor, now, resolution
        kind = AuditEvent.Kind.ACTION
    case.save()
    audit_record(
        kind=kind,
        actor=actor,
        action="risk_case_close" if case.is_closed else "risk_case_close_request",
        obj=case,
        detail={"resolution": resolution, "money_at_risk": str(case.money_at_risk)},
    )
    return case
