"""Excel exports of receivables for auditors and sellers: numbers as numbers in the currency's
decimals, dates as dates (settlement_ops.exports)."""

from __future__ import annotations

from datetime import date

from django.utils.translation import gettext as _

from settlement_ops.exports import Column, Sheet, workbook_response
from settlement_ops.i18n import format_day
from settlement_ops.money import Money

from . import selectors
from .models import Statement
from .selectors import BUCKET_KEYS, BUCKETS


def _m(amount, currency):
    return Money(amount, currency) if amount is not None else None


def statement_workbook(statement: Statement):
    """The seller's statement as Excel, headers in the active language (the seller's in the portal)."""
    cur = statement.currency
    lines = selectors.statement_lines(statement)
    summary = [
        (_("Opening balance"), _m(statement.opening_balance, cur)),
        (_("Logistics fees"), _m(statement.charges_total, cur)),
        (_("Credit notes"), _m(statement.credits_total, cur)),
        (_("Payments"), _m(statement.payments_total, cur)),
        (_("Adjustments"), _m(statement.adjustments_total, cur)),
        (_("Closing balance"), _m(statement.closing_balance, cur)),
    ]
    title = _("Statement %(code)s %(name)s — %(start)s to %(end)s (%(currency)s)") % {
        "code": statement.seller.code,
        "name": statement.seller.legal_name,
        "start": format_day(statement.period_start),
        "end": format_day(statement.period_end),
        "currency": cur,
    }
    return workbook_response(
        filename=f"statement_{statement.seller.code}_{statement.period_end}.xlsx",
        sheets=[
            Sheet(
                _("Summary"),
                [Column(_("Item"), width=24), Column(_("Amount"), "money", 18)],
                summary,
                header_lines=[title],
            ),
            Sheet(
                _("Entries"),
                [
                    Column(_("Date"), "date", 12),
                    Column(_("Item"), width=24),
                    Column(_("Description"), width=50),
                    Column(_("Amount"), "money", 16),
                    Column(_("Balance"), "money", 16),
                ],
                (
                    (
                        line["date"],
                        line["label"],
                        line["description"],
                        _m(line["amount"], cur),
                        _m(line["running"], cur),
                    )
                    for line in lines
                ),
                header_lines=[title],
            ),
            Sheet(
                _("Shipments"),
                [
                    Column(_("Ship date"), "date", 12),
                    Column(_("Tracking"), width=22),
                    Column(_("Service"), width=12),
                    Column(_("Type"), width=10),
                    Column(_("Invoice"), width=22),
                    Column(_("Net"), "money", 14),
                    Column(_("VAT"), "money", 14),
                    Column(_("Gross"), "money", 14),
                ],
                (
                    (
                        c.ship_date,
                        c.shipment.tracking_number,
                        c.service_level,
                        c.kind,
                        c.invoice_number or "",
                        _m(c.seller_net, cur),
                        _m(c.seller_vat, cur),
                        _m(c.seller_gross, cur),
                    )
                    for c in selectors.statement_fee_lines(statement).iterator(chunk_size=2000)
                ),
                header_lines=[title],
            ),
        ],
    )


def statements_workbook(queryset):
    return workbook_response(
        filename="statements.xlsx",
        sheets=[
            Sheet(
                "Statements",
                [
                    Column("Market", width=8),
                    Column("Seller", width=14),
                    Column("Period start", "date", 12),
                    Column("Period end", "date", 12),
                    Column("Currency", width=9),
                    Column("Opening", "money", 16),
                    Column("Fees", "money", 16),
                    Column("Credits", "money", 16),
                    Column("Payments", "money", 16),
                    Column("Adjustments", "money", 16),
                    Column("Closing", "money", 16),
                ],
                (
                    (
                        s.market_id,
                        s.seller.code,
                        s.period_start,
                        s.period_end,
                        s.currency,
                        _m(s.opening_balance, s.currency),
                        _m(s.charges_total, s.currency),
                        _m(s.credits_total, s.currency),
                        _m(s.payments_total, s.currency),
                        _m(s.adjustments_total, s.currency),
                        _m(s.closing_balance, s.currency),
                    )
                    for s in queryset.iterator(chunk_size=2000)
                ),
            )
        ],
    )


def receipts_workbook(receipts, applications):
    return workbook_response(
        filename="receipts.xlsx",
        sheets=[
            Sheet(
                "Receipts",
                [
                    Column("Id", "int", 8),
                    Column("Market", width=8),
                    Column("Value date", "date", 12),
                    Column("Bank reference", width=20),
                    Column("Reference", width=30),
                    Column("Payer", width=24),
                    Column("Seller", width=14),
                    Column("Currency", width=9),
                    Column("Amount", "money", 16),
                    Column("Unapplied", "money", 16),
                    Column("Status", width=16),
                    Column("Source", width=10),
                ],
                (
                    (
                        r.pk,
                        r.market_id,
                        r.value_date,
                        r.bank_reference,
                        r.reference,
                        r.payer_name,
                        r.seller.code if r.seller else "",
                        r.currency,
                        _m(r.amount, r.currency),
                        _m(r.amount_unapplied, r.currency),
                        r.get_status_display(),
                        r.source,
                    )
                    for r in receipts.iterator(chunk_size=2000)
                ),
            ),
            Sheet(
                "Applications",
                [
                    Column("Receipt", "int", 8),
                    Column("Bank reference", width=20),
                    Column("Invoice", width=22),
                    Column("Seller", width=14),
                    Column("Currency", width=9),
                    Column("Amount", "money", 16),
                    Column("Rule", width=16),
                    Column("Applied at", "datetime", 20),
                    Column("Reversed at", "datetime", 20),
                    Column("Reversal reason", width=30),
                ],
                (
                    (
                        a.receipt_id,
                        a.receipt.bank_reference,
                        a.invoice.number,
                        a.invoice.seller.code,
                        a.invoice.currency,
                        _m(a.amount, a.invoice.currency),
                        a.get_rule_display(),
                        a.applied_at,
                        a.reversed_at,
                        a.reversal_reason,
                    )
                    for a in applications.iterator(chunk_size=2000)
                ),
            ),
        ],
    )


def aging_workbook(report: dict):
    rc = report["reporting_currency"]
    labels = [label for _, label in BUCKETS]
    cols = [
        Column("Market", width=8),
        Column("Seller", width=14),
        Column("Name", width=28),
        Column("Currency", width=9),
    ]
    cols += [Column(label, "money", 14) for label in labels] + [Column("Total", "money", 16)]
    cols += [Column(f"{label} ({rc})", "money", 14) for label in labels] + [Column(f"Total ({rc})", "money", 16)]
    rows = (
        [r["market_id"], r["seller__code"], r["seller__name"], r["currency"]]
        + [_m(r[k], r["currency"]) for k in [*BUCKET_KEYS, "total"]]
        + [r["reporting"][k] for k in [*BUCKET_KEYS, "total"]]
        for r in report["rows"]
    )
    return workbook_response(
        filename=f"aging_{report['as_of']}.xlsx",
        sheets=[
            Sheet("Aging", cols, rows, header_lines=[f"Receivables aging as of {report['as_of']} (days past due)"])
        ],
    )


def invoices_workbook(queryset, as_of: date):
    return workbook_response(
        filename="invoices.xlsx",
        sheets=[
            Sheet(
                "Invoices",
                [
                    Column("Number", width=22),
                    Column("Kind", width=12),
                    Column("Seller", width=14),
                    Column("Issue date", "date", 12),
                    Column("Due date", "date", 12),
                    Column("Currency", width=9),
                    Column("Net", "money", 14),
                    Column("VAT", "money", 14),
                    Column("Gross", "money", 14),
                    Column("Open", "money", 14),
                    Column("Status", width=16),
                    Column("Dunning level", "int", 8),
                ],
                (
                    (
                        i.number,
                        i.get_kind_display(),
                        i.seller.code,
                        i.issue_date,
                        i.due_date,
                        i.currency,
                        _m(i.net_total, i.currency),
                        _m(i.vat_total, i.currency),
                        _m(i.gross_total, i.currency),
                        _m(i.amount_open, i.currency),
                        i.get_status_display(),
                        i.dunning_level,
                    )
                    for i in queryset.iterator(chunk_size=2000)
                ),
            )
        ],
    )
