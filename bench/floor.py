"""The floors a billing run is measured against, each ONE hand-written statement in one session.

* Same-output floor (`measure_same_output`): one `INSERT ... SELECT` that writes exactly the rows
  and columns the run stores — both sides, every surcharge kind, VAT, gross — into a logged table
  created `LIKE` the charge-line table `INCLUDING ALL` (same columns, defaults, constraints and
  indexes). Its totals are checked against the run's, column by column (`compare`).
* Base-only floor (`measure_base`, for information): the vendor base charge of every shipment into
  an unlogged temporary table — the statement earlier figures were measured against.

Written by hand, independently of billing.rating: the floor is what that code is measured (and
checked) against. It reads the same tables, with the rules of vendors.pricing and billing.pricing.
"""

from __future__ import annotations

import time
from decimal import Decimal

from django.db import connection, transaction

from billing.models import ChargeLine, SellerFeeLine, SellerFeeSchedule, Shipment
from billing.rating import ACTIVE_SCHEDULE  # the seller fee schedules that rate, defined in one place
from settlement_ops.models import Market
from vendors.models import SURCHARGE_ORDER, Contract, ContractVersion, RateLine, Surcharge

from . import MARKET

SHIPMENT = Shipment._meta.db_table
CHARGE_LINE = ChargeLine._meta.db_table
FLOOR_TABLE = "bench_floor_chargeline"
# Columns compared between the floor and the run: every amount and both weights, summed.
SUM_COLUMNS = ["chargeable_weight_kg", "seller_chargeable_weight_kg", *ChargeLine.AMOUNT_COLUMNS]

_KG = (
    "GREATEST(s.actual_weight_kg, CASE WHEN s.length_cm IS NULL OR s.width_cm IS NULL OR s.height_cm IS NULL THEN 0 "
    "ELSE CEIL(s.length_cm * s.width_cm * s.height_cm * 1000.0 / {divisor}) / 1000.0 END)"
)
BASE_FLOOR_SQL = f"""
        CREATE TEMP TABLE bench_floor AS
        SELECT s.id AS shipment_id,
            ROUND(GREATEST(rl.base_price + CEIL(({_KG.format(divisor="c.volumetric_divisor")} - rl.weight_from_kg) * 1.0
                  / rl.additional_step_kg) * rl.price_per_additional_kg, rl.minimum_charge), 2) AS freight
        FROM {SHIPMENT} s
        JOIN {Contract._meta.db_table} c ON c.vendor_id = s.vendor_id AND c.market_id = s.market_id
            AND c.service_level = s.service_level AND c.status = 'active'
        JOIN {ContractVersion._meta.db_table} v ON v.contract_id = c.id AND v.status = 'active'
        JOIN {RateLine._meta.db_table} rl ON rl.version_id = v.id AND rl.service_level = s.service_level
            AND rl.origin_zone = s.origin_zone AND rl.destination_zone = s.destination_zone
            AND rl.weight_from_kg < {_KG.format(divisor="c.volumetric_divisor")}
            AND {_KG.format(divisor="c.volumetric_divisor")} <= rl.weight_to_kg
        WHERE s.market_id = %(market)s AND s.ship_date <= %(business_date)s
    """


def _surcharge(kind: str, base: str, condition: str = "TRUE") -> str:
    """One surcharge kind's rounded amount (vendors.pricing rule 6), 0 when it does not apply."""
    p = f"sv.{kind}_"
    return (
        f"CASE WHEN {p}id IS NOT NULL AND {condition} AND ({p}from IS NULL OR {p}from <= b.ship_date) "
        f"AND ({p}to IS NULL OR b.ship_date <= {p}to) THEN ROUND(GREATEST(COALESCE({p}pct * {base} / 100, {p}flat), "
        f"{p}min), 2) ELSE 0 END"
    )


def _pivot(kind: str) -> str:
    return ", ".join(
        f"MAX(CASE WHEN su.kind = '{kind}' THEN su.{field} END) AS {kind}_{alias}"
        for field, alias in (
            ("id", "id"),
            ("percent", "pct"),
            ("flat_amount", "flat"),
            ("minimum_amount", "min"),
            ("valid_from", "from"),
            ("valid_to", "to"),
            ("zone", "zone"),
            ("dimension_threshold_cm", "dim"),
        )
    )


KINDS = [str(k) for k in SURCHARGE_ORDER]
VENDOR_COLUMNS = {
    "fuel": _surcharge("fuel", "b.freight"),
    "remote_area": _surcharge("remote_area", "b.freight", "sv.remote_area_zone = b.destination_zone"),
    "oversize": _surcharge("oversize", "b.freight", "b.max_dim > sv.oversize_dim"),
    "cod": _surcharge("cod", "b.cod_amount", "b.cod_amount > 0"),
    "peak": _surcharge("peak", "b.freight"),
    "returns": _surcharge("returns", "b.freight", "b.is_return"),
}
SAME_OUTPUT_SQL = f"""
INSERT INTO {FLOOR_TABLE} (
    id, run_id, chunk_id, shipment_id, generation, kind, shipment_revision, market_id, vendor_id, seller_id,
    service_level, ship_date, currency, contract_version_id, rate_line_id, seller_fee_schedule_id,
    chargeable_weight_kg, seller_chargeable_weight_kg, {", ".join(ChargeLine.AMOUNT_COLUMNS)}, created_at)
SELECT {ChargeLine.key_sql("n.id", "1")}, 0, 0, n.id, 1, 'original', n.revision, n.market_id, n.vendor_id, n.seller_id, n.service_level, n.ship_date,
    n.currency, n.version_id, n.rate_line_id, n.schedule_id, n.vendor_kg, n.seller_kg,
    n.freight, {", ".join(f"n.{kind}" for kind in KINDS)}, n.vendor_net, n.vendor_vat,
    n.vendor_net + n.vendor_vat,
    n.seller_base, n.seller_cod, n.seller_returns, n.seller_net, n.seller_vat, n.seller_net + n.seller_vat, NOW()
FROM (
    SELECT v.*, ROUND(v.vendor_net * v.vat_rate / 100, 2) AS vendor_vat,
        ROUND(v.seller_net * v.seller_vat_rate / 100, 2) AS seller_vat
    FROM (
        SELECT a.*, a.freight + {" + ".join(f"a.{kind}" for kind in KINDS)} AS vendor_net,
            a.seller_base + a.seller_cod + a.seller_returns AS seller_net
        FROM (
            SELECT b.*, {", ".join(f"{VENDOR_COLUMNS[kind]} AS {kind}" for kind in KINDS)},
                CASE WHEN b.cod_amount > 0
                    THEN ROUND(GREATEST(b.cod_amount * b.cod_fee_percent / 100, b.cod_fee_minimum), 2) ELSE 0 END
                    AS seller_cod,
                CASE WHEN b.is_return THEN ROUND(b.returns_fee, 2) ELSE 0 END AS seller_returns
            FROM (
                SELECT w.*, rl.id AS rate_line_id,
                    ROUND(GREATEST(rl.base_price + CEIL((w.vendor_kg - rl.weight_from_kg) / rl.additional_step_kg)
                        * rl.price_per_additional_kg, rl.minimum_charge), 2) AS freight,
                    ROUND(GREATEST(fl.base_fee + CEIL((w.seller_kg - fl.weight_from_kg) / fl.additional_step_kg)
                        * fl.fee_per_additional_step, fl.minimum_fee), 2) AS seller_base
                FROM (
                    SELECT s.id, s.revision, s.market_id, s.vendor_id, s.seller_id, s.service_level, s.ship_date,
                        s.origin_zone, s.destination_zone, s.cod_amount, s.is_return,
                        GREATEST(s.length_cm, s.width_cm, s.height_cm) AS max_dim,
                        m.currency, m.vat_standard_rate AS vat_rate, v.id AS version_id,
                        {_KG.format(divisor="c.volumetric_divisor")} AS vendor_kg,
                        {_KG.format(divisor="fs.volumetric_divisor")} AS seller_kg,
                        fs.id AS schedule_id, fs.vat_rate AS seller_vat_rate, fs.cod_fee_percent, fs.cod_fee_minimum,
                        fs.returns_fee
                    FROM {SHIPMENT} s
                    JOIN {Market._meta.db_table} m ON m.code = s.market_id
                    JOIN {Contract._meta.db_table} c ON c.vendor_id = s.vendor_id AND c.market_id = s.market_id
                        AND c.service_level = s.service_level AND c.status = 'active' AND c.valid_from <= s.ship_date
                        AND (c.valid_to IS NULL OR s.ship_date <= c.valid_to)
                    JOIN {ContractVersion._meta.db_table} v ON v.contract_id = c.id AND v.status = 'active'
                        AND v.effective_from <= s.ship_date
                    JOIN {SellerFeeSchedule._meta.db_table} fs ON fs.market_id = s.market_id
                        AND fs.service_level = s.service_level AND fs.status = '{ACTIVE_SCHEDULE}' AND fs.valid_from <= s.ship_date
                        AND (fs.valid_to IS NULL OR s.ship_date <= fs.valid_to)
                    WHERE s.market_id = %(market)s AND s.ship_date <= %(business_date)s
                    OFFSET 0
                ) w
                JOIN {RateLine._meta.db_table} rl ON rl.version_id = w.version_id
                    AND rl.service_level = w.service_level AND rl.origin_zone = w.origin_zone
                    AND rl.destination_zone = w.destination_zone
                    AND rl.weight_from_kg < w.vendor_kg AND w.vendor_kg <= rl.weight_to_kg
                JOIN {SellerFeeLine._meta.db_table} fl ON fl.schedule_id = w.schedule_id
                    AND fl.weight_from_kg < w.seller_kg AND w.seller_kg <= fl.weight_to_kg
                OFFSET 0
            ) b
            LEFT JOIN (
                SELECT su.version_id, {", ".join(_pivot(kind) for kind in KINDS)}
                FROM {Surcharge._meta.db_table} su GROUP BY su.version_id
            ) sv ON sv.version_id = b.version_id
            OFFSET 0
        ) a
    ) v
) n
"""


def _warm() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {SHIPMENT} WHERE market_id = %s", [MARKET])


def measure_base(*, business_date) -> dict:
    """The base-only statement (freight into an unlogged temp table), for information."""
    _warm()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_floor")
        with transaction.atomic():
            started = time.perf_counter()
            cursor.execute(BASE_FLOOR_SQL, {"market": MARKET, "business_date": business_date})
            seconds = time.perf_counter() - started
        cursor.execute("SELECT COUNT(*), SUM(freight) FROM bench_floor")
        count, total = cursor.fetchone()
        cursor.execute("DROP TABLE IF EXISTS bench_floor")
    return {"seconds": seconds, "count": count, "sum": Decimal(total or 0).quantize(Decimal("0.01"))}


def sums(table: str, where: str = "TRUE", params=None) -> dict:
    """COUNT(*) and the SUM of every compared column of a charge-line table."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*), {', '.join(f'COALESCE(SUM({c}), 0)' for c in SUM_COLUMNS)} FROM {table} WHERE {where}",
            params or [],
        )
        row = cursor.fetchone()
    return {"count": row[0], **{c: Decimal(v) for c, v in zip(SUM_COLUMNS, row[1:], strict=True)}}


def measure_same_output(*, business_date) -> dict:
    """The same-output floor: create the table LIKE the charge lines (logged, every index and
    constraint), then time ONE INSERT ... SELECT and its commit. Returns seconds and the sums."""
    _warm()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {FLOOR_TABLE}")
        cursor.execute(f"CREATE TABLE {FLOOR_TABLE} (LIKE {CHARGE_LINE} INCLUDING ALL)")
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        # Tuned as a person writing one statement would: room for the hash joins in memory, hash
        # joins to the small rate, fee and surcharge tables (their estimates of one row otherwise
        # invite a nested loop per shipment), and no JIT (compiling this statement costs seconds).
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(SAME_OUTPUT_SQL, {"market": MARKET, "business_date": business_date})
    seconds = time.perf_counter() - started
    totals = sums(FLOOR_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {FLOOR_TABLE}")
    return {"seconds": seconds, "sums": totals}


def compare(floor_sums: dict, run_sums: dict) -> list[str]:
    """The columns whose totals differ, as 'column: floor X, run Y' (empty: the outputs agree)."""
    return [
        f"{column}: floor {floor_sums[column]}, run {run_sums[column]}"
        for column in ("count", *SUM_COLUMNS)
        if floor_sums[column] != run_sums[column]
    ]
