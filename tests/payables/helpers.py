"""Builders for payables tests: a GB vendor with an active contract, rated shipments, invoice files."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from billing.payables import services
from billing.payables.models import VendorAuditPolicy
from billing.payables.tasks import invoice_import_task
from settlement_ops.roles import Role
from tests.factories import (
    ActiveContractFactory,
    ChargeLineFactory,
    RateLineFactory,
    ShipmentFactory,
    UserFactory,
    VendorBankAccountFactory,
)

COLUMNS = {
    "tracking_number": "Tracking",
    "billed_weight_kg": "Weight",
    "base": "Base",
    "fuel": "Fuel",
    "remote_area": "Remote",
    "net": "Net",
    "vat": "VAT",
    "gross": "Gross",
}
HEADER = "Tracking,Weight,Base,Fuel,Remote,Net,VAT,Gross\n"


def setup_vendor(*, tolerance_amount=D("0.10"), tolerance_percent=D("2"), with_fuel=True, bank=True):
    """GB vendor, active contract from 2026-01-01 (30 days terms), rate line, fuel surcharge in
    the contract (no remote-area surcharge), column mapping, tolerances, bank account."""
    contract = ActiveContractFactory(payment_terms_days=30)
    version = contract.versions.get(number=1)
    rate_line = RateLineFactory(version=version)
    if with_fuel:
        from tests.factories import SurchargeFactory

        SurchargeFactory(version=version)
    vendor = contract.vendor
    specialist = UserFactory(role=Role.FINANCE_SPECIALIST)
    services.mapping_save(actor=specialist, vendor=vendor, columns=COLUMNS)
    VendorAuditPolicy.objects.create(
        vendor=vendor, tolerance_amount=tolerance_amount, tolerance_percent=tolerance_percent
    )
    if bank:
        VendorBankAccountFactory(vendor=vendor)
    return vendor, rate_line, specialist


def rated(vendor, rate_line, *, base="4.50", fuel="0.45", tracking=None, **shipment):
    kwargs = {"vendor": vendor, **shipment}
    if tracking:
        kwargs["tracking_number"] = tracking
    ship = ShipmentFactory(**kwargs)
    return ChargeLineFactory(shipment=ship, rate_line=rate_line, vendor_base=D(base), vendor_fuel=D(fuel))


def line(tracking, base, fuel="0.00", remote="0.00", weight="2.000", vat=None):
    net = D(base) + D(fuel) + D(remote)
    vat = D(vat) if vat is not None else (net * D("0.2")).quantize(D("0.01"))
    return f"{tracking},{weight},{base},{fuel},{remote},{net},{vat},{net + vat}\n", net, vat


def upload(
    vendor,
    actor,
    rows,
    *,
    number="INV-1",
    date="2026-03-10",
    totals=None,
    kind="invoice",
    credited=None,
    filename="invoice.csv",
    run=True,
):
    """Upload a CSV built from `line()` tuples and run the import task (as the worker does)."""
    body = HEADER + "".join(r[0] for r in rows)
    net = sum((r[1] for r in rows), D(0))
    vat = sum((r[2] for r in rows), D(0))
    header = {
        "invoice_number": number,
        "invoice_date": date,
        "net_total": str(net),
        "vat_total": str(vat),
        "gross_total": str(net + vat),
        **(totals or {}),
    }
    if credited:
        header["credited_invoice_number"] = credited
    job = services.invoice_import_create(
        actor=actor, vendor=vendor, filename=filename, content=body.encode(), header=header, kind=kind
    )
    if run:
        invoice_import_task(job.pk)
        job.refresh_from_db()
    return job


def audited_invoice():
    vendor, rate_line, specialist = setup_vendor()
    cl = rated(vendor, rate_line)
    job = upload(vendor, specialist, [line(cl.shipment.tracking_number, "4.50", "0.45"), line("UNKNOWN-1", "3.00")])
    return job.invoice


def refused_import():
    vendor, rate_line, specialist = setup_vendor()
    return upload(vendor, specialist, [line("X1", "4.50")], totals={"net_total": "9.99"})


def open_payable(**setup):
    vendor, rate_line, specialist = setup_vendor(**setup)
    cl = rated(vendor, rate_line)
    job = upload(vendor, specialist, [line(cl.shipment.tracking_number, "4.50", "0.45")])
    return job.invoice.payable


def prepared_run():
    payable = open_payable()
    preparer = UserFactory(role=Role.FINANCE_SPECIALIST)
    return services.payment_run_prepare(
        actor=preparer, market=payable.market, currency="GBP", pay_date=dt.date(2026, 5, 1)
    )


def exported_run():
    run = prepared_run()
    services.payment_run_approve(actor=UserFactory(role=Role.FINANCE_APPROVER), run=run)
    services.payment_run_export(actor=run.prepared_by, run=run)
    run.refresh_from_db()
    return run


def ledger_balanced() -> bool:
    """Every journal entry sums to zero per currency."""
    from django.db.models import Sum

    from settlement_ops.models import Posting

    sums = Posting.objects.values("entry_id", "currency").annotate(total=Sum("amount"))
    return not sums.exclude(total=0).exists()
