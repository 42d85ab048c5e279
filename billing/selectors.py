"""Billing reads shared by pages, API and exports."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, DecimalField, Exists, Max, Min, OuterRef, Prefetch, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import (
    BillingRun,
    BillingRunChunk,
    BillingRunEntry,
    ChargeLine,
    ChargeLineTotal,
    RatingException,
    SellerFeeLine,
    SellerFeeSchedule,
    Shipment,
)

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
        has_line = Exists(ChargeLine.objects.of_shipments(OuterRef("pk")))
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


def run_progress(run: BillingRun) -> dict:
    """`run.progress()` without counting the chunks once the run is completed: posting stored
    their sums on the run (every chunk done, `shipments_rated`, `exception_count`), so the run
    pages and the API read a finished run's figures from its row."""
    if run.status != BillingRun.Status.COMPLETED:
        return run.progress()
    return {
        "done": run.chunks_done,
        "total": run.chunk_count,
        "percent": 100,
        "rated": run.shipments_rated,
        "exceptions": run.exception_count,
    }


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
    the primary key finds (its id is shipment x GENERATIONS + generation)."""
    bounds = BillingRunChunk.objects.filter(run=run).aggregate(
        first=Min("first_shipment_id"), last=Max("last_shipment_id")
    )
    lines = ChargeLine.objects.filter(run=run)
    if bounds["first"] is not None:
        lines = lines.of_shipments(bounds["first"], bounds["last"])
    return lines


def charge_lines(*, run=None, shipment=None, vendor=None, seller=None, kind=None):
    # The contract too: the API shows each line's contract reference (two queries a line without it).
    qs = (run_charge_lines(run) if run else ChargeLine.objects).select_related(
        "vendor", "seller", "shipment", "contract_version__contract"
    )
    if shipment:
        qs = qs.of_shipments(shipment.pk if hasattr(shipment, "pk") else int(shipment))
    if vendor:
        qs = qs.filter(vendor=vendor)
    if seller:
        qs = qs.filter(seller=seller)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("id")  # by shipment, then generation


def shipment_history(shipment: Shipment) -> dict:
    """Every rating of a shipment (original and deltas, oldest first), its current charge (the
    sum of its lines) and the exceptions runs raised for it."""
    lines = list(
        ChargeLine.objects.of_shipments(shipment.pk).select_related("run", "contract_version").order_by("generation")
    )
    current = ChargeLine.objects.of_shipments(shipment.pk).aggregate(
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


def _run_sums(table: str, alias: str) -> str:
    amounts = ", ".join(f"SUM({c}) AS {c}" for c in ("vendor_net", "seller_net", "seller_vat"))
    return f"(SELECT run_id, {amounts} FROM {table} GROUP BY run_id) {alias}"


# Completed runs whose ledger entries do not carry exactly what their charge lines sum to (from
# the chunks' totals, proven equal to the lines by BROKEN_TOTALS_SQL): a line posted twice, or
# left out. A vendor whose amounts net to zero has no entry; its sums are zero on both sides.
# Runs with no entry at all are left out: rows written straight into the tables (the payables
# and receivables test factories) make completed runs without entries, and the services cannot
# (billing_run_post writes the entries before it completes the run).
MISPOSTED_RUNS_SQL = f"""
    SELECT r.id, COALESCE(t.vendor_net, 0), COALESCE(e.vendor_net, 0)
    FROM {_run_sums(BillingRunEntry._meta.db_table, "e")}
    LEFT JOIN {_run_sums(ChargeLineTotal._meta.db_table, "t")} ON t.run_id = e.run_id
    JOIN {BillingRun._meta.db_table} r ON r.id = e.run_id
    WHERE r.status = 'completed' AND (
        COALESCE(t.vendor_net, 0) <> COALESCE(e.vendor_net, 0)
        OR COALESCE(t.seller_net, 0) <> COALESCE(e.seller_net, 0)
        OR COALESCE(t.seller_vat, 0) <> COALESCE(e.seller_vat, 0))
    ORDER BY r.id
"""


def unposted_runs(*, now=None) -> list[dict]:
    """Runs holding charge lines that are not posted and not about to be: failed runs, and
    active runs with no progress for BILLING_STALL_AFTER. Read from the chunks' totals (a few
    rows per run), not from the lines. Each: {"run", "lines", "vendor_net", "seller_net",
    "seller_vat", "last_progress"}."""
    now = now or timezone.now()
    stall_after = timedelta(seconds=settings.BILLING_STALL_AFTER)
    sums = {
        row["run_id"]: row
        for row in ChargeLineTotal.objects.exclude(run__status=BillingRun.Status.COMPLETED)
        .values("run_id")
        .annotate(
            lines=Coalesce(Sum("line_count"), 0),
            vendor_net=_sum("vendor_net"),
            seller_net=_sum("seller_net"),
            seller_vat=_sum("seller_vat"),
        )
        .order_by()
    }
    found = []
    runs = BillingRun.objects.filter(pk__in=sums).annotate(last_finished=Max("chunks__finished_at")).order_by("pk")
    for run in runs:
        last_progress = max(t for t in (run.progress_at, run.started_at, run.created_at, run.last_finished) if t)
        if run.is_active and now - last_progress < stall_after:
            continue
        found.append({"run": run, "last_progress": last_progress, **sums[run.pk]})
    return found


def charge_lines_posted() -> list[str]:
    """Nightly proof that every stored charge line is posted exactly once, or soon will be: each
    belongs to a completed run whose entries carry exactly its sums, or to an active run whose
    last progress is younger than the stall limit."""
    problems = []
    for row in unposted_runs():
        run = row["run"]
        problems.append(
            f"Billing run {run.pk} ({run.market_id} {run.business_date}, {run.get_status_display().lower()}): "
            f"{row['lines']} charge line(s) not posted (vendor cost {run.currency} {row['vendor_net']:.2f}, "
            f"seller fees {row['seller_net']:.2f}, VAT {row['seller_vat']:.2f}); "
            f"last progress {row['last_progress']:%Y-%m-%d %H:%M} UTC"
        )
    with connection.cursor() as cursor:
        cursor.execute(MISPOSTED_RUNS_SQL)
        for run_id, lines, posted in cursor.fetchall():
            problems.append(
                f"Billing run {run_id} posted amounts that differ from its charge lines "
                f"(vendor cost posted {posted:.2f}, lines {lines:.2f})"
            )
    return problems


# --- Seller fee schedules ---------------------------------------------------------------------------


def fee_schedules_list():
    return SellerFeeSchedule.objects.select_related("market", "created_by", "approved_by", "rejected_by").order_by(
        "market_id", "service_level", "-valid_from", "-id"
    )


def fee_schedule_with_lines():
    return fee_schedules_list().prefetch_related(
        Prefetch("lines", queryset=SellerFeeLine.objects.order_by("weight_from_kg"))
    )


def fee_schedules_in_force_ids(*, on) -> set[int]:
    """The schedules rating would use on `on`, for every market and service at once (billing.pricing
    rule 1): of the approved ones, the latest valid_from on or before the day, when not ended."""
    latest = (
        SellerFeeSchedule.objects.filter(status=SellerFeeSchedule.Status.APPROVED, valid_from__lte=on)
        .order_by("market_id", "service_level", "-valid_from")
        .distinct("market_id", "service_level")
    )
    return set(
        SellerFeeSchedule.objects.filter(pk__in=latest.values("pk"))
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=on))
        .values_list("pk", flat=True)
    )
