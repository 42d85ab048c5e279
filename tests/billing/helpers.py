"""Builders for billing tests: an approved contract with a version, rate lines and surcharges; a
seller fee schedule; shipments. Written straight through the ORM (the rows the vendor services
would produce), so billing tests do not depend on the contract approval flow."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal

from django.contrib.auth.models import User

from billing import services
from billing.models import SellerFeeLine, SellerFeeSchedule, Shipment
from tests.factories import SellerFactory, UserFactory, VendorFactory, market
from vendors.models import Contract, ContractVersion, RateLine, Surcharge

D = Decimal
_counter = itertools.count(1)


def _users():
    author = User.objects.filter(username="contract-author").first() or UserFactory(username="contract-author")
    approver = User.objects.filter(username="contract-approver").first() or UserFactory(username="contract-approver")
    return author, approver


def make_contract(
    *,
    vendor,
    service="STD",
    valid_from=date(2026, 1, 1),
    valid_to=None,
    divisor=5000,
    currency=None,
    effective_from=None,
    lines=(),
    surcharges=(),
    activated_at=None,
):
    """An active contract with version 1 holding `lines` and `surcharges`.

    lines: (origin, destination, from, to, base, per_step, step, minimum)
    surcharges: dicts of Surcharge fields (kind, percent | flat_amount, ...)
    """
    author, approver = _users()
    contract = Contract.objects.create(
        reference=f"C-T-{next(_counter):05d}",
        vendor=vendor,
        market=vendor.market,
        service_level=service,
        currency=currency or vendor.market.currency,
        valid_from=valid_from,
        valid_to=valid_to,
        volumetric_divisor=divisor,
        status=Contract.Status.ACTIVE,
        author=author,
        approved_by=approver,
    )
    version = add_version(
        contract=contract,
        number=1,
        effective_from=effective_from or valid_from,
        lines=lines,
        surcharges=surcharges,
        activated_at=activated_at,
    )
    return version


def add_version(*, contract, number, effective_from, lines, surcharges=(), activated_at=None):
    author, approver = _users()
    version = ContractVersion.objects.create(
        contract=contract,
        number=number,
        effective_from=effective_from,
        status=ContractVersion.Status.ACTIVE,
        created_by=author,
        approved_by=approver,
        activated_at=activated_at
        or datetime(effective_from.year, effective_from.month, effective_from.day, tzinfo=UTC),
    )
    RateLine.objects.bulk_create(
        RateLine(
            version=version,
            service_level=contract.service_level,
            origin_zone=o,
            destination_zone=d,
            weight_from_kg=D(f),
            weight_to_kg=D(t),
            base_price=D(b),
            price_per_additional_kg=D(p),
            additional_step_kg=D(s),
            minimum_charge=D(m),
        )
        for o, d, f, t, b, p, s, m in lines
    )
    for surcharge in surcharges:
        Surcharge.objects.create(version=version, **surcharge)
    version.contract = contract
    return version


STANDARD_LINES = [
    # origin, destination, from, to, base, per additional step, step, minimum
    ("LDN", "LDN", "0", "1", "3.95", "0", "1", "0"),
    ("LDN", "LDN", "1", "5", "4.20", "0.55", "0.5", "4.50"),
    ("LDN", "LDN", "5", "30", "6.80", "0.4125", "1", "0"),
    ("LDN", "SCO", "0", "30", "5.10", "0.61", "1", "6.00"),
]


def make_fee_schedule(
    *,
    code="GB",
    service="STD",
    valid_from=date(2026, 1, 1),
    lines=None,
    cod_fee_percent="1.5",
    cod_fee_minimum="0.50",
    returns_fee="2.00",
    divisor=5000,
):
    m = market(code)
    schedule = SellerFeeSchedule.objects.create(
        market=m,
        service_level=service,
        name=f"{service} fees",
        currency=m.currency,
        valid_from=valid_from,
        volumetric_divisor=divisor,
        vat_rate=m.vat_standard_rate,
        cod_fee_percent=D(cod_fee_percent),
        cod_fee_minimum=D(cod_fee_minimum),
        returns_fee=D(returns_fee),
        status=SellerFeeSchedule.Status.APPROVED,
    )
    lines = lines or [("0", "2", "4.99", "0", "1", "0"), ("2", "30", "5.99", "0.35", "1", "0")]
    SellerFeeLine.objects.bulk_create(
        SellerFeeLine(
            schedule=schedule,
            weight_from_kg=D(f),
            weight_to_kg=D(t),
            base_fee=D(b),
            fee_per_additional_step=D(p),
            additional_step_kg=D(s),
            minimum_fee=D(mn),
        )
        for f, t, b, p, s, mn in lines
    )
    return schedule


def make_shipment(
    *,
    vendor,
    seller,
    tracking=None,
    service="STD",
    origin="LDN",
    destination="LDN",
    weight="1.000",
    dims=None,
    cod="0",
    ship_date=date(2026, 11, 2),
    is_return=False,
    status=Shipment.Status.DELIVERED,
):
    length, width, height = (D(x) for x in dims) if dims else (None, None, None)
    return Shipment.objects.create(
        market_id=vendor.market_id,
        vendor=vendor,
        seller=seller,
        tracking_number=tracking or f"TRK{next(_counter):08d}",
        service_level=service,
        origin_zone=origin,
        destination_zone=destination,
        actual_weight_kg=D(weight) if weight is not None else None,
        length_cm=length,
        width_cm=width,
        height_cm=height,
        cod_amount=D(cod),
        ship_date=ship_date,
        is_return=is_return,
        status=status,
    )


def resend_weight(shipment, weight: str):
    """The vendor re-sends a shipment made by make_shipment (STD, LDN to LDN, shipped 2026-11-02)
    through intake with another weight: its revision goes up."""
    return services.shipments_intake(
        records=[
            {
                "tracking_number": shipment.tracking_number,
                "vendor": shipment.vendor.code,
                "seller": shipment.seller.code,
                "service": "STD",
                "origin_zone": "LDN",
                "destination_zone": "LDN",
                "actual_weight_kg": weight,
                "ship_date": "2026-11-02",
            }
        ]
    )


def gb_setup(*, surcharges=(), lines=None):
    """A GB vendor with the standard lines, a seller and a seller fee schedule."""
    vendor = VendorFactory(market=market("GB"))
    seller = SellerFactory(market=market("GB"))
    version = make_contract(vendor=vendor, lines=lines or STANDARD_LINES, surcharges=surcharges)
    schedule = (
        SellerFeeSchedule.objects.filter(market_id="GB", service_level="STD", status="approved").first()
        or make_fee_schedule()
    )
    return vendor, seller, version, schedule
