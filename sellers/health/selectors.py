"""Reads for seller health pages, portal and API."""

from __future__ import annotations

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.utils.translation import gettext_lazy as _

from ..models import HealthWarning, ImprovementPlan, MarketBenchmark, Seller, SellerMetricSnapshot
from .metrics import HIGHER_IS_WORSE, METRICS
from .rules import RULES

# What the seller (portal) and staff read for each metric.
METRIC_LABELS = {
    "orders_shipped": _("Orders shipped"),
    "late_dispatch_rate": _("Late dispatch rate (%)"),
    "delivery_success_rate": _("Delivery success rate (%)"),
    "return_rate": _("Return rate (%)"),
    "failed_delivery_rate": _("Failed delivery rate (%)"),
    "lost_damaged_rate": _("Lost or damaged (%)"),
    "cod_failure_rate": _("COD failure rate (%)"),
    "avg_fee_per_parcel": _("Average logistics fee per parcel"),
    "overdue_ar": _("Overdue invoices"),
    "dso_days": _("Days sales outstanding"),
    "chargebacks_per_100": _("Chargebacks per 100 orders"),
    "compensation_cost_per_100": _("Compensation cost per 100 orders"),
    "ticket_rate_per_100": _("Questions per 100 orders"),
    "csat": _("Satisfaction (1-5)"),
}

SEVERITY_RANK = Case(
    When(severity="high", then=Value(3)),
    When(severity="medium", then=Value(2)),
    default=Value(1),
    output_field=IntegerField(),
)


def open_warnings(*, seller: Seller | None = None, market: str | None = None) -> QuerySet[HealthWarning]:
    qs = HealthWarning.objects.filter(state=HealthWarning.State.OPEN).select_related("seller", "market", "assignee")
    if seller is not None:
        qs = qs.filter(seller=seller)
    if market:
        qs = qs.filter(market_id=market)
    return qs.annotate(rank=SEVERITY_RANK).order_by("-rank", "first_seen_on", "id")


def warning_text(warning: HealthWarning) -> str:
    label = RULES.get(warning.rule_code, warning.rule_code)
    return f"{warning.get_severity_display()}: {label} since {warning.first_seen_on:%Y-%m-%d}"


def latest_date(seller: Seller):
    return (
        SellerMetricSnapshot.objects.filter(seller=seller)
        .order_by("-business_date")
        .values_list("business_date", flat=True)
        .first()
    )


def seller_snapshots(seller: Seller, *, business_date) -> dict[int, SellerMetricSnapshot]:
    rows = SellerMetricSnapshot.objects.filter(seller=seller, business_date=business_date)
    return {row.window_days: row for row in rows}


def benchmarks(*, market: str, business_date, window_days: int, band: str) -> dict[str, MarketBenchmark]:
    rows = MarketBenchmark.objects.filter(
        market_id=market, business_date=business_date, window_days=window_days, volume_band=band
    )
    return {row.metric: row for row in rows}


def position(metric: str, value, bench: MarketBenchmark | None) -> str:
    """Where a value sits against the band's benchmark, in plain words (direction-aware)."""
    if value is None or bench is None or bench.p50 is None:
        return ""
    worse = (lambda a, b: a > b) if metric in HIGHER_IS_WORSE else (lambda a, b: a < b)
    if bench.p90 is not None and metric in HIGHER_IS_WORSE and worse(value, bench.p90):
        return _("among the weakest 10 %")
    if worse(value, bench.p50):
        return _("weaker than the median")
    return _("at or better than the median")


def metric_rows(seller: Seller, *, window_days: int = 30) -> tuple[object, list[dict]]:
    """The latest night's metrics for one window with the band's p50/p90 and the seller's position."""
    day = latest_date(seller)
    if day is None:
        return None, []
    snap = seller_snapshots(seller, business_date=day).get(window_days)
    if snap is None:
        return day, []
    bench = benchmarks(market=seller.market_id, business_date=day, window_days=window_days, band=snap.volume_band)
    rows = []
    for metric in METRICS:
        value = getattr(snap, metric)
        b = bench.get(metric)
        rows.append(
            {
                "metric": metric,
                "label": METRIC_LABELS[metric],
                "value": value,
                "p50": b.p50 if b else None,
                "p90": b.p90 if b else None,
                "position": position(metric, value, b),
            }
        )
    return day, rows


def trend(seller: Seller, *, metric: str, window_days: int = 7, nights: int = 30) -> list[tuple]:
    rows = (
        SellerMetricSnapshot.objects.filter(seller=seller, window_days=window_days)
        .order_by("-business_date")
        .values_list("business_date", metric)[:nights]
    )
    return list(reversed(rows))


def with_labels(rows):
    """Warnings or plans as a list, each with `metric_label` (the reader's language)."""
    rows = list(rows)
    for row in rows:
        row.metric_label = METRIC_LABELS.get(row.metric, row.metric)
    return rows


def plans(seller: Seller) -> QuerySet[ImprovementPlan]:
    return ImprovementPlan.objects.filter(seller=seller).select_related("created_by")


def portfolio(*, market: str = "", band: str = "", severity: str = "", warned_only: bool = False):
    """Sellers ranked by risk on the latest night: open warnings (by severity), then late dispatch."""
    day = SellerMetricSnapshot.objects.order_by("-business_date").values_list("business_date", flat=True).first()
    qs = SellerMetricSnapshot.objects.filter(window_days=30).select_related("seller", "market")
    # No night measured yet: nothing to rank (the annotations below still apply, for the export).
    qs = qs.filter(business_date=day) if day is not None else qs.none()
    if market:
        qs = qs.filter(market_id=market)
    if band:
        qs = qs.filter(volume_band=band)
    open_q = Q(seller__health_warnings__state="open")
    if severity:
        open_q &= Q(seller__health_warnings__severity=severity)
    qs = qs.annotate(
        warnings=Count("seller__health_warnings", filter=open_q, distinct=True),
        high=Count(
            "seller__health_warnings", filter=open_q & Q(seller__health_warnings__severity="high"), distinct=True
        ),
    )
    if warned_only or severity:
        qs = qs.filter(warnings__gt=0)
    return qs.order_by("-high", "-warnings", "-late_dispatch_rate", "-overdue_ar", "seller__code")
