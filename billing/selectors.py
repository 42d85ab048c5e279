"""Billing reads shared by pages, API and exports."""

from __future__ import annotations

from django.db import connection
from django.db.models import Count, DecimalField, Exists, Max, Min, OuterRef, Sum, Value
from django.db.models.functions import Coalesce

from .models import BillingRun, BillingRunChunk, ChargeLine, ChargeLineTotal, RatingException, Shipment

ZERO = Value(0, output_field=DecimalField(max_digits=20, decimal_places=4))


def _sum(field: str):
    return Coalesce(Sum(field), ZERO)


def shipments_search(
    *,
    market=None,
    vendor=None,
    seller=None,
    q: str | None = None,
    status=None,
    rated=None,
    date_from=None,
    date_to=None,
):
    """Shipments filtered for the search page and API; `rated` "yes"/"no"/"exception"."""
    qs = Shipment.objects.select_related("vendor", "seller", "market")
    if market:
        qs = qs.filter(market=market)
    if vendor:
        qs = qs.filter(vendor=vendor)
    if seller:
        qs = qs.filter(seller=seller)
    if q:
        qs = (
            qs.filter(tracking_number__iexact=q.strip())
            if len(q.strip()) > 5
            else qs.filter(tracking_number__icontains=q.strip())
        )
    if status:
        qs = qs.filter(status=status)
    if date_from:
        qs = qs.filter(ship_date__gte=date_from)
    if date_to:
        qs = qs.filter(ship_date__lte=date_to)
    if rated in ("yes", "no", "exception"):
        has_line = Exists(ChargeLine.objects.filter(shipment=OuterRef("pk")))
        if rated == "yes":
            qs = qs.filter(has_line)
        elif rated == "no":
            qs = qs.filter(~has_line)
        else:
            qs = qs.filter(~has_line, Exists(RatingException.objects.filter(shipment=OuterRef("pk"))))
    return qs.order_by("-ship_date", "-id")


def runs_list(*, market=None, status=None, business_date=None):
    qs = BillingRun.objects.select_related("market", "started_by")
    if market:
        qs = qs.filter(market=market)
    if status:
        qs = qs.filter(status=status)
    if business_date:
        qs = qs.filter(business_date=business_date)
    return qs.order_by("-created_at", "-id")


def run_totals(run: BillingRun, *, by=("vendor_id", "vendor__code", "service_level")):
    """A run's totals grouped by `by` (vendor and service by default): summed from the totals its
    chunks wrote with their charge lines, not from every line."""
    return (
        ChargeLineTotal.objects.filter(run=run)
        .values(*by)
        .annotate(
            shipments=Coalesce(Sum("line_count"), 0),
            vendor_net=_sum("vendor_net"),
            vendor_vat=_sum("vendor_vat"),
            seller_net=_sum("seller_net"),
            seller_vat=_sum("seller_vat"),
        )
        .order_by(*by)
    )


def run_grand_total(run: BillingRun) -> dict:
    return ChargeLineTotal.objects.filter(run=run).aggregate(
        shipments=Coalesce(Sum("line_count"), 0),
        vendor_net=_sum("vendor_net"),
        vendor_vat=_sum("vendor_vat"),
        seller_net=_sum("seller_net"),
        seller_vat=_sum("seller_vat"),
    )


def run_exceptions(run: BillingRun, *, code=None, vendor=None, q=None):
    qs = RatingException.objects.filter(run=run).select_related("shipment", "vendor", "shipment__seller")
    if code:
        qs = qs.filter(code=code)
    if vendor:
        qs = qs.filter(vendor=vendor)
    if q:
        qs = qs.filter(shipment__tracking_number__icontains=q)
    return qs.order_by("code", "shipment_id")


def run_exception_counts(run: BillingRun):
    return RatingException.objects.filter(run=run).values("code").annotate(n=Count("id")).order_by("code")


def run_charge_lines(run):
    """A run's charge lines (`run` a run or its id). Charge lines have no index on their run (each
    index slows every run down): a run's lines lie within its chunks' shipment id ranges, which
    the unique (shipment, generation) index finds."""
    bounds = BillingRunChunk.objects.filter(run=run).aggregate(
        first=Min("first_shipment_id"), last=Max("last_shipment_id")
    )
    lines = ChargeLine.objects.filter(run=run)
    if bounds["first"] is not None:
        lines = lines.filter(shipment_id__gte=bounds["first"], shipment_id__lte=bounds["last"])
    return lines


def charge_lines(*, run=None, shipment=None, vendor=None, seller=None, kind=None):
    qs = (run_charge_lines(run) if run else ChargeLine.objects).select_related("vendor", "seller", "shipment")
    if shipment:
        qs = qs.filter(shipment=shipment)
    if vendor:
        qs = qs.filter(vendor=vendor)
    if seller:
        qs = qs.filter(seller=seller)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("shipment_id", "generation")


def shipment_history(shipment: Shipment) -> dict:
    """Every rating of a shipment (original and deltas, oldest first), its current charge (the
    sum of its lines) and the exceptions runs raised for it."""
    lines = list(
        ChargeLine.objects.filter(shipment=shipment).select_related("run", "contract_version").order_by("generation")
    )
    current = ChargeLine.objects.filter(shipment=shipment).aggregate(
        vendor_net=_sum("vendor_net"),
        vendor_vat=_sum("vendor_vat"),
        seller_net=_sum("seller_net"),
        seller_vat=_sum("seller_vat"),
    )
    exceptions = list(RatingException.objects.filter(shipment=shipment).select_related("run").order_by("-run_id"))
    return {"lines": lines, "current": current, "exceptions": exceptions}


AMOUNTS = ("vendor_net", "vendor_vat", "seller_net", "seller_vat")
_KEYS = "run_id, vendor_id, seller_id, service_level"
BROKEN_LINES_SQL = f"""
    SELECT COUNT(*) FROM {ChargeLine._meta.db_table} cl
    LEFT JOIN {Shipment._meta.db_table} s ON s.id = cl.shipment_id
    LEFT JOIN {BillingRun._meta.db_table} r ON r.id = cl.run_id
    WHERE s.id IS NULL OR r.id IS NULL OR s.vendor_id <> cl.vendor_id OR s.market_id <> cl.market_id
"""


def _broken_totals_sql() -> str:
    """Runs whose totals differ from their lines, per run, vendor, seller and service, from both
    sides (a LEFT JOIN each way). Sums of NUMERIC columns are exact: compared as they are."""
    amounts = ", ".join(f"SUM({c}) AS {c}" for c in AMOUNTS)
    lines = f"SELECT {_KEYS}, COUNT(*) AS n, {amounts} FROM {ChargeLine._meta.db_table} GROUP BY {_KEYS}"
    totals = f"SELECT {_KEYS}, SUM(line_count) AS n, {amounts} FROM {ChargeLineTotal._meta.db_table} GROUP BY {_KEYS}"
    join = " AND ".join(f"a.{k} = b.{k}" for k in _KEYS.split(", "))
    differ = " OR ".join(f"a.{c} <> b.{c}" for c in ("n", *AMOUNTS))
    return f"""
        SELECT COUNT(DISTINCT run_id) FROM (
            SELECT a.run_id FROM ({lines}) a LEFT JOIN ({totals}) b ON {join} WHERE b.run_id IS NULL OR {differ}
            UNION ALL
            SELECT b.run_id FROM ({totals}) b LEFT JOIN ({lines}) a ON {join} WHERE a.run_id IS NULL
        ) x
    """


BROKEN_TOTALS_SQL = _broken_totals_sql()


def charge_lines_integrity() -> list[str]:
    """Nightly proof for what charge lines keep without database constraints: each line's run,
    shipment, vendor and seller exist and agree with its shipment, and each run's totals (posting
    and the run pages read them) still equal its lines."""
    problems = []
    with connection.cursor() as cursor:
        cursor.execute(BROKEN_LINES_SQL)
        broken = cursor.fetchone()[0]
        if broken:
            problems.append(
                f"{broken} charge line(s) point at a missing run or shipment, or disagree with their shipment"
            )
        cursor.execute(BROKEN_TOTALS_SQL)
        broken = cursor.fetchone()[0]
        if broken:
            problems.append(f"{broken} billing run(s) have totals that differ from their charge lines")
    return problems
