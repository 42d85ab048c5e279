"""A real billing run of market ZZ, chunks rated in parallel through `billing_chunk_rate` (the
function `billing_chunk_task` calls) by `workers` threads that each keep one connection, like
worker processes, then posted by `billing_run_post`; and the naive per-row rating it is compared
with (`measure_naive`)."""

from __future__ import annotations

import queue
import threading
import time
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from billing import services
from billing.models import BillingRun, BillingRunEntry, ChargeLine
from settlement_ops.models import Market, Posting

from . import MARKET, floor

NAIVE_TABLE = "bench_naive_chargeline"


def _worker(chunk_ids: queue.SimpleQueue, outcomes: list) -> None:
    """One worker: takes chunk ids until none is left, on one database connection kept from chunk to
    chunk, as a Celery worker process keeps its own (CONN_MAX_AGE) between tasks; closed at the end."""
    try:
        while True:
            try:
                chunk_id = chunk_ids.get_nowait()
            except queue.Empty:
                return
            outcomes.append(services.billing_chunk_rate(chunk_id=chunk_id, post_when_done=False))
    finally:
        connection.close()


def _dec(value) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))


def measure(*, business_date, workers: int, chunk_size: int | None) -> dict:
    if chunk_size:
        services.CHUNK_SIZE = chunk_size
    market = Market.objects.get(pk=MARKET)
    with connection.cursor() as cursor:  # warm the cache as the floor does
        cursor.execute(f"SELECT COUNT(*) FROM {floor.SHIPMENT} WHERE market_id = %s", [MARKET])
    started = time.perf_counter()
    run = services.billing_run_start(
        market=market, business_date=business_date, trigger=BillingRun.Trigger.COMMAND, enqueue=False
    )
    planned = time.perf_counter()
    chunk_ids = list(run.chunks.order_by("seq").values_list("pk", flat=True))
    pending, outcomes = queue.SimpleQueue(), []
    for chunk_id in chunk_ids:
        pending.put(chunk_id)
    threads = [threading.Thread(target=_worker, args=(pending, outcomes)) for _ in range(max(1, workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rated_at = time.perf_counter()
    run = services.billing_run_post(run_id=run.pk)
    finished = time.perf_counter()
    if (
        len(outcomes) != len(chunk_ids)
        or any(o != "done" for o in outcomes)
        or run.status != BillingRun.Status.COMPLETED
    ):
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
        "run_id": run.pk,
        "sums": floor.sums(floor.CHARGE_LINE, "run_id = %s", [run.pk]),
    }


def measure_naive(*, sample: int = 10_000) -> dict:
    """What a user could write in an afternoon: a Python loop over `sample` shipments of market ZZ
    that prices each one with the product's pricing functions (`vendors.pricing.price`,
    `billing.pricing.seller_fee`) and INSERTs its charge line, one row per statement, all in one
    transaction. Like any such script it looks the masters up once per key and keeps them in a
    dict (the contract version per vendor, service and ship date; each version's surcharges and
    rate lines by lane; the seller fee schedule and its lines), so the loop pays for pricing and row-by-row writes, not
    for eight ORM lookups a shipment. Into a table LIKE the charge lines (with their indexes),
    dropped afterwards. Returns seconds and shipments/s."""
    from billing.models import SellerFeeLine, Shipment
    from billing.pricing import find_schedule, seller_fee
    from settlement_ops.models import Market
    from vendors.pricing import ShipmentAttrs, find_version, price

    columns = [
        "id", "run_id", "chunk_id", "shipment_id", "generation", "kind", "shipment_revision", "market_id", "vendor_id",
        "seller_id", "service_level", "ship_date", "currency", "contract_version_id", "rate_line_id",
        "seller_fee_schedule_id", "chargeable_weight_kg", "seller_chargeable_weight_kg",
        *ChargeLine.AMOUNT_COLUMNS, "created_at",
    ]  # fmt: skip
    insert = f"INSERT INTO {NAIVE_TABLE} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {NAIVE_TABLE}")
        cursor.execute(f"CREATE TABLE {NAIVE_TABLE} (LIKE {floor.CHARGE_LINE} INCLUDING ALL)")
    shipments = Shipment.objects.filter(market_id=MARKET).order_by("id")[:sample]
    versions, masters, schedules = {}, {}, {}

    def version_of(s):
        """The version in force (per vendor, service and ship date), then its surcharges and its
        rate lines grouped by lane, loaded once per version."""
        key = (s.vendor_id, s.service_level, s.ship_date)
        if key not in versions:
            versions[key] = find_version(
                market_code=s.market_id, vendor_id=s.vendor_id, service_level=s.service_level, ship_date=s.ship_date
            )
        version = versions[key]
        if version.pk not in masters:
            by_lane = {}
            for line in version.rate_lines.all():
                by_lane.setdefault((line.service_level, line.origin_zone, line.destination_zone), []).append(line)
            masters[version.pk] = (list(version.surcharges.all()), by_lane)
        surcharges, by_lane = masters[version.pk]
        return version, surcharges, by_lane.get((s.service_level, s.origin_zone, s.destination_zone), [])

    def schedule_of(s):
        key = (s.market_id, s.service_level, s.ship_date)
        if key not in schedules:
            schedule = find_schedule(market_code=s.market_id, service_level=s.service_level, ship_date=s.ship_date)
            schedules[key] = (schedule, list(SellerFeeLine.objects.filter(schedule=schedule)))
        return schedules[key]

    vat_rate = Market.objects.get(pk=MARKET).vat_standard_rate
    started = time.perf_counter()
    count = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for s in shipments.iterator(chunk_size=2000):
            attrs = ShipmentAttrs(
                market=s.market_id, vendor_id=s.vendor_id, service_level=s.service_level,
                origin_zone=s.origin_zone, destination_zone=s.destination_zone, weight_kg=s.actual_weight_kg,
                ship_date=s.ship_date, length_cm=s.length_cm, width_cm=s.width_cm, height_cm=s.height_cm,
                cod_value=s.cod_amount, is_returned=s.is_return,
            )  # fmt: skip
            version, surcharges, lane = version_of(s)
            quote = price(
                attrs,
                contract=version.contract,
                version=version,
                rate_lines=lane,
                surcharges=surcharges,
                vat_rate=vat_rate,
            )
            schedule, fee_lines = schedule_of(s)
            fee = seller_fee(attrs, schedule=schedule, lines=fee_lines)
            vendor = [quote.amount_of("freight"), *(quote.amount_of(kind) for kind in ChargeLine.SURCHARGE_COLUMNS)]
            amounts = [
                *vendor, quote.net, quote.vat, quote.total,
                fee.base, fee.cod, fee.returns, fee.net, fee.vat, fee.gross,
            ]  # fmt: skip
            cursor.execute(
                insert,
                [
                    s.pk * ChargeLine.GENERATIONS + 1, 0, 0, s.pk, 1, "original", s.revision, s.market_id, s.vendor_id, s.seller_id, s.service_level,
                    s.ship_date, quote.currency, quote.contract_version_id, quote.rate_line_id, schedule.pk,
                    quote.chargeable_weight_kg, fee.chargeable_weight_kg, *amounts, timezone.now(),
                ],
            )  # fmt: skip
            count += 1
    seconds = time.perf_counter() - started
    # The naive rating must be right to be a fair yardstick: its sums equal the stored charge
    # lines of the same shipments (their first generation), column by column.
    naive_sums = floor.sums(NAIVE_TABLE)
    stored_sums = floor.sums(
        floor.CHARGE_LINE,
        f"generation = 1 AND shipment_id IN (SELECT shipment_id FROM {NAIVE_TABLE})",
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {NAIVE_TABLE}")
    return {
        "seconds": seconds,
        "count": count,
        "per_s": count / seconds if seconds else 0,
        "agrees": naive_sums == stored_sums,
    }
