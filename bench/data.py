"""Benchmark data in market ZZ: master data through the ORM, shipments by one INSERT ... SELECT."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction

from billing.models import (
    BillingRun,
    BillingRunChunk,
    BillingRunEntry,
    ChargeLine,
    ChargeLineTotal,
    RatingException,
    SellerFeeLine,
    SellerFeeSchedule,
    Shipment,
    ShipmentEvent,
)
from billing.rating import ACTIVE_SCHEDULE
from sellers.models import Seller
from settlement_ops.models import Market
from vendors.models import Contract, ContractVersion, RateLine, Surcharge, Vendor

from . import BENCH_MARKETS, MARKET, SELLERS, SERVICES, ZONES

D = Decimal
SHIPMENT = Shipment._meta.db_table
RUN = BillingRun._meta.db_table
SHIPMENT_EVENT = ShipmentEvent._meta.db_table
# Tables holding a run's rows (keyed by run_id), then the runs and shipments themselves.
RUN_TABLES = [
    m._meta.db_table for m in (RatingException, BillingRunEntry, ChargeLine, ChargeLineTotal, BillingRunChunk)
]
BILLING_TABLES = [*RUN_TABLES, RUN, SHIPMENT_EVENT, SHIPMENT]
# Every table both contestants read.
READ_TABLES = [
    m._meta.db_table
    for m in (Shipment, Contract, ContractVersion, RateLine, Surcharge, SellerFeeSchedule, SellerFeeLine, ChargeLine)
]


def _market() -> Market:
    market, _ = Market.objects.get_or_create(
        code=MARKET,
        defaults=dict(
            name="Benchmark",
            currency="GBP",
            vat_standard_rate=D("20.00"),
            timezone="UTC",
            language="en",
            invoice_prefix="ZZ",
            is_active=False,
        ),
    )
    return market


def _bench_only(cursor) -> bool:
    """Whether the database holds no shipment, invoice or compensation request outside the bench's
    markets: then every row pointing at a billing table is the bench's own too."""
    from billing.receivables.models import Invoice
    from compensation.models import CompensationRequest

    for table in (SHIPMENT, Invoice._meta.db_table, CompensationRequest._meta.db_table):
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE market_id <> ALL(%s))", [BENCH_MARKETS])
        if cursor.fetchone()[0]:
            return False
    return True


def _reset(market: Market) -> None:
    """Remove earlier benchmark shipments and runs. Ledger entries are immutable and stay; the
    next run posts under new keys.

    In a database of bench data only, every bench market's billing rows (and what points at them:
    the seller-health, intake and compensation sections' shipments, invoice lines, requests) are
    truncated, so each full bench starts where the first one did: deleting them instead left a
    second run with twice the shipments and a table of dead rows (autovacuum may be off). Beside
    other data, market ZZ's rows alone are deleted."""
    with connection.cursor() as cursor:
        if _bench_only(cursor):
            cursor.execute(f"TRUNCATE {', '.join(BILLING_TABLES)} CASCADE")
            return
        for table in RUN_TABLES:
            cursor.execute(f"DELETE FROM {table} WHERE run_id IN (SELECT id FROM {RUN} WHERE market_id = %s)", [MARKET])
        cursor.execute(f"DELETE FROM {RUN} WHERE market_id = %s", [MARKET])
        cursor.execute(
            f"DELETE FROM {SHIPMENT_EVENT} WHERE shipment_id IN (SELECT id FROM {SHIPMENT} WHERE market_id = %s)",
            [MARKET],
        )
        cursor.execute(f"DELETE FROM {SHIPMENT} WHERE market_id = %s", [MARKET])


def _masters(market: Market, vendor_count: int, valid_from) -> tuple[list[int], list[int], int]:
    author, _ = User.objects.get_or_create(username="bench-author")
    approver, _ = User.objects.get_or_create(username="bench-approver")
    vendor_ids = []
    for k in range(vendor_count):
        vendor, created = Vendor.objects.get_or_create(
            code=f"BENCH-V{k + 1:02d}",
            defaults=dict(market=market, legal_name=f"Bench Carrier {k + 1}", vendor_type="last_mile"),
        )
        vendor_ids.append(vendor.pk)
        if not created and Contract.objects.filter(vendor=vendor).exists():
            continue
        bump = D(k) / D(100)
        for service in SERVICES:
            express = D("1.10") if service == "express" else D("0")
            contract = Contract.objects.create(
                reference=f"BENCH-{k + 1:02d}-{service}",
                vendor=vendor,
                market=market,
                service_level=service,
                currency="GBP",
                valid_from=valid_from,
                status=Contract.Status.ACTIVE,
                author=author,
                approved_by=approver,
            )
            version = ContractVersion.objects.create(
                contract=contract,
                number=1,
                effective_from=valid_from,
                status=ContractVersion.Status.ACTIVE,
                created_by=author,
                approved_by=approver,
                activated_at=datetime(valid_from.year, valid_from.month, valid_from.day, tzinfo=UTC),
            )
            lines = []
            for i, origin in enumerate(ZONES):
                for j, destination in enumerate(ZONES):
                    lane = D(abs(i - j)) * D("0.15")
                    lines.append(
                        RateLine(
                            version=version,
                            service_level=service,
                            origin_zone=origin,
                            destination_zone=destination,
                            weight_from_kg=D("0"),
                            weight_to_kg=D("5"),
                            base_price=D("3.20") + bump + lane + express,
                            price_per_additional_kg=D("0.55"),
                            additional_step_kg=D("0.5"),
                            minimum_charge=D("3.50"),
                        )
                    )
                    lines.append(
                        RateLine(
                            version=version,
                            service_level=service,
                            origin_zone=origin,
                            destination_zone=destination,
                            weight_from_kg=D("5"),
                            weight_to_kg=D("30"),
                            base_price=D("7.50") + bump + lane + express,
                            price_per_additional_kg=D("0.4125"),
                            additional_step_kg=D("1"),
                            minimum_charge=D("9.00"),
                        )
                    )
            RateLine.objects.bulk_create(lines)
            Surcharge.objects.bulk_create(
                [
                    Surcharge(version=version, kind="fuel", percent=D("12.5") + bump),
                    Surcharge(version=version, kind="remote_area", flat_amount=D("2.50"), zone=ZONES[-1]),
                    Surcharge(version=version, kind="oversize", flat_amount=D("5.00"), dimension_threshold_cm=D("55")),
                    Surcharge(version=version, kind="cod", percent=D("1.5"), minimum_amount=D("1.00")),
                    Surcharge(version=version, kind="returns", flat_amount=D("1.50")),
                ]
            )
    seller_ids = []
    existing = {s.code: s.pk for s in Seller.objects.filter(code__startswith="BENCH-S")}
    missing = [
        Seller(
            market=market,
            code=f"BENCH-S{n:04d}",
            name=f"Bench Seller {n}",
            legal_name=f"Bench Seller {n} Ltd",
            email=f"bench{n}@seller.example",
        )
        for n in range(1, SELLERS + 1)
        if f"BENCH-S{n:04d}" not in existing
    ]
    Seller.objects.bulk_create(missing)
    seller_ids = list(Seller.objects.filter(code__startswith="BENCH-S").order_by("code").values_list("pk", flat=True))
    for service in SERVICES:
        # The status the rating statement selects schedules by (billing.rating, one place).
        if SellerFeeSchedule.objects.filter(market=market, service_level=service, status=ACTIVE_SCHEDULE).exists():
            continue
        schedule = SellerFeeSchedule.objects.create(
            market=market,
            service_level=service,
            name=f"Bench {service}",
            status=ACTIVE_SCHEDULE,
            currency="GBP",
            valid_from=valid_from,
            vat_rate=D("20.00"),
            cod_fee_percent=D("1.5"),
            cod_fee_minimum=D("0.50"),
            returns_fee=D("2.00"),
        )
        SellerFeeLine.objects.bulk_create(
            [
                SellerFeeLine(
                    schedule=schedule,
                    weight_from_kg=D("0"),
                    weight_to_kg=D("2"),
                    base_fee=D("4.99"),
                    minimum_fee=D("0"),
                ),
                SellerFeeLine(
                    schedule=schedule,
                    weight_from_kg=D("2"),
                    weight_to_kg=D("30"),
                    base_fee=D("5.99"),
                    fee_per_additional_step=D("0.35"),
                    additional_step_kg=D("1"),
                ),
            ]
        )
    rate_lines = RateLine.objects.filter(
        version__contract__market=market, version__contract__vendor_id__in=vendor_ids
    ).count()
    return vendor_ids, seller_ids, rate_lines


def _map_table(cursor, name: str, ids: list[int]) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {name}")
    cursor.execute(f"CREATE TEMP TABLE {name} (k INTEGER PRIMARY KEY, id BIGINT NOT NULL)")
    cursor.executemany(f"INSERT INTO {name} (k, id) VALUES (%s, %s)", list(enumerate(ids)))


def _generate(
    n: int, vendor_ids: list[int], seller_ids: list[int], business_date, *, start: int = 0, age_days: int = 0
) -> None:
    """N shipments from a number series (start + 1 .. start + n), deterministic: vendor, seller,
    service, lane, weight 0.01-29.99 kg, dimensions on every 5th (some oversize), COD on every 8th,
    a return every 40th, ship dates over the 28 days up to the business date. `age_days`: written
    that many days ago (history: created_at and updated_at in the past)."""
    zones = "CASE {x} " + " ".join(f"WHEN {k} THEN '{z}'" for k, z in enumerate(ZONES)) + " END"
    sql = f"""
        INSERT INTO {SHIPMENT} (
            market_id, vendor_id, seller_id, tracking_number, service_level, origin_zone, destination_zone,
            actual_weight_kg, length_cm, width_cm, height_cm, cod_amount, ship_date, delivered_date, status,
            is_return, revision, created_at, updated_at)
        SELECT %(market)s, vm.id, sm.id, 'BN' || g.i,
            CASE WHEN (g.i / 7) % 4 = 0 THEN 'express' ELSE 'standard' END,
            {zones.format(x="(g.i / 3) % 5")}, {zones.format(x="(g.i * 11 / 5) % 5")},
            CAST((1 + (g.i * 7919) % 2999) / 100.0 AS NUMERIC(10, 3)),
            CASE WHEN g.i % 5 = 0 THEN 10 + g.i % 50 END,
            CASE WHEN g.i % 5 = 0 THEN 10 + (g.i * 3) % 40 END,
            CASE WHEN g.i % 5 = 0 THEN 5 + (g.i * 7) % 30 END,
            CASE WHEN g.i % 8 = 0 THEN (g.i % 100) + 0.5 ELSE 0 END,
            CAST(%(d)s AS DATE) - CAST(g.i % 28 AS INTEGER), NULL,
            CASE WHEN g.i % 40 = 0 THEN 'returned' ELSE 'delivered' END,
            CASE WHEN g.i % 40 = 0 THEN TRUE ELSE FALSE END,
            1, NOW() - %(age)s * INTERVAL '1 day', NOW() - %(age)s * INTERVAL '1 day'
        FROM generate_series(CAST(%(start)s AS BIGINT) + 1, CAST(%(start)s AS BIGINT) + %(n)s) AS g(i)
        JOIN bench_vendor_map vm ON vm.k = g.i % %(vendors)s
        JOIN bench_seller_map sm ON sm.k = (g.i * 7 + g.i / 13) % %(sellers)s
    """
    sql = sql.replace(" % ", " %% ")  # modulo, escaped for the driver's %(name)s parameters
    with connection.cursor() as cursor:
        _map_table(cursor, "bench_vendor_map", vendor_ids)
        _map_table(cursor, "bench_seller_map", seller_ids)
        cursor.execute(
            sql,
            {
                "n": n,
                "start": start,
                "age": age_days,
                "d": business_date,
                "market": MARKET,
                "vendors": len(vendor_ids),
                "sellers": len(seller_ids),
            },
        )
        cursor.execute(f"ANALYZE {SHIPMENT}")


def prepare(*, shipments: int, vendors: int, start: int = 0, age_days: int = 0) -> dict:
    """Market ZZ afresh (earlier benchmark shipments and runs removed) with `shipments` shipments
    of the series from `start` + 1, written `age_days` ago."""
    market = _market()
    business_date = market.local_date() - timedelta(days=1)
    valid_from = business_date - timedelta(days=400)
    with transaction.atomic():
        _reset(market)
        vendor_ids, seller_ids, rate_lines = _masters(market, vendors, valid_from)
        _generate(shipments, vendor_ids, seller_ids, business_date, start=start, age_days=age_days)
    with connection.cursor() as cursor:
        # Fresh statistics for every table both contestants read (autovacuum would, later).
        for table in READ_TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")
        # Write the generated data out now: otherwise the checkpoint it calls for falls due in
        # the middle of whichever contestant runs next, which then pays for the generator's writes.
        # Not allowed for every role: the figures are then noisier, not wrong.
        with contextlib.suppress(DatabaseError):
            cursor.execute("CHECKPOINT")
    return {"business_date": business_date, "rate_lines": rate_lines, "market": market}


def reset_runs() -> None:
    """Remove market ZZ's runs and what they wrote, keeping its shipments, so they can be rated
    again (ledger entries are immutable and stay; a new run posts under new keys). When the runs
    are all benchmark runs in a database of bench data only, the run tables are truncated: deleted
    charge lines would stay in the table and its indexes as dead rows (autovacuum may be off) that
    the next run steps over in every unique check."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {RUN} WHERE market_id <> %s)", [MARKET])
        if not cursor.fetchone()[0] and _bench_only(cursor):
            cursor.execute(f"TRUNCATE {', '.join([*RUN_TABLES, RUN])} CASCADE")
            return
        for table in RUN_TABLES:
            cursor.execute(f"DELETE FROM {table} WHERE run_id IN (SELECT id FROM {RUN} WHERE market_id = %s)", [MARKET])
        cursor.execute(f"DELETE FROM {RUN} WHERE market_id = %s", [MARKET])


def add_shipments(*, shipments: int, vendors: int, start: int) -> None:
    """More shipments in market ZZ (the series from `start` + 1, written now), keeping what is
    there: a night's new arrivals on top of history. Statistics refreshed, as after prepare."""
    market = _market()
    business_date = market.local_date() - timedelta(days=1)
    with transaction.atomic():
        vendor_ids, seller_ids, _rate_lines = _masters(market, vendors, business_date - timedelta(days=400))
        _generate(shipments, vendor_ids, seller_ids, business_date, start=start)
