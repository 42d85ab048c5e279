"""Compensation workbooks for auditors and carriers: requests with their results, chargebacks, the
report, and the guarantee claim letter. Numbers stay numbers (settlement_ops.exports)."""

from __future__ import annotations

from settlement_ops.exports import Column, Sheet, workbook_response
from settlement_ops.money import Money

from .models import AuditResult, GuaranteeClaim

REQUEST_COLUMNS = [
    Column("Market", width=7),
    Column("External id", width=16),
    Column("Order", width=14),
    Column("Tracking", width=16),
    Column("Buyer ref", width=14),
    Column("Instrument", width=10),
    Column("Reason", width=14),
    Column("Amount", "money"),
    Column("Item value", "money"),
    Column("Agent", width=12),
    Column("Team", width=10),
    Column("Issued at", "datetime", 19),
    Column("Verdict", width=14),
    Column("Liable party", width=10),
    Column("Liable basis", width=50),
]


def requests_workbook(queryset):
    rows = (
        (
            r.market_id,
            r.external_id,
            r.order_number,
            r.tracking_number,
            r.buyer_reference,
            r.instrument,
            r.reason,
            Money(r.amount, r.currency),
            Money(r.item_value, r.currency) if r.item_value is not None else None,
            r.agent,
            r.team,
            r.issued_at,
            r.get_verdict_display(),
            r.liable_party,
            r.liable_basis,
        )
        for r in queryset.iterator(chunk_size=2000)
    )
    results = (
        (res.request.market_id, res.request.external_id, res.attribute.code, res.outcome, res.sentence)
        for res in AuditResult.objects.filter(request__in=queryset)
        .select_related("request", "attribute")
        .order_by("request_id", "attribute__code")
        .iterator(chunk_size=5000)
    )
    return workbook_response(
        filename="compensation_requests.xlsx",
        sheets=[
            Sheet("Requests", REQUEST_COLUMNS, rows),
            Sheet(
                "Audit results",
                [
                    Column("Market", width=7),
                    Column("External id", width=16),
                    Column("Attribute", width=14),
                    Column("Result", width=8),
                    Column("Why", width=90),
                ],
                results,
            ),
        ],
    )


def chargebacks_workbook(queryset):
    rows = (
        (
            c.market_id,
            c.request.external_id,
            c.get_party_display(),
            (c.vendor or c.seller).code,
            Money(c.amount, c.currency),
            c.get_status_display(),
            c.invoice.number if c.invoice_id else f"Deduction {c.deduction_id}",
            c.created_at,
        )
        for c in queryset.select_related("request", "vendor", "seller", "invoice")
    )
    return workbook_response(
        filename="compensation_chargebacks.xlsx",
        sheets=[
            Sheet(
                "Chargebacks",
                [
                    Column("Market", width=7),
                    Column("Request", width=16),
                    Column("Party", width=9),
                    Column("Code", width=14),
                    Column("Amount", "money"),
                    Column("Status", width=10),
                    Column("Document", width=22),
                    Column("Created", "datetime", 19),
                ],
                rows,
            )
        ],
    )


def report_workbook(figures: dict):
    sheets = []
    for dim, rows in figures["by"].items():
        sheets.append(
            Sheet(
                f"By {dim.replace('_id', '')}"[:31],
                [
                    Column(dim, width=16),
                    Column("Currency", width=8),
                    Column("Requests", "int"),
                    Column("Amount", "money"),
                ],
                [(r[dim] or "—", r["currency"], r["n"], Money(r["amount"], r["currency"])) for r in rows],
            )
        )
    sheets.append(
        Sheet(
            "Failing attributes",
            [Column("Attribute", width=16), Column("Failures", "int"), Column("Cumulative %", "number", 12, 1)],
            [(f["attribute__code"], f["n"], f["cumulative_percent"]) for f in figures["failures"]],
        )
    )
    sheets.append(
        Sheet(
            "Recovery",
            [
                Column("Currency", width=8),
                Column("Compensated", "money"),
                Column("Recovered", "money"),
                Column("Rate %", "number", 10, 1),
            ],
            [
                (r["currency"], Money(r["compensated"], r["currency"]), Money(r["recovered"], r["currency"]), r["rate"])
                for r in figures["recovery"]
            ],
        )
    )
    return workbook_response(
        filename=f"compensation_report_{figures['start']:%Y%m%d}_{figures['end']:%Y%m%d}.xlsx", sheets=sheets
    )


def claim_letter_workbook(claim: GuaranteeClaim):
    """The claim letter to the carrier: the guarantee, each late parcel and the refund asked."""
    cur = claim.currency
    rows = [
        (
            line.tracking_number,
            line.promised_days,
            line.actual_days,
            Money(line.freight, cur),
            line.refund_percent,
            Money(line.amount, cur),
        )
        for line in claim.lines.all()
    ]
    rows.append(("Total claimed", None, None, None, None, Money(claim.amount, cur)))
    return workbook_response(
        filename=f"{claim.number}.xlsx",
        sheets=[
            Sheet(
                "Claim",
                [
                    Column("Tracking number", width=20),
                    Column("Promised days", "int"),
                    Column("Actual days", "int"),
                    Column("Freight charged", "money"),
                    Column("Refund %", "number", 10),
                    Column("Refund claimed", "money"),
                ],
                rows,
                header_lines=[
                    f"Late-delivery guarantee claim {claim.number}",
                    f"To {claim.vendor.legal_name} ({claim.vendor.code}) — deliveries {claim.period_start:%Y-%m-%d} "
                    f"to {claim.period_end:%Y-%m-%d}",
                    "Under your contract's on-time promise, the parcels below were delivered late. Please credit "
                    f"{cur} {claim.amount:,.2f} on your next invoice, quoting {claim.number}.",
                ],
            )
        ],
    )
