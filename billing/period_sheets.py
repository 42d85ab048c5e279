"""Billing's sheets of the period workbook (settlement_ops.period_workbook finds this module by
its name): the billing runs of the period with their totals, and every charge line they rated,
streamed (a market's month can hold a million lines)."""

from __future__ import annotations

from itertools import chain

from settlement_ops.exports import Column, Sheet

from . import selectors
from .exports import charge_line_columns, charge_line_rows
from .models import BillingRun


def _runs(ctx):
    return BillingRun.objects.filter(
        market=ctx.market, business_date__gte=ctx.start, business_date__lte=ctx.end
    ).order_by("business_date", "id")


def runs_sheet(ctx):
    runs = _runs(ctx).select_related("started_by")
    if not runs.exists():
        return None
    return Sheet(
        "Billing runs",
        [
            Column("Run", "int", 8),
            Column("Business date", "date", 12),
            Column("Status", width=12),
            Column("Trigger", width=10),
            Column("Started by", width=14),
            Column("Started at", "datetime", 19),
            Column("Finished at", "datetime", 19),
            Column("Shipments rated", "int", 10),
            Column("Exceptions", "int", 10),
            ctx.money("Vendor net"),
            ctx.money("Seller net"),
            ctx.money("Seller VAT"),
        ],
        (
            (
                r.pk,
                r.business_date,
                r.get_status_display(),
                r.trigger,
                getattr(r.started_by, "username", ""),
                r.started_at,
                r.finished_at,
                r.shipments_rated,
                r.exception_count,
                r.vendor_net_total,
                r.seller_net_total,
                r.seller_vat_total,
            )
            for r in runs
        ),
    )


def charge_lines_sheet(ctx):
    """Every charge line of the period's completed runs, run by run (charge lines have no index on
    their run; selectors.run_charge_lines finds a run's lines through its chunks' ranges)."""
    runs = list(_runs(ctx).filter(status=BillingRun.Status.COMPLETED).values_list("pk", flat=True))
    if not runs:
        return None
    count = sum(r.shipments_rated for r in BillingRun.objects.filter(pk__in=runs))
    return Sheet(
        "Charge lines",
        charge_line_columns(ctx.places),
        chain.from_iterable(charge_line_rows(selectors.run_charge_lines(run).order_by("id")) for run in runs),
        count=count,
    )


SHEETS = [runs_sheet, charge_lines_sheet]
