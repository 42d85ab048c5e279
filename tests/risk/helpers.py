"""A clean GB world for risk tests: a vendor with an active contract, bank account, a rated
shipment flowing yesterday, an audited invoice within tolerance and its open payable."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from billing.models import BillingRun, BillingRunChunk, ChargeLineTotal
from settlement_ops.roles import Role
from tests.factories import ShipmentFactory, UserFactory, market
from tests.payables.helpers import line, rated, setup_vendor, upload


def clean_world():
    gb = market("GB")
    today = gb.local_date()
    vendor, rate_line, specialist = setup_vendor()
    charge = rated(vendor, rate_line)
    job = upload(vendor, specialist, [line(charge.shipment.tracking_number, "4.50", "0.45")])
    for _ in range(4):
        ShipmentFactory(vendor=vendor, seller=charge.shipment.seller)
    run = BillingRun.objects.create(
        market=gb, business_date=today - dt.timedelta(days=1), status=BillingRun.Status.COMPLETED, currency="GBP"
    )
    chunk = BillingRunChunk.objects.create(
        run=run, seq=1, first_shipment_id=1, last_shipment_id=10**12, status=BillingRunChunk.Status.DONE
    )
    ChargeLineTotal.objects.create(
        run=run,
        chunk=chunk,
        vendor=vendor,
        seller=charge.shipment.seller,
        service_level="standard",
        line_count=1,
        vendor_net=D("4.95"),
        seller_net=D("6.00"),
    )
    return {
        "market": gb,
        "today": today,
        "vendor": vendor,
        "payable": job.invoice.payable,
        "specialist": specialist,
        "analyst": UserFactory(role=Role.RISK_ANALYST),
    }
