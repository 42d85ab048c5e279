"""Builders for compensation tests: a GB carrier with an on-time promise, a seller, shipments with
status events, an active audit policy (two people), and request records as the API takes them."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from billing.models import Shipment, ShipmentEvent
from compensation import services
from compensation.models import AuditPolicy, QualityAttribute
from settlement_ops.roles import Role
from tests.billing.helpers import make_contract
from tests.factories import SellerFactory, UserFactory, VendorFactory, market

D = Decimal
_ids = itertools.count(1)
SHIP = date(2026, 10, 5)


def at(day: date, hour: int = 10) -> str:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC).isoformat()


class World:
    """GB: a carrier (contract STD: on time 2 days, late refund 100 %), a seller, QA users and an
    active policy (caps: 100 % of the item value, GBP 80 by cash; agent limit GBP 60)."""

    def __init__(self, *, seller_charge_vat=False):
        self.market = market("GB")
        self.vendor = VendorFactory(market=self.market)
        version = make_contract(vendor=self.vendor)
        contract = version.contract
        contract.on_time_days, contract.late_refund_percent = 2, D("100")
        contract.save(update_fields=["on_time_days", "late_refund_percent"])
        self.seller = SellerFactory(market=self.market)
        self.qa = UserFactory(role=Role.COMPENSATION_QA)
        self.qa2 = UserFactory(role=Role.COMPENSATION_QA)
        self.integration = UserFactory(role=Role.INTEGRATION)
        self.policy = active_policy(self.market, self.qa, self.qa2, seller_charge_vat=seller_charge_vat)

    def shipment(self, *events, ship_date=SHIP, tracking=None, status=Shipment.Status.DELIVERED):
        """events: (status, date) pairs."""
        shipment = Shipment.objects.create(
            market=self.market,
            vendor=self.vendor,
            seller=self.seller,
            tracking_number=tracking or f"CMP{next(_ids):08d}",
            service_level="STD",
            origin_zone="LDN",
            destination_zone="LDN",
            actual_weight_kg=D("1.000"),
            ship_date=ship_date,
            status=status,
        )
        ShipmentEvent.objects.bulk_create(
            ShipmentEvent(shipment=shipment, status=s, occurred_at=datetime.fromisoformat(at(d))) for s, d in events
        )
        return shipment

    def record(self, **overrides) -> dict:
        record = {
            "market": "GB",
            "external_id": f"EXT-{next(_ids):06d}",
            "order_number": f"ORD-{next(_ids):06d}",
            "buyer_reference": "B-7f3a9c",
            "instrument": "refund",
            "reason": "lost",
            "amount": "20.00",
            "currency": "GBP",
            "item_value": "25.00",
            "agent": "agent-1",
            "team": "sdt-uk",
            "issued_at": at(SHIP + timedelta(days=5)),
            "evidence": ["ticket-1"],
        }
        record.update(overrides)
        return record

    def intake(self, *records):
        result = services.requests_intake(records=list(records), actor=self.integration)
        assert not result.rejected, result.rejected
        return result

    def audit(self):
        return services.audit_run(market=self.market, actor=self.qa)


def active_policy(market, author, approver, **fields) -> AuditPolicy:
    policy = AuditPolicy.objects.filter(market=market, status=AuditPolicy.Status.ACTIVE).first()
    if policy is not None:
        return policy
    policy = services.policy_draft_create(actor=author, market=market)
    if fields:
        AuditPolicy.objects.filter(pk=policy.pk).update(**fields)
    services.policy_attribute_save(
        actor=author,
        policy=policy,
        code=QualityAttribute.Code.AMOUNT_CAP,
        description="Caps",
        params={"caps": {"*:*": {"max_percent": "100"}, "*:cash": {"max_amount": "80"}}},
        severity=QualityAttribute.Severity.HARD,
    )
    services.policy_attribute_save(
        actor=author,
        policy=policy,
        code=QualityAttribute.Code.AGENT_LIMIT,
        description="Agent limits",
        params={"default": "60", "agents": {"agent-senior": "500"}},
        severity=QualityAttribute.Severity.SOFT,
    )
    return services.policy_activate(actor=approver, policy=policy)


def carrier_chargeback(world: World | None = None):
    """A lost parcel in the carrier's custody, audited compliant and charged back to the carrier."""
    world = world or World()
    shipment = world.shipment(("picked_up", SHIP), ("lost", SHIP + timedelta(days=2)))
    record = world.record(tracking_number=shipment.tracking_number)
    world.intake(record)
    world.audit()
    from compensation.models import CompensationRequest

    request = CompensationRequest.objects.get(external_id=record["external_id"])
    return services.chargeback_post(actor=world.qa, request=request)


def late_claim(world: World | None = None):
    """Two parcels delivered 5 days after pickup under a 2-day promise with a full refund, rated
    4.00 and 6.00 freight: one claim of GBP 10.00 for the week of their delivery."""
    from tests.factories import ChargeLineFactory

    world = world or World()
    week_start = date(2026, 10, 5)
    for freight in ("4.00", "6.00"):
        shipment = world.shipment(("picked_up", week_start), ("delivered", week_start + timedelta(days=5)))
        ChargeLineFactory(shipment=shipment, vendor_base=D(freight), vendor_fuel=D("0"))
    (claim,) = services.guarantee_claims_build(
        market=world.market, period_start=date(2026, 10, 5), period_end=date(2026, 10, 11)
    )
    return claim
