"""Builders for risk pages (access matrix and page tests)."""

import datetime as dt

from risk import holds, services
from risk.models import Finding, NightlyRun, NightlyStep
from risk.planting import plant_duplicate_invoice
from settlement_ops.roles import Role
from tests.factories import UserFactory, VendorFactory, market


def risk_case():
    gb = market("GB")
    vendor = VendorFactory()
    plant_duplicate_invoice_for(vendor)
    services.rules_run_market(market=gb, today=gb.local_date(), codes=["duplicate_invoice"])
    finding = Finding.objects.filter(subject_id=vendor.pk).first()
    return services.case_open(actor=UserFactory(role=Role.RISK_ANALYST), findings=[finding])


def plant_duplicate_invoice_for(vendor):
    from decimal import Decimal

    from risk.planting import _invoice

    for number in ("DUP-1", "DUP1"):
        _invoice(vendor, f"{number}-{vendor.pk}", vendor.market.local_date(), Decimal("120"))


def risk_hold():
    case = risk_case()
    vendor_id = case.findings.first().subject_id
    from vendors.models import Vendor

    return holds.hold_place(
        actor=UserFactory(role=Role.RISK_ANALYST),
        case=case,
        kind="vendor_payables",
        vendor=Vendor.objects.get(pk=vendor_id),
        reason="Checking",
    )


def failed_nightly_step():
    run, _ = NightlyRun.objects.get_or_create(
        market=market("GB"),
        business_date=dt.date(2026, 1, 1),
        defaults={"started_at": dt.datetime(2026, 1, 2, tzinfo=dt.UTC)},
    )
    step, _ = NightlyStep.objects.get_or_create(
        run=run, code="flaky", defaults={"seq": 1, "label": "Flaky", "status": "failed", "attempts": 3, "error": "boom"}
    )
    return step


__all__ = ["plant_duplicate_invoice", "risk_case", "risk_hold", "failed_nightly_step"]
