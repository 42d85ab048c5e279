"""Excel export of a billing run for auditors: every charge line with numbers as numbers, plus
totals by vendor and service and the exceptions. Streamed at constant memory."""

from __future__ import annotations

from django.http import FileResponse

from settlement_ops.exports import Column, Sheet, workbook_response
from settlement_ops.money import minor_units

from . import selectors
from .models import BillingRun, RatingException

LINE_AMOUNTS = [
    ("Freight", "vendor_base"),
    ("Fuel", "vendor_fuel"),
    ("Remote area", "vendor_remote"),
    ("Oversize", "vendor_oversize"),
    ("COD", "vendor_cod"),
    ("Peak", "vendor_peak"),
    ("Returns", "vendor_returns"),
    ("Vendor net", "vendor_net"),
    ("Vendor VAT", "vendor_vat"),
    ("Vendor gross", "vendor_gross"),
    ("Seller fee", "seller_base"),
    ("Seller COD fee", "seller_cod"),
    ("Seller returns fee", "seller_returns"),
    ("Seller net", "seller_net"),
    ("Seller VAT", "seller_vat"),
    ("Seller gross", "seller_gross"),
]


CHARGE_LINE_FIELDS = (
    "id",
    "shipment__tracking_number",
    "generation",
    "kind",
    "vendor__code",
    "seller__code",
    "service_level",
    "ship_date",
    "currency",
    "contract_version_id",
    "chargeable_weight_kg",
    *(f for _, f in LINE_AMOUNTS),
)
_SELLER_NET = CHARGE_LINE_FIELDS.index("seller_net")
_VENDOR_NET = CHARGE_LINE_FIELDS.index("vendor_net")


def charge_line_columns(places: int) -> list[Column]:
    return [
        Column("Line", "int", 10),
        Column("Tracking number", width=20),
        Column("Generation", "int", 10),
        Column("Kind", width=9),
        Column("Vendor", width=12),
        Column("Seller", width=12),
        Column("Service", width=10),
        Column("Ship date", "date", 11),
        Column("Currency", width=8),
        Column("Contract version", "int", 10),
        Column("Chargeable kg", "number", 12, 3),
        *(Column(label, "money", 13, places) for label, _ in LINE_AMOUNTS),
        Column("Margin", "money", 13, places),
    ]


def charge_line_rows(lines):
    """Charge-line rows for charge_line_columns, streamed from a server-side cursor: tuples
    straight from the database (values_list), the margin appended; nothing per row but that."""
    for row in lines.values_list(*CHARGE_LINE_FIELDS).iterator(chunk_size=5000):
        yield (*row, row[_SELLER_NET] - row[_VENDOR_NET])


def run_workbook(run: BillingRun):
    places = minor_units(run.currency)
    line_rows = charge_line_rows(selectors.run_charge_lines(run).order_by("id"))
    totals = selectors.run_totals(run)
    exceptions = (
        RatingException.objects.filter(run=run)
        .order_by("code", "shipment_id")
        .values_list("shipment__tracking_number", "vendor__code", "code", "shipment__ship_date")
    )
    header = [
        f"Billing run {run.pk} — {run.market_id} — business date {run.business_date} — {run.get_status_display()} — {run.currency}"
    ]
    return [
        Sheet(
            "Charge lines",
            charge_line_columns(places),
            line_rows,
            header_lines=header,
        ),
        Sheet(
            "By vendor and service",
            [
                Column("Vendor", width=14),
                Column("Service", width=12),
                Column("Shipments", "int", 10),
                Column("Vendor net", "money", 14, places),
                Column("Seller net", "money", 14, places),
                Column("Margin", "money", 14, places),
            ],
            (
                (
                    t["vendor__code"],
                    t["service_level"],
                    t["shipments"],
                    t["vendor_net"],
                    t["seller_net"],
                    t["seller_net"] - t["vendor_net"],
                )
                for t in totals
            ),
            header_lines=header,
        ),
        Sheet(
            "Exceptions",
            [
                Column("Tracking number", width=20),
                Column("Vendor", width=14),
                Column("Reason", width=30),
                Column("Ship date", "date", 11),
            ],
            (
                (tracking, vendor, RatingException.Code(code).label, ship_date)
                for tracking, vendor, code, ship_date in exceptions.iterator()
            ),
            header_lines=header,
        ),
    ]


def run_workbook_response(run: BillingRun):
    return workbook_response(
        filename=f"billing-run-{run.pk}-{run.market_id}-{run.business_date}.xlsx", sheets=run_workbook(run)
    )


def fee_schedules_workbook(schedules) -> FileResponse:
    """Seller fee schedules for auditors: one row per schedule (who drafted and approved it, when)
    and one per weight bracket, amounts as numbers in each currency's minor units."""
    schedules = list(schedules.prefetch_related("lines"))
    header = [
        Column("Id", "int", 8),
        Column("Market", width=8),
        Column("Service level", width=14),
        Column("Name", width=28),
        Column("Currency", width=9),
    ]
    return workbook_response(
        filename="seller-fee-schedules.xlsx",
        sheets=[
            Sheet(
                "Schedules",
                [
                    *header,
                    Column("Valid from", "date", 12),
                    Column("Valid to", "date", 12),
                    Column("Status", width=10),
                    Column("Volumetric divisor", "int", 12),
                    Column("VAT %", "number", 8),
                    Column("COD fee %", "number", 10, decimals=4),
                    Column("COD fee minimum", "number", 14),
                    Column("Returns fee", "number", 12),
                    Column("Drafted by", width=14),
                    Column("Approved by", width=14),
                    Column("Approved at", "datetime", 20),
                    Column("Rejected by", width=14),
                    Column("Rejection reason", width=30),
                ],
                [
                    [
                        s.pk,
                        s.market_id,
                        s.service_level,
                        s.name,
                        s.currency,
                        s.valid_from,
                        s.valid_to,
                        s.get_status_display(),
                        s.volumetric_divisor,
                        s.vat_rate,
                        s.cod_fee_percent,
                        s.cod_fee_minimum,
                        s.returns_fee,
                        getattr(s.created_by, "username", ""),
                        getattr(s.approved_by, "username", ""),
                        s.approved_at,
                        getattr(s.rejected_by, "username", ""),
                        s.rejection_reason,
                    ]
                    for s in schedules
                ],
            ),
            Sheet(
                "Brackets",
                [
                    *header,
                    Column("From kg (exclusive)", "number", 12, decimals=3),
                    Column("To kg (inclusive)", "number", 12, decimals=3),
                    Column("Base fee", "number", 12, decimals=4),
                    Column("Fee per step", "number", 12, decimals=4),
                    Column("Step kg", "number", 10, decimals=3),
                    Column("Minimum fee", "number", 12, decimals=4),
                ],
                [
                    [
                        s.pk,
                        s.market_id,
                        s.service_level,
                        s.name,
                        s.currency,
                        line.weight_from_kg,
                        line.weight_to_kg,
                        line.base_fee,
                        line.fee_per_additional_step,
                        line.additional_step_kg,
                        line.minimum_fee,
                    ]
                    for s in schedules
                    for line in sorted(s.lines.all(), key=lambda line: line.weight_from_kg)
                ],
            ),
        ],
    )
