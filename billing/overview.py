"""Billing's chart on the finance overview: per day of rating, what vendors billed us (cost) against
the fees we charged sellers, and the margin between them, from the totals each run's chunks
wrote beside their charge lines (one GROUP BY, never a scan of the lines)."""

from datetime import timedelta
from decimal import Decimal

from django.db.models import Sum

from settlement_ops.charts import Chart, Column, Series, bar_chart
from settlement_ops.work_queue import filtered_url

from .models import ChargeLineTotal

DAYS = 30


def margin_by_day(market, *, today) -> list[dict]:
    start = today - timedelta(days=DAYS - 1)
    return list(
        ChargeLineTotal.objects.filter(run__market=market, run__business_date__range=(start, today))
        .values("run__business_date")
        .annotate(cost=Sum("vendor_net"), fees=Sum("seller_net"))
        .order_by("run__business_date")
    )


def charts(market, *, today) -> list[Chart]:
    rows = margin_by_day(market, today=today)
    currency = market.currency
    days = [r["run__business_date"].strftime("%m-%d") for r in rows]
    cost = [r["cost"] for r in rows]
    fees = [r["fees"] for r in rows]
    margin = [f - c for f, c in zip(fees, cost, strict=True)]
    table = [
        (
            r["run__business_date"].strftime("%Y-%m-%d"),
            [c, f, m, (m * 100 / f).quantize(Decimal("0.1")) if f else None],
        )
        for r, c, f, m in zip(rows, cost, fees, margin, strict=True)
    ]
    return [
        Chart(
            key="margin",
            title=f"Billed cost against seller fees, per day ({market.code}, last {DAYS} days, net of VAT)",
            svg=bar_chart(
                title="Billed cost against seller fees",
                categories=days,
                series=[Series("Vendor cost", cost), Series("Seller fees", fees), Series("Margin", margin)],
                unit=currency,
            ),
            currency=currency,
            columns=[Column("Vendor cost"), Column("Seller fees"), Column("Margin"), Column("Margin %", money=False)],
            rows=table,
            link=filtered_url("billing:run_list", market=market.code),
            link_label="Billing runs of the market",
            link_permission="billing.view_billingrun",
        )
    ]
