"""AP's sheets of the period workbook (settlement_ops.period_workbook finds this module by its
name): vendor invoices with their audit flags and decisions, payables, payment runs with their
bank files and approvers, and payments. Each is omitted when the market has none in the period."""

from __future__ import annotations

from django.db.models import Q

from settlement_ops.exports import Column, Sheet

from .models import BankFile, Payable, Payment, PaymentRun, VendorInvoiceLine


def _between(ctx, field):
    start, end = ctx.moments
    return {f"{field}__gte": start, f"{field}__lt": end}


def invoice_lines_sheet(ctx):
    lines = (
        VendorInvoiceLine.objects.filter(
            invoice__market=ctx.market, invoice__invoice_date__gte=ctx.start, invoice__invoice_date__lte=ctx.end
        )
        .select_related("invoice__vendor", "decided_by")
        .order_by("invoice_id", "line_no")
    )
    count = lines.count()
    if not count:
        return None
    return Sheet(
        "Vendor invoices",
        [
            Column("Vendor", width=12),
            Column("Invoice", width=20),
            Column("Kind", width=12),
            Column("Invoice date", "date", 12),
            Column("Invoice status", width=16),
            Column("Row", "int", 7),
            Column("Tracking", width=22),
            Column("Currency", width=8),
            ctx.money("Billed net", 14),
            ctx.money("Billed VAT", 14),
            ctx.money("Expected net", 14),
            ctx.money("Approved net", 14),
            ctx.money("Approved VAT", 14),
            Column("Audit flags", width=40),
            Column("Decision", width=22),
            Column("Reason", width=30),
            Column("Decided by", width=14),
            Column("Decided at", "datetime", 19),
        ],
        (
            (
                line.invoice.vendor.code,
                line.invoice.number,
                line.invoice.get_kind_display(),
                line.invoice.invoice_date,
                line.invoice.get_status_display(),
                line.line_no,
                line.tracking_number,
                line.invoice.currency,
                line.billed_net,
                line.billed_vat,
                line.expected_net,
                line.approved_net,
                line.approved_vat,
                ", ".join(line.flag_codes),
                line.get_decision_display(),
                line.reason,
                getattr(line.decided_by, "username", ""),
                line.decided_at,
            )
            for line in lines.iterator(chunk_size=5000)
        ),
        count=count,
    )


def payables_sheet(ctx):
    start, end = ctx.moments
    payables = (
        Payable.objects.filter(market=ctx.market, created_at__lt=end)
        .filter(Q(paid_at__isnull=True) | Q(paid_at__gte=start))
        .select_related("vendor", "invoice", "payment")
        .order_by("due_date", "id")
    )
    if not payables.exists():
        return None
    return Sheet(
        "Payables",
        [
            Column("Payable", "int", 9),
            Column("Vendor", width=12),
            Column("Kind", width=12),
            Column("Document", width=20),
            Column("Currency", width=8),
            ctx.money("Amount"),
            Column("Due", "date", 12),
            Column("Status today", width=16),
            Column("Payment", width=26),
            Column("Paid at", "datetime", 19),
            Column("On hold", width=8),
            Column("Hold reason", width=30),
        ],
        (
            (
                p.pk,
                p.vendor.code,
                p.get_kind_display(),
                p.invoice.number if p.invoice_id else "",
                p.currency,
                p.amount,
                p.due_date,
                p.get_status_display(),
                p.payment.end_to_end_id if p.payment_id else "",
                p.paid_at,
                "yes" if p.on_hold else "",
                p.hold_reason,
            )
            for p in payables.iterator(chunk_size=2000)
        ),
        header_lines=[f"Payables open at some time in {ctx.period.label} (created before its end, not paid before it)"],
    )


def payment_runs_sheet(ctx):
    runs = (
        PaymentRun.objects.filter(market=ctx.market)
        .filter(Q(pay_date__gte=ctx.start, pay_date__lte=ctx.end) | Q(**_between(ctx, "prepared_at")))
        .select_related("prepared_by", "approved_by")
        .order_by("pay_date", "id")
    )
    if not runs.exists():
        return None
    files = {}
    for run_id, name, digest in BankFile.objects.filter(run__in=runs).values_list("run_id", "filename", "sha256"):
        files.setdefault(run_id, []).append(f"{name} sha256:{digest}")
    return Sheet(
        "Payment runs",
        [
            Column("Run", width=20),
            Column("Pay date", "date", 12),
            Column("Status", width=14),
            Column("Currency", width=8),
            ctx.money("Total"),
            Column("Payments", "int", 9),
            Column("Prepared by", width=14),
            Column("Prepared at", "datetime", 19),
            Column("Approved by", width=14),
            Column("Approved at", "datetime", 19),
            Column("Bank files (SHA-256)", width=90),
        ],
        (
            (
                r.number,
                r.pay_date,
                r.get_status_display(),
                r.currency,
                r.total_amount,
                r.payment_count,
                getattr(r.prepared_by, "username", ""),
                r.prepared_at,
                getattr(r.approved_by, "username", ""),
                r.approved_at,
                "; ".join(files.get(r.pk, [])),
            )
            for r in runs
        ),
    )


def payments_sheet(ctx):
    payments = (
        Payment.objects.filter(run__market=ctx.market)
        .filter(
            Q(entry__entry_date__gte=ctx.start, entry__entry_date__lte=ctx.end) | Q(**_between(ctx, "run__prepared_at"))
        )
        .select_related("run", "vendor", "confirmed_by")
        .order_by("run_id", "id")
    )
    if not payments.exists():
        return None
    return Sheet(
        "Payments",
        [
            Column("End-to-end id", width=26),
            Column("Run", width=20),
            Column("Vendor", width=12),
            Column("Beneficiary", width=30),
            Column("Account", width=30),
            Column("Currency", width=8),
            ctx.money("Amount"),
            Column("Status", width=12),
            Column("Confirmed by", width=14),
            Column("Confirmed at", "datetime", 19),
            Column("Ledger entry", "int", 10),
            Column("Rejection reason", width=30),
        ],
        (
            (
                p.end_to_end_id,
                p.run.number,
                p.vendor.code,
                p.account_holder,
                p.iban or f"{p.bank_code} {p.account_number}",
                p.currency,
                p.amount,
                p.get_status_display(),
                getattr(p.confirmed_by, "username", ""),
                p.confirmed_at,
                p.entry_id,
                p.rejection_reason,
            )
            for p in payments
        ),
    )


SHEETS = [invoice_lines_sheet, payables_sheet, payment_runs_sheet, payments_sheet]
