"""Demo vendor invoices built from the rated demo shipments, with deliberate discrepancies, and a
prepared payment run. Tolerates a database without rated shipments (then it adds nothing)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Sum

from billing.models import ChargeLine
from settlement_ops.errors import DomainError
from settlement_ops.money import quantize

from . import services
from .models import InvoiceImport, VendorAuditPolicy, VendorInvoice

COLUMNS = {
    "invoice_number": "Invoice No",
    "invoice_date": "Invoice Date",
    "tracking_number": "Tracking",
    "billed_weight_kg": "Weight kg",
    "net": "Net",
    "vat": "VAT",
    "gross": "Gross",
}


def _invoice_csv(number, day, rows):
    lines = ["Invoice No,Invoice Date,Tracking,Weight kg,Net,VAT,Gross"]
    for tracking, weight, net, vat in rows:
        lines.append(f"{number},{day:%d/%m/%Y},{tracking},{weight},{net},{vat},{net + vat}")
    return ("\n".join(lines) + "\n").encode()


def _rows_for(vendor, limit):
    shipments = (
        ChargeLine.objects.filter(vendor=vendor)
        .values("shipment_id", "shipment__tracking_number", "chargeable_weight_kg")
        .annotate(net=Sum("vendor_net"), vat=Sum("vendor_vat"))
        .order_by("shipment_id")[:limit]
    )
    return [
        (
            s["shipment__tracking_number"],
            s["chargeable_weight_kg"],
            quantize(s["net"], vendor.market.currency),
            quantize(s["vat"], vendor.market.currency),
        )
        for s in shipments
    ]


def _import(actor, vendor, number, day, rows):
    net = sum((r[2] for r in rows), Decimal(0))
    vat = sum((r[3] for r in rows), Decimal(0))
    job = services.invoice_import_create(
        actor=actor,
        vendor=vendor,
        filename=f"{number}.csv",
        content=_invoice_csv(number, day, rows),
        header={"net_total": str(net), "vat_total": str(vat), "gross_total": str(net + vat)},
    )
    # Run now (the queued task finds the job done and skips it).
    return services.invoice_import_run(job_id=job.pk)


def seed(ctx) -> None:
    specialist, approver = ctx.users.get("specialist"), ctx.users.get("approver")
    if specialist is None or VendorInvoice.objects.exists():
        return
    day = ctx.today - dt.timedelta(days=35)
    for market in ctx.markets:
        vendors = [
            v for v in getattr(ctx, "vendors", {}).get(market.code, []) if ChargeLine.objects.filter(vendor=v).exists()
        ][:2]
        for index, vendor in enumerate(vendors):
            services.mapping_save(actor=specialist, vendor=vendor, columns=COLUMNS, date_format="%d/%m/%Y")
            VendorAuditPolicy.objects.get_or_create(
                vendor=vendor,
                defaults={
                    "tolerance_amount": Decimal("0.50") if market.currency in ("GBP", "EUR") else Decimal("5000"),
                    "tolerance_percent": Decimal("2"),
                },
            )
            rows = _rows_for(vendor, 12)
            if len(rows) < 4:
                continue
            # Deliberate discrepancies: one line 15% over, one unknown parcel, one billed twice.
            tracking, weight, net, vat = rows[1]
            over = quantize(net * Decimal("1.15"), market.currency)
            rows[1] = (tracking, weight, over, quantize(over * market.vat_standard_rate / 100, market.currency))
            rows.append((f"{vendor.code}-UNKNOWN-1", Decimal("1.000"), rows[0][2], rows[0][3]))
            rows.append(rows[2])
            job = _import(specialist, vendor, f"{vendor.code}-{day:%Y%m}-{index + 1:03d}", day, rows)
            invoice = job.invoice
            if invoice is None or index == 1:
                continue  # the second vendor's invoice waits in the inbox for review
            lines = {line.line_no: line for line in invoice.lines.all()}
            try:
                services.invoice_lines_decide(
                    actor=specialist,
                    invoice=invoice,
                    line_ids=[lines[3].pk],
                    decision="short_paid",
                    reason="Billed above the contract rate",
                )
                pending = [line.pk for line in invoice.lines.filter(decision="pending")]
                if pending:
                    services.invoice_lines_decide(
                        actor=specialist,
                        invoice=invoice,
                        line_ids=pending,
                        decision="disputed",
                        reason="Not our parcel, or billed twice",
                    )
            except DomainError:
                continue
    if approver is not None:
        for market in ctx.markets:
            try:
                run = services.payment_run_prepare(
                    actor=specialist, market=market, currency=market.currency, pay_date=ctx.today + dt.timedelta(days=3)
                )
            except DomainError:
                continue
            ctx.lines.append(f"Payment run {run.number} prepared by specialist; approve it as approver")
            break
    ctx.lines.append(f"Vendor invoices: {VendorInvoice.objects.count()} ({InvoiceImport.objects.count()} uploads)")
