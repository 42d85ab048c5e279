"""Seller health use cases: rule sets (four eyes), the night's metrics and warnings, outreach,
improvement plans and the seller's acknowledgement. One transaction per use case."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from settlement_ops.errors import ConflictError, DomainError
from settlement_ops.models import AuditEvent, Market
from settlement_ops.services import approval_check, audit_record

from ..models import (
    HealthWarning,
    ImprovementPlan,
    OutreachContact,
    Seller,
    SellerMetricSnapshot,
    WarningRuleSet,
)
from . import metrics, rules

PLAN_WINDOW = 30  # plans are measured on the 30-day window: long enough to show a change, short enough to act


def _decimal(value, field: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise DomainError(f"{field} must be a number, not {value!r}.", field=field) from None
    if not result.is_finite():
        raise DomainError(f"{field} must be a number.", field=field)
    return result


def _clean_params(params: dict) -> dict:
    """A full parameter set: unknown names refused, numbers checked, defaults for the rest."""
    unknown = set(params) - set(rules.DEFAULT_PARAMS)
    if unknown:
        raise DomainError(f"Unknown rule parameter: {', '.join(sorted(unknown))}.", field="params")
    clean = {**rules.DEFAULT_PARAMS}
    for name, value in params.items():
        number = _decimal(value, name)
        if number < 0:
            raise DomainError(f"{name} cannot be negative.", field=name)
        clean[name] = int(number) if isinstance(rules.DEFAULT_PARAMS[name], int) else str(number)
    return clean


@transaction.atomic(durable=True)
def rule_set_draft(*, actor, market: Market, params: dict, note: str = "") -> WarningRuleSet:
    """A new draft version of the market's warning rules; it rates nothing until another user activates it."""
    clean = _clean_params(params)
    latest = WarningRuleSet.objects.select_for_update().filter(market=market).aggregate(v=Max("version"))["v"] or 0
    rule_set = WarningRuleSet.objects.create(market=market, version=latest + 1, params=clean, note=note, author=actor)
    audit_record(
        kind=AuditEvent.Kind.ACTION, actor=actor, action="health_rules_draft", obj=rule_set, detail={"params": clean}
    )
    return rule_set


@transaction.atomic(durable=True)
def rule_set_activate(*, actor, rule_set: WarningRuleSet) -> WarningRuleSet:
    """Activate a draft (four eyes: not by its author) and retire the market's active version."""
    rule_set = WarningRuleSet.objects.select_for_update().get(pk=rule_set.pk)
    if rule_set.status != WarningRuleSet.Status.DRAFT:
        raise ConflictError("Only a draft rule set can be activated.", code="not_draft")
    approval_check(actor=actor, action="health_rules", prepared_by=rule_set.author_id)
    for previous in WarningRuleSet.objects.select_for_update().filter(
        market=rule_set.market_id, status=WarningRuleSet.Status.ACTIVE
    ):
        previous.status = WarningRuleSet.Status.RETIRED
        previous.save(update_fields=["status"])
    rule_set.status, rule_set.approved_by, rule_set.approved_at = WarningRuleSet.Status.ACTIVE, actor, timezone.now()
    rule_set.save(update_fields=["status", "approved_by", "approved_at"])
    audit_record(
        kind=AuditEvent.Kind.APPROVAL,
        actor=actor,
        action="health_rules_activate",
        obj=rule_set,
        detail={"market": rule_set.market_id, "version": rule_set.version},
    )
    return rule_set


def health_night(*, market: Market, business_date: date) -> dict:
    """The nightly step: snapshots and benchmarks, then warnings, then plans due for review."""
    result = metrics.compute_night(market=market, business_date=business_date)
    result.update(rules.warnings_refresh(market=market, business_date=business_date))
    result["plans_reviewed"] = plans_review_due(market=market, on=business_date)
    return result


@transaction.atomic(durable=True)
def warning_assign(*, actor, warning: HealthWarning, assignee) -> HealthWarning:
    warning = HealthWarning.objects.select_for_update().get(pk=warning.pk)
    if warning.state != HealthWarning.State.OPEN:
        raise ConflictError("This warning is closed.", code="closed")
    warning.assignee = assignee
    warning.save(update_fields=["assignee"])
    audit_record(kind=AuditEvent.Kind.ACTION, actor=actor, action="health_warning_assign", obj=warning)
    return warning


@transaction.atomic(durable=True)
def contact_log(
    *, actor, seller: Seller, channel: str, notes: str, contacted_at: datetime | None = None, warning=None
) -> OutreachContact:
    """Record a call, e-mail, meeting or portal message with the seller."""
    if channel not in OutreachContact.Channel.values:
        raise DomainError(f"Unknown channel {channel!r}.", field="channel")
    if not notes.strip():
        raise DomainError("Notes are required: what was discussed and agreed.", field="notes")
    if warning is not None and warning.seller_id != seller.pk:
        raise DomainError("The warning belongs to another seller.", field="warning")
    contact = OutreachContact.objects.create(
        seller=seller,
        warning=warning,
        channel=channel,
        notes=notes.strip(),
        contacted_at=contacted_at or timezone.now(),
        created_by=actor,
    )
    audit_record(kind=AuditEvent.Kind.ACTION, actor=actor, action="health_contact_log", obj=contact)
    return contact


def latest_metric(*, seller: Seller, metric: str, on: date | None = None) -> tuple[date, Decimal] | None:
    """The seller's latest 30-day value of `metric` on or before `on`, with its date."""
    snapshots = SellerMetricSnapshot.objects.filter(seller=seller, window_days=PLAN_WINDOW)
    if on is not None:
        snapshots = snapshots.filter(business_date__lte=on)
    row = (
        snapshots.exclude(**{f"{metric}__isnull": True})
        .order_by("-business_date")
        .values_list("business_date", metric)
        .first()
    )
    return row


@transaction.atomic(durable=True)
def plan_create(
    *, actor, seller: Seller, metric: str, actions: str, target_value, review_date: date, warning=None
) -> ImprovementPlan:
    """An improvement plan; its baseline is the seller's latest 30-day value of the metric."""
    if metric not in metrics.METRICS:
        raise DomainError(f"Unknown metric {metric!r}.", field="metric")
    if not actions.strip():
        raise DomainError("List the agreed actions.", field="actions")
    target = _decimal(target_value, "target_value")
    if review_date <= seller.market.local_date():
        raise DomainError("The review date must be in the future.", field="review_date")
    if warning is not None and warning.seller_id != seller.pk:
        raise DomainError("The warning belongs to another seller.", field="warning")
    baseline = latest_metric(seller=seller, metric=metric)
    if baseline is None:
        raise DomainError(
            f"No {metric.replace('_', ' ')} measured for this seller yet: a plan needs a baseline.", field="metric"
        )
    plan = ImprovementPlan.objects.create(
        seller=seller,
        warning=warning,
        metric=metric,
        actions=actions.strip(),
        baseline_value=baseline[1],
        target_value=target,
        review_date=review_date,
        created_by=actor,
    )
    audit_record(kind=AuditEvent.Kind.ACTION, actor=actor, action="health_plan_create", obj=plan)
    return plan


def plan_outcome(*, metric: str, baseline: Decimal, value: Decimal) -> str:
    """Improved, not improved or worse: the value against the baseline, in the metric's direction."""
    if value == baseline:
        return ImprovementPlan.Outcome.NOT_IMPROVED
    better = value < baseline if metric in metrics.HIGHER_IS_WORSE else value > baseline
    return ImprovementPlan.Outcome.IMPROVED if better else ImprovementPlan.Outcome.WORSE


def plans_review_due(*, market: Market, on: date) -> int:
    """Review every open plan of the market whose review date has come, with the metric on `on`."""
    reviewed = 0
    # A handful of plans per night: a loop over plans (not sellers or shipments) is fine here.
    for plan in ImprovementPlan.objects.filter(
        seller__market=market, status=ImprovementPlan.Status.OPEN, review_date__lte=on
    ):
        current = latest_metric(seller=plan.seller, metric=plan.metric, on=on)
        if current is None or current[0] < plan.review_date:
            continue
        plan.review_value = current[1]
        plan.outcome = plan_outcome(metric=plan.metric, baseline=plan.baseline_value, value=current[1])
        plan.status = ImprovementPlan.Status.REVIEWED
        plan.save(update_fields=["review_value", "outcome", "status"])
        reviewed += 1
    return reviewed


@transaction.atomic(durable=True)
def seller_acknowledge(*, actor, seller: Seller, warning: HealthWarning | None = None, plan=None) -> None:
    """The seller read its warning (or plan) in the portal; the first acknowledgement is kept."""
    now = timezone.now()
    for obj in (warning, plan):
        if obj is None:
            continue
        if obj.seller_id != seller.pk:
            raise DomainError("Not found.", code="not_found")
        if obj.seller_acknowledged_at is None:
            obj.seller_acknowledged_at = now
            fields = ["seller_acknowledged_at"]
            if isinstance(obj, HealthWarning):
                obj.seller_acknowledged_by = actor
                fields.append("seller_acknowledged_by")
            obj.save(update_fields=fields)
            audit_record(kind=AuditEvent.Kind.ACTION, actor=actor, action="health_seller_acknowledge", obj=obj)
