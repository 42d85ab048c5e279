"""Excel export of a billing run for auditors: every charge line with numbers as numbers, plus
totals by vendor and service and the exceptions. Streamed at constant memory."""

from __future__ import annotations

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
    line_rows = charge_line_rows(selectors.run_charge_lines(run).order_by("shipment_id", "generation"))
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
