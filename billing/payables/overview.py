"""Payables' chart on the finance overview: per month, the vendor cost accrued by billing runs
against what vendors invoiced (approved, net) against what we paid them (payments confirmed
paid, by pay date, gross). Three GROUP BY queries."""

from datetime import date

from django.db.models import Sum
from django.db.models.functions import TruncMonth

from billing.models import ChargeLineTotal
from settlement_ops.charts import Chart, Column, Series, bar_chart
from settlement_ops.work_queue import filtered_url

from .models import Payment, VendorInvoice

MONTHS = 6


def month_starts(today: date, months: int = MONTHS) -> list[date]:
    first = today.replace(day=1)
    starts = []
    for _ in range(months):
        starts.append(first)
        first = (first.replace(day=1) - date.resolution).replace(day=1)
    return starts[::-1]


def _by_month(qs, day_field: str, amount_field: str) -> dict[date, object]:
    rows = qs.annotate(m=TruncMonth(day_field)).values("m").annotate(total=Sum(amount_field)).order_by("m")
    return {row["m"]: row["total"] for row in rows}


def accrued_invoiced_paid(market, *, today) -> list[tuple[date, object, object, object]]:
    months = month_starts(today)
    since = months[0]
    accrued = _by_month(
        ChargeLineTotal.objects.filter(run__market=market, run__business_date__gte=since),
        "run__business_date",
        "vendor_net",
    )
    invoiced = _by_month(
        VendorInvoice.objects.filter(
            market=market,
            kind=VendorInvoice.Kind.INVOICE,
            status=VendorInvoice.Status.APPROVED,
            invoice_date__gte=since,
        ),
        "invoice_date",
        "approved_net",
    )
    paid = _by_month(
        Payment.objects.filter(run__market=market, status=Payment.Status.PAID, run__pay_date__gte=since),
        "run__pay_date",
        "amount",
    )
    return [(m, accrued.get(m, 0), invoiced.get(m, 0), paid.get(m, 0)) for m in months]


def charts(market, *, today) -> list[Chart]:
    rows = accrued_invoiced_paid(market, today=today)
    return [
        Chart(
            key="accrued_invoiced_paid",
            title=f"Accrued against invoiced against paid, per month ({market.code})",
            svg=bar_chart(
                title="Accrued against invoiced against paid",
                categories=[m.strftime("%Y-%m") for m, *_ in rows],
                series=[
                    Series("Accrued (net)", [r[1] for r in rows]),
                    Series("Invoiced (approved net)", [r[2] for r in rows]),
                    Series("Paid (gross)", [r[3] for r in rows]),
                ],
                unit=market.currency,
            ),
            currency=market.currency,
            columns=[Column("Accrued (net)"), Column("Invoiced (approved net)"), Column("Paid (gross)")],
            rows=[(m.strftime("%Y-%m"), [a, i, p]) for m, a, i, p in rows],
            link=filtered_url("payables:invoice_list", market=market.code, status=VendorInvoice.Status.APPROVED),
            link_label="Approved vendor invoices of the market",
            link_permission="payables.view_vendorinvoice",
        )
    ]
