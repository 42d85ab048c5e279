"""Receivables' charts on the finance overview: AR aging today, and the DSO trend (days sales
outstanding at each month end: the seller receivable by the ledger / what was charged to it in the
90 days before x 90). Each is one aggregate query."""

from datetime import date, timedelta
from decimal import Decimal

from django.db.models import DecimalField, Q, Sum

from settlement_ops.charts import Chart, Column, Series, bar_chart, line_chart
from settlement_ops.models import AccountKind, Posting, month_end
from settlement_ops.work_queue import filtered_url

from .models import Invoice
from .selectors import BUCKET_KEYS, BUCKETS, aging

DSO_WINDOW_DAYS = 90
DSO_MONTHS = 6
MONEY = DecimalField(max_digits=20, decimal_places=4)


def dso_ends(today: date, months: int = DSO_MONTHS) -> list[date]:
    """The last `months` month ends, the current month's being today."""
    ends = [today]
    first = today.replace(day=1)
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
        ends.append(month_end(first))
    return ends[::-1]


def dso_trend(market, *, today) -> list[dict]:
    """Receivable at each end and what was charged to it (debits) in the 90 days before, both
    from the seller receivable postings, so fees rated but not yet invoiced count on both sides."""
    ends = dso_ends(today)
    window = {}
    for i, end in enumerate(ends):
        window[f"ar{i}"] = Sum("amount", filter=Q(entry_date__lte=end))
        window[f"ch{i}"] = Sum(
            "amount",
            filter=Q(amount__gt=0, entry_date__lte=end, entry_date__gt=end - timedelta(days=DSO_WINDOW_DAYS)),
        )
    sums = Posting.objects.filter(
        market=market, currency=market.currency, account__kind=AccountKind.SELLER_RECEIVABLE
    ).aggregate(**window)
    rows = []
    for i, end in enumerate(ends):
        ar = sums[f"ar{i}"] or Decimal(0)
        charged = sums[f"ch{i}"] or Decimal(0)
        dso = (ar / charged * DSO_WINDOW_DAYS).quantize(Decimal("0.1")) if charged else None
        rows.append({"end": end, "receivable": ar, "charged": charged, "dso": dso})
    return rows


def charts(market, *, today) -> list[Chart]:
    currency = market.currency
    report = aging(as_of=today, market=market)
    totals = report["totals"].get(currency, {key: Decimal(0) for key in [*BUCKET_KEYS, "total"]})
    labels = [label for _, label in BUCKETS]
    trend = dso_trend(market, today=today)
    return [
        Chart(
            key="aging",
            title=f"AR aging today ({market.code}, open seller invoices by days past due)",
            svg=bar_chart(
                title="AR aging",
                categories=labels,
                series=[Series("Open", [totals[key] for key in BUCKET_KEYS])],
                unit=currency,
            ),
            currency=currency,
            columns=[Column("Open amount")],
            rows=[(label, [totals[key]]) for key, label in BUCKETS] + [("Total", [totals["total"]])],
            link=filtered_url("receivables:aging", market=market.code),
            link_label="Aging by seller",
            link_permission="receivables.view_invoice",
        ),
        Chart(
            key="dso",
            title=f"DSO trend ({market.code}, days, at each month end)",
            svg=line_chart(
                title="DSO trend",
                categories=[row["end"].strftime("%Y-%m-%d") for row in trend],
                series=[Series("DSO", [row["dso"] for row in trend])],
                unit="days",
            ),
            currency=currency,
            columns=[
                Column("Seller receivable"),
                Column(f"Charged in {DSO_WINDOW_DAYS} days"),
                Column("DSO (days)", money=False),
            ],
            rows=[(row["end"].strftime("%Y-%m-%d"), [row["receivable"], row["charged"], row["dso"]]) for row in trend],
            link=filtered_url("receivables:invoice_list", market=market.code, status=Invoice.Status.OPEN),
            link_label="Open seller invoices",
            link_permission="receivables.view_invoice",
        ),
    ]
