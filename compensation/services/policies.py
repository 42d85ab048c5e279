"""Audit policy versions: a draft is edited, then activated by a second person (four eyes); the
active version retires the previous one. Results keep the version that produced them."""

from __future__ import annotations

import json

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from settlement_ops.db import retry_on_conflict
from settlement_ops.errors import ConflictError, DomainError
from settlement_ops.models import AuditEvent, Market
from settlement_ops.services import approval_check, audit_record

from ..models import AuditPolicy, QualityAttribute, Reason

Code = QualityAttribute.Code
HARD, SOFT = QualityAttribute.Severity.HARD, QualityAttribute.Severity.SOFT

# The attributes of a market's first policy (a new version copies the active one instead).
DEFAULT_ATTRIBUTES = [
    (
        Code.ELIGIBILITY,
        "Lost or damaged needs a carrier-custody event; late delivery needs a delivery later than the promise",
        {},
        HARD,
    ),
    (
        Code.AMOUNT_CAP,
        "The amount is within the cap for the reason and instrument (absolute and % of the item value)",
        {"caps": {"*:*": {"max_percent": "100"}}},
        HARD,
    ),
    (Code.DUPLICATE, "No other compensation for the same order and reason", {}, HARD),
    (
        Code.EVIDENCE,
        "Evidence is attached where the reason requires it",
        {"reasons": [Reason.DAMAGED, Reason.WRONG_ITEM, Reason.MISSING_ITEM]},
        SOFT,
    ),
    (Code.TIMELINESS, "Issued within N days of the event", {"days": 30}, SOFT),
    (Code.AGENT_LIMIT, "Within the issuing agent's approval limit", {"default": None, "agents": {}}, SOFT),
]


def _check_params(code: str, params) -> dict:
    """The parameters an attribute reads, validated so the audit SQL cannot fail on them."""
    if isinstance(params, str):
        try:
            params = json.loads(params or "{}")
        except ValueError:
            raise DomainError("The parameters are not valid JSON.", field="params") from None
    if not isinstance(params, dict):
        raise DomainError("The parameters must be a JSON object.", field="params")

    def number(value, where):
        if value in (None, ""):
            return None
        try:
            from decimal import Decimal

            if isinstance(value, float) or Decimal(str(value)) < 0:
                raise ValueError
        except (ValueError, ArithmeticError):
            raise DomainError(f"{where} must be a non-negative decimal string.", field="params") from None
        return str(value)

    if code == Code.AMOUNT_CAP:
        caps = params.get("caps") or {}
        if not isinstance(caps, dict):
            raise DomainError('"caps" must map "reason:instrument" to limits.', field="params")
        for key, cap in caps.items():
            if not isinstance(cap, dict) or ":" not in key:
                raise DomainError(f'Cap {key!r}: use "reason:instrument" ("*" for any) -> {{...}}.', field="params")
            for name in ("max_amount", "max_percent"):
                cap[name] = number(cap.get(name), f"{key} {name}")
    elif code == Code.EVIDENCE:
        reasons = params.get("reasons") or []
        unknown = [r for r in reasons if r not in Reason.values]
        if unknown:
            raise DomainError(f"Unknown reason(s): {', '.join(map(str, unknown))}.", field="params")
    elif code == Code.TIMELINESS:
        days = params.get("days")
        if days is not None and (not isinstance(days, int) or days < 0):
            raise DomainError('"days" must be a whole number of days.', field="params")
    elif code == Code.AGENT_LIMIT:
        params["default"] = number(params.get("default"), "default")
        agents = params.get("agents") or {}
        if not isinstance(agents, dict):
            raise DomainError('"agents" must map agent ids to limits.', field="params")
        params["agents"] = {str(k): number(v, f"agent {k}") for k, v in agents.items()}
    return params


@retry_on_conflict
@transaction.atomic(durable=True)
def policy_draft_create(*, actor, market: Market, notes: str = "") -> AuditPolicy:
    """A new draft version of the market's policy: a copy of the active (or latest) version, or
    the default attributes for a market's first policy. One draft at a time per market."""
    if AuditPolicy.objects.filter(market=market, status=AuditPolicy.Status.DRAFT).exists():
        raise ConflictError(f"{market.code} already has a draft policy; edit or activate it.", code="draft_exists")
    latest = AuditPolicy.objects.filter(market=market).order_by("-version").first()
    source = AuditPolicy.objects.filter(market=market, status=AuditPolicy.Status.ACTIVE).first() or latest
    version = (AuditPolicy.objects.filter(market=market).aggregate(v=Max("version"))["v"] or 0) + 1
    copy = {}
    if source is not None:
        copy = {
            f: getattr(source, f)
            for f in ("sample_percent", "seller_charge_vat", "dispatch_days", "default_promise_days")
        }
    try:
        with transaction.atomic():
            policy = AuditPolicy.objects.create(market=market, version=version, notes=notes or "", author=actor, **copy)
    except IntegrityError:
        raise ConflictError("Another version was created at the same time; try again.", code="conflict") from None
    if source is not None:
        attributes = [
            QualityAttribute(
                policy=policy, code=a.code, description=a.description, params=a.params, severity=a.severity
            )
            for a in source.attributes.all()
        ]
    else:
        attributes = [
            QualityAttribute(policy=policy, code=code, description=text, params=params, severity=severity)
            for code, text, params, severity in DEFAULT_ATTRIBUTES
        ]
    QualityAttribute.objects.bulk_create(attributes)
    audit_record(
        kind=AuditEvent.Kind.ACTION, actor=actor, action="compensation_policy_draft", obj=policy, detail={"v": version}
    )
    return policy


@transaction.atomic(durable=True)
def policy_attribute_save(
    *, actor, policy: AuditPolicy, code: str, description: str, params, severity: str
) -> QualityAttribute:
    """Add or change one attribute of a draft policy (an active version is never edited)."""
    policy = AuditPolicy.objects.select_for_update().get(pk=policy.pk)
    if not policy.is_editable:
        raise ConflictError("Only a draft policy can change; create a new version.", code="not_draft")
    if code not in Code.values:
        raise DomainError(f"Unknown attribute {code!r}.", field="code")
    if severity not in QualityAttribute.Severity.values:
        raise DomainError(f"Unknown severity {severity!r}.", field="severity")
    if not (description or "").strip():
        raise DomainError("Describe the attribute.", code="required", field="description")
    attribute, _ = QualityAttribute.objects.update_or_create(
        policy=policy,
        code=code,
        defaults={
            "description": description.strip()[:255],
            "params": _check_params(code, params),
            "severity": severity,
        },
    )
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="compensation_policy_attribute_save",
        obj=attribute,
        detail={"policy": policy.pk, "code": code, "params": attribute.params, "severity": severity},
    )
    return attribute


@retry_on_conflict
@transaction.atomic(durable=True)
def policy_activate(*, actor, policy: AuditPolicy) -> AuditPolicy:
    """Activate a draft (by someone other than its author) and retire the active version.
    Requests audited before keep their results and the version that produced them."""
    policy = AuditPolicy.objects.select_for_update(of=("self",)).select_related("author").get(pk=policy.pk)
    if policy.status != AuditPolicy.Status.DRAFT:
        raise ConflictError("Only a draft policy can be activated.", code="not_draft")
    if not policy.attributes.exists():
        raise DomainError("A policy needs at least one attribute.", code="no_attributes")
    approval_check(actor=actor, action="compensation_policy", prepared_by=policy.author)
    now = timezone.now()
    for previous in AuditPolicy.objects.select_for_update().filter(
        market=policy.market, status=AuditPolicy.Status.ACTIVE
    ):
        previous.status = AuditPolicy.Status.RETIRED
        previous.save(update_fields=["status"])  # save(), not update(): history keeps the change
    policy.status, policy.approved_by, policy.approved_at = AuditPolicy.Status.ACTIVE, actor, now
    policy.save(update_fields=["status", "approved_by", "approved_at"])
    audit_record(
        kind=AuditEvent.Kind.APPROVAL,
        actor=actor,
        action="compensation_policy_activate",
        obj=policy,
        detail={"market": policy.market_id, "version": policy.version},
    )
    return policy
