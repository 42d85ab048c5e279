"""Demo shipments and seller fee schedules for every market (deterministic via ctx.rng).

Shipments use the zones and services vendors/demo.py prices (DEMO_ZONES, DEMO_SERVICES), so the
nightly billing run (`make demo` runs it) rates almost all of them; a few are built to land in
the exception list: a missing weight, a service no contract covers, and parcels heavier than
any bracket. Written with bulk_create in batches, fast enough for 100k shipments.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal as D

from vendors.demo import DEMO_SERVICES, DEMO_ZONES

from .models import BillingRun, ChargeLine, SellerFeeLine, SellerFeeSchedule, Shipment, ShipmentEvent
from .services import billing_run_start

BATCH = 5000
# Seller fee brackets per currency: (from, to, base fee, fee per step, step kg, minimum).
FEES = {
    "GBP": [
        ("0", "2", "7.49", "0", "1", "0"),
        ("2", "10", "10.49", "2.40", "1", "0"),
        ("10", "30", "24.99", "1.20", "1", "0"),
    ],
    "EUR": [
        ("0", "2", "8.49", "0", "1", "0"),
        ("2", "10", "11.99", "2.75", "1", "0"),
        ("10", "30", "28.99", "1.40", "1", "0"),
    ],
    "IDR": [
        ("0", "2", "21000", "0", "1", "0"),
        ("2", "10", "29000", "6700", "1", "0"),
        ("10", "30", "70000", "3400", "1", "0"),
    ],
    "VND": [
        ("0", "2", "48000", "0", "1", "0"),
        ("2", "10", "67000", "15400", "1", "0"),
        ("10", "30", "160000", "7700", "1", "0"),
    ],
}
# COD fee percent and minimum, returns fee, per currency.
EXTRAS = {
    "GBP": ("1.5", "0.50", "2.50"),
    "EUR": ("1.5", "0.60", "2.90"),
    "IDR": ("2", "2000", "8000"),
    "VND": ("2", "5000", "20000"),
}
COD_VALUES = {
    "GBP": ["19.99", "35.00", "74.50"],
    "EUR": ["24.90", "39.00", "89.00"],
    "IDR": ["150000", "275000", "499000"],
    "VND": ["350000", "590000", "1250000"],
}
EXPRESS_UPLIFT = D("1.35")


def _fee_schedules(market, valid_from) -> None:
    for service in DEMO_SERVICES:
        if SellerFeeSchedule.objects.filter(
            market=market, service_level=service, status=SellerFeeSchedule.Status.APPROVED
        ).exists():
            continue
        uplift = EXPRESS_UPLIFT if service == "express" else D("1")
        places = D("1") if market.currency in ("IDR", "VND") else D("0.01")
        cod_percent, cod_minimum, returns_fee = EXTRAS[market.currency]
        schedule = SellerFeeSchedule.objects.create(
            market=market,
            service_level=service,
            name=f"{market.code} {service} seller fees",
            currency=market.currency,
            valid_from=valid_from,
            vat_rate=market.vat_standard_rate,
            cod_fee_percent=D(cod_percent),
            cod_fee_minimum=D(cod_minimum),
            returns_fee=D(returns_fee),
            # Seeded as published before four eyes (no maker or approver), so rating uses it.
            status=SellerFeeSchedule.Status.APPROVED,
        )
        SellerFeeLine.objects.bulk_create(
            SellerFeeLine(
                schedule=schedule,
                weight_from_kg=D(f),
                weight_to_kg=D(t),
                base_fee=(D(b) * uplift).quantize(places),
                fee_per_additional_step=(D(p) * uplift).quantize(places),
                additional_step_kg=D(s),
                minimum_fee=D(m),
            )
            for f, t, b, p, s, m in FEES[market.currency]
        )


def _shipment(ctx, market, index: int) -> tuple[Shipment, list]:
    rng = ctx.rng
    zones = DEMO_ZONES[market.code]
    vendor = rng.choice(ctx.vendors[market.code])
    seller = rng.choice(ctx.sellers[market.code])
    ship_date = market.local_date() - timedelta(days=rng.randint(1, 40))
    weight = D(rng.randint(80, 24000)) / D(1000)
    dims = (None, None, None)
    if rng.random() < 0.3:
        dims = tuple(D(rng.randint(100, 700)) / D(10) for _ in range(3))
    service = rng.choice(DEMO_SERVICES)
    roll = rng.random()
    if roll < 0.004:
        weight = None  # the vendor has not sent the weight yet -> "missing weight"
    elif roll < 0.007:
        service = "same_day"  # no contract covers it -> "no active contract"
    elif roll < 0.010:
        weight = D(rng.randint(31000, 45000)) / D(1000)  # heavier than any bracket -> "no matching bracket"
    returned = rng.random() < 0.05
    status = (
        Shipment.Status.RETURNED
        if returned
        else rng.choice([Shipment.Status.DELIVERED] * 8 + [Shipment.Status.IN_TRANSIT])
    )
    picked = datetime.combine(ship_date, time(9, rng.randint(0, 59)), tzinfo=UTC)
    shipment = Shipment(
        market=market,
        vendor=vendor,
        seller=seller,
        tracking_number=f"{vendor.code.replace('-', '')}{index:09d}",
        service_level=service,
        origin_zone=rng.choice(zones[:-1]),
        destination_zone=rng.choice(zones),
        actual_weight_kg=weight,
        length_cm=dims[0],
        width_cm=dims[1],
        height_cm=dims[2],
        cod_amount=D(rng.choice(COD_VALUES[market.currency])) if rng.random() < 0.2 else D("0"),
        ship_date=ship_date,
        delivered_date=ship_date + timedelta(days=2) if status != Shipment.Status.IN_TRANSIT else None,
        status=status,
        is_return=returned,
    )
    events = [(Shipment.Status.PICKED_UP, picked), (Shipment.Status.IN_TRANSIT, picked + timedelta(hours=6))]
    if status != Shipment.Status.IN_TRANSIT:
        events.append((Shipment.Status.DELIVERED, picked + timedelta(days=2)))
    if returned:
        events.append((Shipment.Status.RETURNED, picked + timedelta(days=6)))
    return shipment, events


def seed(ctx) -> None:
    markets = [m for m in ctx.markets if m.code in DEMO_ZONES and ctx.vendors.get(m.code) and ctx.sellers.get(m.code)]
    if not markets:
        return
    for market in markets:
        _fee_schedules(market, valid_from=ctx.today.replace(month=1, day=1) - timedelta(days=365))
    if Shipment.objects.filter(market__in=markets).exists():
        return  # seeded before; shipments are idempotent by tracking number anyway
    pending_shipments, pending_events = [], []
    for index in range(ctx.shipments):
        market = markets[index % len(markets)]
        shipment, events = _shipment(ctx, market, index)
        pending_shipments.append(shipment)
        pending_events.append(events)
        if len(pending_shipments) >= BATCH:
            _flush(pending_shipments, pending_events)
    _flush(pending_shipments, pending_events)
    ctx.lines.append(
        f"Shipments: {ctx.shipments} across {len(markets)} markets (a few are rating exceptions on purpose)"
    )


def _flush(shipments: list, events: list) -> None:
    if not shipments:
        return
    created = Shipment.objects.bulk_create(shipments)
    ShipmentEvent.objects.bulk_create(
        (
            ShipmentEvent(shipment_id=s.pk, status=status, occurred_at=at)
            for s, evs in zip(created, events, strict=True)
            for status, at in evs
        ),
        batch_size=BATCH,
        ignore_conflicts=True,
    )
    shipments.clear()
    events.clear()


def history(ctx) -> None:
    """`seed_demo`'s history phase: rate the demo's past as the nightly runs would have, up to last
    month's end (what last period's statements and vendor invoices cover), then up to yesterday.
    Runs after the master data is committed; in-process this rates at once, with a broker the
    workers do it."""
    actor = ctx.users.get("specialist")
    for market in ctx.markets:
        if not Shipment.objects.filter(market=market).exists():
            continue
        yesterday = market.local_date() - timedelta(days=1)
        month_end = yesterday.replace(day=1) - timedelta(days=1)
        for business_date in (month_end, yesterday):
            if BillingRun.objects.filter(market=market, business_date=business_date).exists():
                continue
            billing_run_start(
                market=market, business_date=business_date, actor=actor, trigger=BillingRun.Trigger.COMMAND
            )
    rated = ChargeLine.objects.count()
    ctx.lines.append(f"Billing runs rated the demo history: {rated} charge lines")
