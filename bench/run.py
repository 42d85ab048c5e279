"""A real billing run of market ZZ, chunks rated in parallel through `billing_chunk_rate` (the
function `billing_chunk_task` calls), then posted by `billing_run_post`."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Sum

from billing import services
from billing.models import BillingRun, BillingRunEntry, ChargeLine
from settlement_ops.models import Market, Posting

from . import MARKET


def _rate(chunk_id: int) -> str:
    try:
        return services.billing_chunk_rate(chunk_id=chunk_id, post_when_done=False)
    finally:
        connection.close()


def _dec(value) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))


def measure(*, business_date, workers: int, chunk_size: int | None) -> dict:
    if chunk_size:
        services.CHUNK_SIZE = chunk_size
    market = Market.objects.get(pk=MARKET)
    started = time.perf_counter()
    run = services.billing_run_start(
        market=market, business_date=business_date, trigger=BillingRun.Trigger.COMMAND, enqueue=False
    )
    planned = time.perf_counter()
    chunk_ids = list(run.chunks.order_by("seq").values_list("pk", flat=True))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        outcomes = list(pool.map(_rate, chunk_ids))
    rated_at = time.perf_counter()
    run = services.billing_run_post(run_id=run.pk)
    finished = time.perf_counter()
    if any(o != "done" for o in outcomes) or run.status != BillingRun.Status.COMPLETED:
        raise SystemExit(f"Run {run.pk} did not complete: {run.status} {outcomes}")

    lines = ChargeLine.objects.filter(run=run)
    agg = lines.aggregate(n=Count("id"), shipments=Count("shipment_id", distinct=True), base=Sum("vendor_base"))
    entries = list(BillingRunEntry.objects.filter(run=run).values_list("entry_id", flat=True))
    # Each entry's postings summed per currency in the database (exact NUMERIC): all must be zero.
    unbalanced = (
        Posting.objects.filter(entry_id__in=entries)
        .values("entry_id", "currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .count()
    )
    return {
        "seconds": finished - started,
        "plan_seconds": planned - started,
        "rate_seconds": rated_at - planned,
        "post_seconds": finished - rated_at,
        "chunks": len(chunk_ids),
        "rated": run.shipments_rated,
        "exceptions": run.exception_count,
        "base_count": agg["n"],
        "base_sum": _dec(agg["base"]),
        "vendor_net": run.vendor_net_total,
        "seller_net": run.seller_net_total,
        "entries": len(entries),
        "balanced": unbalanced == 0 and len(entries) > 0,
        "rated_once": agg["n"] == agg["shipments"] == run.shipments_rated and not lines.exclude(generation=1).exists(),
    }
