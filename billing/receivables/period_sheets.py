"""AR's sheets of the period workbook (settlement_ops.period_workbook finds this module by its
name): seller invoices and credit notes, receipts, their applications, AR aging at period end and
write-offs. Each is omitted when the market has none in the period."""

from __future__ import annotations

from django.db.models import Q

from settlement_ops.exports import Column, Sheet

from . import selectors
from .models import Invoice, Receipt, ReceiptApplication, WriteOff
from .selectors import BUCKET_KEYS, BUCKETS


def invoices_sheet(ctx):
    docs = (
        Invoice.objects.filter(market=ctx.market, issue_date__gte=ctx.start, issue_date__lte=ctx.end)
        .select_related("seller", "credited_invoice")
        .order_by("issue_date", "number")
    )
    if not docs.exists():
        return None
    return Sheet(
        "Seller invoices",
        [
            Column("Number", width=22),
            Column("Kind", width=12),
            Column("Seller", width=12),
            Column("Issue date", "date", 12),
            Column("Due date", "date", 12),
            Column("Period start", "date", 12),
            Column("Period end", "date", 12),
            Column("Currency", width=8),
            ctx.money("Net"),
            ctx.money("VAT"),
            ctx.money("Gross"),
            ctx.money("Open today"),
            Column("Status", width=16),
            Column("Credits invoice", width=22),
            Column("Ledger entry", "int", 10),
        ],
        (
            (
                d.number,
                d.get_kind_display(),
                d.seller.code,
                d.issue_date,
                d.due_date,
                d.period_start,
                d.period_end,
                d.currency,
                d.net_total,
                d.vat_total,
                d.gross_total,
                d.amount_open,
                d.get_status_display(),
                d.credited_invoice.number if d.credited_invoice_id else "",
                d.entry_id,
            )
            for d in docs.iterator(chunk_size=2000)
        ),
    )


def receipts_sheet(ctx):
    receipts = (
        Receipt.objects.filter(market=ctx.market, value_date__gte=ctx.start, value_date__lte=ctx.end)
        .select_related("seller")
        .order_by("value_date", "id")
    )
    if not receipts.exists():
        return None
    return Sheet(
        "Receipts",
        [
            Column("Bank reference", width=24),
            Column("Value date", "date", 12),
            Column("Seller", width=12),
            Column("Payer", width=30),
            Column("Reference", width=30),
            Column("Currency", width=8),
            ctx.money("Amount"),
            ctx.money("Unapplied today"),
            Column("Status", width=18),
            Column("Source", width=10),
            Column("Ledger entry", "int", 10),
        ],
        (
            (
                r.bank_reference,
                r.value_date,
                r.seller.code if r.seller_id else "",
                r.payer_name,
                r.reference,
                r.currency,
                r.amount,
                r.amount_unapplied,
                r.get_status_display(),
                r.source,
                r.entry_id,
            )
            for r in receipts.iterator(chunk_size=2000)
        ),
    )


def applications_sheet(ctx):
    apps = (
        ReceiptApplication.objects.filter(invoice__market=ctx.market)
        .filter(
            Q(entry__entry_date__gte=ctx.start, entry__entry_date__lte=ctx.end)
            | Q(reversal_entry__entry_date__gte=ctx.start, reversal_entry__entry_date__lte=ctx.end)
        )
        .select_related("receipt", "invoice", "applied_by", "reversed_by", "entry", "reversal_entry")
        .order_by("entry__entry_date", "id")
    )
    if not apps.exists():
        return None
    return Sheet(
        "Receipt applications",
        [
            Column("Receipt", width=24),
            Column("Invoice", width=22),
            Column("Currency", width=8),
            ctx.money("Amount"),
            Column("Rule", width=18),
            Column("Applied on", "date", 12),
            Column("Applied by", width=14),
            Column("Reversed on", "date", 12),
            Column("Reversed by", width=14),
            Column("Reversal reason", width=30),
        ],
        (
            (
                a.receipt.bank_reference,
                a.invoice.number,
                a.invoice.currency,
                a.amount,
                a.get_rule_display(),
                a.entry.entry_date,
                getattr(a.applied_by, "username", ""),
                a.reversal_entry.entry_date if a.reversal_entry_id else None,
                getattr(a.reversed_by, "username", ""),
                a.reversal_reason,
            )
            for a in apps.iterator(chunk_size=2000)
        ),
    )


def aging_sheet(ctx):
    rows = selectors.aging_at(market=ctx.market, end=ctx.end)
    if not rows:
        return None
    return Sheet(
        "AR aging",
        [
            Column("Seller", width=12),
            Column("Name", width=30),
            Column("Currency", width=8),
            *(ctx.money(label, 14) for _, label in BUCKETS),
            ctx.money("Total", 14),
        ],
        ((r["seller__code"], r["seller__name"], r["currency"], *(r[k] for k in BUCKET_KEYS), r["total"]) for r in rows),
        header_lines=[f"AR aging at {ctx.end}: open amounts and days past due as they stood on that date"],
    )


def write_offs_sheet(ctx):
    start, end = ctx.moments
    write_offs = (
        WriteOff.objects.filter(invoice__market=ctx.market)
        .filter(Q(proposed_at__gte=start, proposed_at__lt=end) | Q(decided_at__gte=start, decided_at__lt=end))
        .select_related("invoice__seller", "proposed_by", "decided_by")
        .order_by("proposed_at", "id")
    )
    if not write_offs.exists():
        return None
    return Sheet(
        "Write-offs",
        [
            Column("Invoice", width=22),
            Column("Seller", width=12),
            Column("Currency", width=8),
            ctx.money("Amount"),
            Column("Reason", width=40),
            Column("Status", width=10),
            Column("Proposed by", width=14),
            Column("Proposed at", "datetime", 19),
            Column("Decided by", width=14),
            Column("Decided at", "datetime", 19),
            Column("Decision note", width=30),
            Column("Ledger entry", "int", 10),
        ],
        (
            (
                w.invoice.number,
                w.invoice.seller.code,
                w.currency,
                w.amount,
                w.reason,
                w.get_status_display(),
                getattr(w.proposed_by, "username", ""),
                w.proposed_at,
                getattr(w.decided_by, "username", ""),
                w.decided_at,
                w.decision_note,
                w.entry_id,
            )
            for w in write_offs
        ),
    )


SHEETS = [invoices_sheet, receipts_sheet, applications_sheet, aging_sheet, write_offs_sheet]
