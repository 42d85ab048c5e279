"""Demo compensation data: per market an active audit policy (drafted by QA, activated by an
approver), carriers' on-time promises and late guarantees, and a month of buyer compensations
with planted non-compliance (over the cap, no evidence, over the agent's limit), duplicates, a
parcel we do not know, and a late-delivery cluster for one carrier — then played through the
services: the audit, chargebacks, the QA sample with two scorecards on one request, a seller
dispute, guarantee claims and a corrective action. Idempotent: a market with requests is skipped.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from billing.models import Shipment, ShipmentEvent
from settlement_ops.errors import DomainError
from settlement_ops.money import quantize
from vendors.models import Contract

from . import services
from .models import AuditPolicy, Chargeback, CompensationRequest, QualityAttribute, Verdict

D = Decimal
# Caps and limits per currency: (cap for cash, agent default limit, senior agent limit, typical amount)
MONEY = {
    "GBP": ("60", "80", "400", D("18")),
    "EUR": ("70", "90", "450", D("20")),
    "IDR": ("900000", "1200000", "6000000", D("250000")),
    "VND": ("2500000", "3000000", "15000000", D("600000")),
    "USD": ("70", "90", "450", D("20")),
}
REASONS = ["lost", "damaged", "late_delivery", "wrong_item", "missing_item", "failed_delivery", "other"]
AGENTS = ["sdt-ana", "sdt-budi", "sdt-chris", "sdt-dao", "sdt-senior"]


def _policy(market, qa, approver) -> AuditPolicy | None:
    active = AuditPolicy.objects.filter(market=market, status=AuditPolicy.Status.ACTIVE).first()
    if active is not None:
        return active
    cash_cap, limit, senior, _ = MONEY[market.currency]
    try:
        draft = AuditPolicy.objects.filter(market=market, status=AuditPolicy.Status.DRAFT).first()
        draft = draft or services.policy_draft_create(actor=qa, market=market, notes="Demo policy")
        AuditPolicy.objects.filter(pk=draft.pk).update(seller_charge_vat=market.code in ("GB", "DE", "FR"))
        services.policy_attribute_save(
            actor=qa,
            policy=draft,
            code=QualityAttribute.Code.AMOUNT_CAP,
            description="Up to the item value; cash capped",
            params={"caps": {"*:*": {"max_percent": "100"}, "*:cash": {"max_amount": cash_cap}}},
            severity=QualityAttribute.Severity.HARD,
        )
        services.policy_attribute_save(
            actor=qa,
            policy=draft,
            code=QualityAttribute.Code.AGENT_LIMIT,
            description="Agents issue up to their limit; above it a lead approves",
            params={"default": limit, "agents": {"sdt-senior": senior}},
            severity=QualityAttribute.Severity.SOFT,
        )
        return services.policy_activate(actor=approver, policy=draft)
    except DomainError:
        return None


def _events(shipments) -> dict[int, dict]:
    facts: dict[int, dict] = {}
    for event in ShipmentEvent.objects.filter(shipment__in=shipments).order_by("occurred_at"):
        f = facts.setdefault(event.shipment_id, {})
        f.setdefault(event.status, event.occurred_at)
        if event.status == "delivered":
            f["delivered"] = event.occurred_at
    return facts


def _records(ctx, market, shipments, facts) -> list[dict]:
    rng = ctx.rng
    _, _, _, typical = MONEY[market.currency]
    now = datetime.now(tz=UTC)
    records = []
    for i, shipment in enumerate(shipments):
        reason = REASONS[i % len(REASONS)]
        f = facts.get(shipment.pk, {})
        event_at = f.get("delivered") or f.get("picked_up") or datetime.combine(shipment.ship_date, time(12), UTC)
        issued = min(event_at + timedelta(days=rng.randint(1, 4), hours=rng.randint(0, 8)), now - timedelta(hours=1))
        item = quantize(typical * D(rng.randint(15, 40)) / D(10), market.currency)
        amount = quantize(item * D(rng.randint(30, 90)) / D(100), market.currency)
        record = {
            "market": market.code,
            "external_id": f"DEMO-{market.code}-{i + 1:05d}",
            "order_number": f"ORD-{market.code}-{100000 + i}",
            "tracking_number": shipment.tracking_number,
            "buyer_reference": f"B-{rng.getrandbits(40):010x}",
            "instrument": rng.choice(["voucher", "coupon", "refund", "refund", "cash"]),
            "reason": reason,
            "amount": str(amount),
            "currency": market.currency,
            "item_value": str(item),
            "agent": AGENTS[i % (len(AGENTS) - 1)],
            "team": f"sdt-{market.code.lower()}",
            "issued_at": issued.isoformat(),
            "evidence": [f"photo-{i}"] if reason in ("damaged", "wrong_item", "missing_item") else [],
        }
        roll = i % 17
        if roll == 3:
            record["amount"] = str(quantize(item * D("1.5"), market.currency))  # planted: above the item value
        elif roll == 5 and record["evidence"]:
            record["evidence"] = []  # planted: no evidence
        elif roll == 7:
            record["agent"] = "sdt-dao"
            record["amount"] = str(quantize(D(MONEY[market.currency][1]) * D("1.2"), market.currency))
            record["item_value"] = str(quantize(D(record["amount"]) * 2, market.currency))  # planted: over limit
        elif roll == 11:
            record["tracking_number"] = f"UNKNOWN-{market.code}-{i}"  # a parcel we do not know
        records.append(record)
    # Duplicates: the same order and reason compensated again by another agent.
    for j in range(0, min(len(records), 60), 20):
        dup = dict(records[j])
        dup.update(external_id=f"{dup['external_id']}-DUP", agent="sdt-chris", instrument="coupon")
        records.append(dup)
    return records


def _late_cluster(market, vendor, days: int) -> list[Shipment]:
    """A late-delivery cluster for one carrier: delivered `days` after pickup, past its promise."""
    cluster = list(
        Shipment.objects.filter(market=market, vendor=vendor, status=Shipment.Status.DELIVERED).order_by("-pk")[:8]
    )
    events = []
    for shipment in cluster:
        picked = datetime.combine(shipment.ship_date, time(9), UTC)
        events.append(ShipmentEvent(shipment=shipment, status="delivered", occurred_at=picked + timedelta(days=days)))
    ShipmentEvent.objects.bulk_create(events, ignore_conflicts=True)
    return cluster


def seed(ctx) -> None:
    qa, approver = ctx.users.get("compqa"), ctx.users.get("approver")
    if qa is None or approver is None:
        return
    total = 0
    for market in ctx.markets:
        if market.currency not in MONEY or not Shipment.objects.filter(market=market).exists():
            continue
        Contract.objects.filter(market=market, on_time_days__isnull=True).update(
            on_time_days=3, late_refund_percent=D("100")
        )
        policy = _policy(market, qa, approver)
        if policy is None or CompensationRequest.objects.filter(market=market).exists():
            continue
        shipments = list(Shipment.objects.filter(market=market).order_by("pk")[:120])
        late_vendor = shipments[0].vendor
        cluster = _late_cluster(market, late_vendor, days=7)
        facts = _events(shipments + cluster)
        records = _records(ctx, market, shipments, facts)
        for k, shipment in enumerate(cluster):
            delivered = datetime.combine(shipment.ship_date, time(9), UTC) + timedelta(days=7)
            issued = min(delivered + timedelta(days=1), datetime.now(tz=UTC) - timedelta(hours=1))
            records.append(
                {
                    **records[0],
                    "external_id": f"DEMO-{market.code}-LATE-{k + 1:03d}",
                    "order_number": f"ORD-{market.code}-LATE-{k + 1}",
                    "tracking_number": shipment.tracking_number,
                    "reason": "late_delivery",
                    "instrument": "voucher",
                    "agent": AGENTS[k % 4],
                    "evidence": [],
                    "issued_at": issued.isoformat(),
                    "amount": str(quantize(MONEY[market.currency][3] / 2, market.currency)),
                    "item_value": str(MONEY[market.currency][3] * 2),
                }
            )
        result = services.requests_intake(records=records, actor=ctx.users.get("integration"), source="api")
        total += result.created
        try:
            services.audit_run(market=market, actor=qa)
        except DomainError:
            continue
        services.chargebacks_post_due(actor=qa, market=market)
        services.qa_sample_draw(market=market, day=market.local_date(), actor=qa)
        _qa_and_disputes(ctx, market, qa)
        for weeks_back in range(1, 6):
            end = market.local_date() - timedelta(days=market.local_date().weekday() + 1 + 7 * (weeks_back - 1))
            with contextlib.suppress(DomainError):
                services.guarantee_claims_build(market=market, period_start=end - timedelta(days=6), period_end=end)
        with contextlib.suppress(DomainError):
            services.corrective_action_save(
                actor=qa,
                market=market,
                title="Coach sdt-dao on approval limits",
                owner=qa,
                due_date=market.local_date() + timedelta(days=14),
                agent="sdt-dao",
            )
    if total:
        ctx.lines.append(
            f"Compensation: {total} buyer compensations audited (planted errors, duplicates, a late cluster), "
            "chargebacks, QA sample and guarantee claims — see /compensation/requests/ as compqa"
        )


def _qa_and_disputes(ctx, market, qa) -> None:
    """Two scorecards on one sampled request (calibration) and a seller's dispute."""
    from django.contrib.auth.models import User

    second = User.objects.filter(groups__name="compensation_qa").exclude(pk=qa.pk).first()
    request = (
        CompensationRequest.objects.filter(market=market, verdict=Verdict.NEEDS_REVIEW, samples__isnull=False)
        .order_by("pk")
        .first()
    )
    if request is not None:
        attributes = list(request.policy.attributes.all())
        for reviewer, flip in ((qa, False), (second, True)):
            if reviewer is None:
                continue
            scores = {
                a.pk: ("fail" if flip and a.code == "eligibility" else "pass", "demo scorecard") for a in attributes
            }
            with contextlib.suppress(DomainError):
                services.qa_review_submit(actor=reviewer, request=request, verdict="compliant", scores=scores)
    chargeback = Chargeback.objects.filter(market=market, party="seller", status="posted").order_by("pk").first()
    seller_user = chargeback.seller.users.select_related("user").first() if chargeback else None
    if chargeback is not None:
        with contextlib.suppress(DomainError):
            services.dispute_open(
                actor=seller_user.user if seller_user else qa,
                chargeback=chargeback,
                reason="We packed the item the buyer ordered; our packing photo is attached to ticket 4711.",
                via="portal" if seller_user else "staff",
            )
