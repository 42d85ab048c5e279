"""Set-based rating of one chunk (a shipment id range): the SQL twin of `vendors/pricing.py`.

`vendors.pricing.rate()` is THE rating rule (rules 1-8 in its docstring); this module computes
the same numbers for thousands of shipments per statement, and `tests/billing/test_rating_parity.py`
compares the two on a varied sample (every surcharge kind, bracket edges, minimums, VAT,
rounding) so they cannot drift. Change the rule in pricing.py first, then here.

One chunk = three statements in the caller's transaction (all or nothing):
  1. CREATE TEMP TABLE billing_rating_tmp AS SELECT ... — per eligible shipment: contract version,
     chargeable weight, rate line, rounded freight, the seller fee (same shipment data, the
     seller schedule's own brackets), or the exception code when it cannot be rated.
  2. INSERT INTO billing_chargeline SELECT ... — adds the surcharges (one join + GROUP BY), VAT,
     totals, and subtracts what earlier generations charged (delta lines for re-ratings).
  3. INSERT INTO billing_ratingexception SELECT ... — the shipments that could not be rated.

Eligible = shipped on or before the business date and either never rated, or rated at another
shipment revision (its data changed) or with another contract version than the one in force now
(a retroactive amendment). A shipment's charge lines are unique by (shipment, generation), so
a retried or concurrent chunk can never rate a shipment twice: the second insert violates the
constraint and its transaction rolls back.

The same SQL runs on PostgreSQL and SQLite (every division is written with a decimal literal,
`* 1.0 / x` or `/ 100.0`, because SQLite divides integers as integers). PostgreSQL computes in exact NUMERIC. SQLite stores
decimals as binary floats, so there ROUND/CEIL are Python functions registered on each connection
(`billing.apps`) that read the float back to 15 significant digits as a Decimal before rounding
half-up — exact for the amounts the demo handles (far below 15 digits).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import connection
from django.utils import timezone

from settlement_ops.money import minor_units

TMP = "billing_rating_tmp"

# Effective contract statuses (vendors.models.Contract.EFFECTIVE_STATUSES).
EFFECTIVE = "('active', 'expired', 'terminated')"


@dataclass
class ChunkOutcome:
    rated: int
    exceptions: int


def _dialect():
    if connection.vendor == "postgresql":
        return {
            "round": lambda x, n: f"ROUND({x}, {n})",
            "ceil": lambda x: f"CEIL({x})",
            "greatest": lambda *xs: f"GREATEST({', '.join(xs)})",
            "temp": f"CREATE TEMP TABLE {TMP} ON COMMIT DROP AS",
            "true": "TRUE",
        }
    return {
        "round": lambda x, n: f"billing_round({x}, {n})",
        "ceil": lambda x: f"billing_ceil({x})",
        "greatest": lambda *xs: f"MAX({', '.join(xs)})",
        "temp": f"CREATE TEMP TABLE {TMP} AS",
        "true": "1",
    }


def _weight_sql(d, divisor: str) -> str:
    """Rule 3: max(actual, CEIL(L x W x H / divisor to 0.001 kg)); 0 volumetric without all dims."""
    volumetric = (
        "(CASE WHEN sh.length_cm IS NULL OR sh.width_cm IS NULL OR sh.height_cm IS NULL THEN 0 "
        f"ELSE {d['ceil'](f'sh.length_cm * sh.width_cm * sh.height_cm * 1000.0 / {divisor}')} / 1000.0 END)"
    )
    return d["greatest"]("sh.actual_weight_kg", volumetric)


def _bracket_price(d, base: str, per_step: str, step: str, weight_from: str, minimum: str, weight: str, places: int) -> str:
    """Rule 5: round(max(base + CEIL((W - from) / step) x per_step, minimum))."""
    steps = d["ceil"](f"({weight} - {weight_from}) * 1.0 / {step}")
    return d["round"](d["greatest"](f"{base} + {steps} * {per_step}", minimum), places)


def _stage1_sql(d, places: int) -> str:
    """Per eligible shipment of the chunk: inputs, contract version, rate line, freight, seller fee,
    or the exception code. Weights are computed twice (vendor and seller divisor)."""
    vendor_kg = _weight_sql(d, "c.volumetric_divisor")
    seller_kg = _weight_sql(d, "fs.volumetric_divisor")
    max_dim = (
        "(CASE WHEN sh.length_cm IS NULL OR sh.width_cm IS NULL OR sh.height_cm IS NULL THEN NULL "
        f"ELSE {d['greatest']('sh.length_cm', 'sh.width_cm', 'sh.height_cm')} END)"
    )
    return f"""
    {d['temp']}
    SELECT b.*,
        rl.id AS rate_line_id,
        {_bracket_price(d, 'rl.base_price', 'rl.price_per_additional_kg', 'rl.additional_step_kg', 'rl.weight_from_kg', 'rl.minimum_charge', 'b.vendor_kg', places)} AS freight,
        fl.id AS seller_line_id,
        {_bracket_price(d, 'fl.base_fee', 'fl.fee_per_additional_step', 'fl.additional_step_kg', 'fl.weight_from_kg', 'fl.minimum_fee', 'b.seller_kg', places)} AS seller_base,
        CASE
            WHEN b.actual_weight_kg IS NULL THEN 'missing_weight'
            WHEN b.contract_id IS NULL THEN 'no_contract'
            WHEN b.version_id IS NULL THEN 'no_version'
            WHEN b.contract_currency <> b.market_currency THEN 'currency_mismatch'
            WHEN rl.id IS NULL THEN 'no_rate_line'
            WHEN b.schedule_id IS NULL THEN 'no_seller_fee'
            WHEN b.schedule_currency <> b.market_currency THEN 'currency_mismatch'
            WHEN fl.id IS NULL THEN 'no_seller_fee_line'
        END AS code
    FROM (
        SELECT sh.id, sh.vendor_id, sh.seller_id, sh.market_id, sh.service_level, sh.origin_zone,
            sh.destination_zone, sh.ship_date, sh.revision, sh.cod_amount, sh.is_return, sh.actual_weight_kg,
            {max_dim} AS max_dim,
            m.currency AS market_currency, m.vat_standard_rate AS vat_rate,
            c.id AS contract_id, c.currency AS contract_currency, vv.version_id,
            {vendor_kg} AS vendor_kg,
            fs.id AS schedule_id, fs.currency AS schedule_currency, fs.vat_rate AS seller_vat_rate,
            fs.cod_fee_percent, fs.cod_fee_minimum, fs.returns_fee,
            {seller_kg} AS seller_kg,
            COALESCE(pg.generation, 0) AS prev_generation
        FROM billing_shipment sh
        JOIN settlement_ops_market m ON m.code = sh.market_id
        LEFT JOIN vendors_contract c
            ON c.vendor_id = sh.vendor_id AND c.market_id = sh.market_id AND c.service_level = sh.service_level
            AND c.status IN {EFFECTIVE} AND c.valid_from <= sh.ship_date
            AND (c.valid_to IS NULL OR c.valid_to >= sh.ship_date)
        LEFT JOIN (
            -- Active versions with the day the next active version takes over (rule 2).
            SELECT v.id AS version_id, v.contract_id, v.effective_from,
                LEAD(v.effective_from) OVER (PARTITION BY v.contract_id ORDER BY v.effective_from) AS next_from
            FROM vendors_contractversion v
            JOIN vendors_contract c0 ON c0.id = v.contract_id
            WHERE v.status = 'active' AND c0.market_id = %(market)s
        ) vv ON vv.contract_id = c.id AND vv.effective_from <= sh.ship_date
            AND (vv.next_from IS NULL OR sh.ship_date < vv.next_from)
        LEFT JOIN (
            -- Active seller fee schedules with the day the next one takes over.
            SELECT s.*, LEAD(s.valid_from) OVER (PARTITION BY s.service_level ORDER BY s.valid_from) AS next_from
            FROM billing_sellerfeeschedule s
            WHERE s.status = 'active' AND s.market_id = %(market)s
        ) fs ON fs.service_level = sh.service_level AND fs.valid_from <= sh.ship_date
            AND (fs.next_from IS NULL OR sh.ship_date < fs.next_from)
            AND (fs.valid_to IS NULL OR sh.ship_date <= fs.valid_to)
        LEFT JOIN (
            SELECT shipment_id, MAX(generation) AS generation
            FROM billing_chargeline WHERE shipment_id BETWEEN %(first)s AND %(last)s
            GROUP BY shipment_id
        ) pg ON pg.shipment_id = sh.id
        LEFT JOIN billing_chargeline pl ON pl.shipment_id = sh.id AND pl.generation = pg.generation
            AND pl.shipment_id BETWEEN %(first)s AND %(last)s
        WHERE sh.market_id = %(market)s AND sh.id BETWEEN %(first)s AND %(last)s
            AND sh.ship_date <= %(business_date)s AND sh.id <= %(watermark)s
            AND (pl.id IS NULL OR pl.shipment_revision <> sh.revision
                 OR vv.version_id IS NULL OR pl.contract_version_id <> vv.version_id)
    ) b
    LEFT JOIN vendors_rateline rl
        ON rl.version_id = b.version_id AND rl.service_level = b.service_level
        AND rl.origin_zone = b.origin_zone AND rl.destination_zone = b.destination_zone
        AND rl.weight_from_kg < b.vendor_kg AND b.vendor_kg <= rl.weight_to_kg
    LEFT JOIN billing_sellerfeeline fl
        ON fl.schedule_id = b.schedule_id AND fl.weight_from_kg < b.seller_kg AND b.seller_kg <= fl.weight_to_kg
    """


AMOUNT_COLUMNS = [
    "vendor_base", "vendor_fuel", "vendor_remote", "vendor_oversize", "vendor_cod", "vendor_peak", "vendor_returns",
    "vendor_net", "vendor_vat", "vendor_gross", "seller_base", "seller_cod", "seller_returns", "seller_net",
    "seller_vat", "seller_gross",
]
SURCHARGE_COLUMNS = {
    "fuel": "vendor_fuel", "remote_area": "vendor_remote", "oversize": "vendor_oversize",
    "cod": "vendor_cod", "peak": "vendor_peak", "returns": "vendor_returns",
}


def _stage2_sql(d, places: int) -> str:
    """Charge lines: surcharges (rule 6), VAT (rule 7), seller COD/returns fees and VAT, minus
    the sum of earlier generations (so re-ratings write deltas)."""
    true = d["true"]
    percent_base = "CASE WHEN su.kind = 'cod' THEN t.cod_amount ELSE t.freight END"
    amount = d["round"](
        d["greatest"](
            f"CASE WHEN su.percent IS NOT NULL THEN su.percent * ({percent_base}) / 100.0 ELSE su.flat_amount END",
            "su.minimum_amount",
        ),
        places,
    )
    per_kind = ",\n            ".join(
        f"SUM(CASE WHEN su.kind = '{kind}' THEN {amount} ELSE 0 END) AS {column}"
        for kind, column in SURCHARGE_COLUMNS.items()
    )
    surcharge_cols = list(SURCHARGE_COLUMNS.values())
    vendor_net = " + ".join(["x.vendor_base"] + [f"x.{c}" for c in surcharge_cols])
    seller_cod = (
        f"CASE WHEN t.cod_amount > 0 THEN "
        f"{d['round'](d['greatest']('t.cod_amount * t.cod_fee_percent / 100.0', 't.cod_fee_minimum'), places)} ELSE 0 END"
    )
    seller_returns = f"CASE WHEN t.is_return = {true} THEN {d['round']('t.returns_fee', places)} ELSE 0 END"
    prev_sums = ", ".join(f"SUM({c}) AS {c}" for c in AMOUNT_COLUMNS)
    delta = ", ".join(f"y.{c} - COALESCE(p.{c}, 0)" for c in AMOUNT_COLUMNS)
    return f"""
    INSERT INTO billing_chargeline (
        run_id, chunk_id, shipment_id, generation, kind, shipment_revision, market_id, vendor_id, seller_id,
        service_level, ship_date, currency, contract_version_id, rate_line_id, seller_fee_schedule_id,
        chargeable_weight_kg, seller_chargeable_weight_kg, {", ".join(AMOUNT_COLUMNS)}, created_at
    )
    SELECT %(run)s, %(chunk)s, y.id, y.prev_generation + 1,
        CASE WHEN y.prev_generation = 0 THEN 'original' ELSE 'delta' END,
        y.revision, y.market_id, y.vendor_id, y.seller_id, y.service_level, y.ship_date, y.market_currency,
        y.version_id, y.rate_line_id, y.schedule_id, y.vendor_kg, y.seller_kg, {delta}, %(now)s
    FROM (
        SELECT x.*,
            {vendor_net} AS vendor_net,
            {d['round'](f'({vendor_net}) * x.vat_rate / 100.0', places)} AS vendor_vat,
            {vendor_net} + {d['round'](f'({vendor_net}) * x.vat_rate / 100.0', places)} AS vendor_gross,
            x.seller_base + x.seller_cod + x.seller_returns AS seller_net,
            {d['round']('(x.seller_base + x.seller_cod + x.seller_returns) * x.seller_vat_rate / 100.0', places)} AS seller_vat,
            x.seller_base + x.seller_cod + x.seller_returns
                + {d['round']('(x.seller_base + x.seller_cod + x.seller_returns) * x.seller_vat_rate / 100.0', places)} AS seller_gross
        FROM (
            SELECT t.id, t.prev_generation, t.revision, t.market_id, t.vendor_id, t.seller_id, t.service_level,
                t.ship_date, t.market_currency, t.version_id, t.rate_line_id, t.schedule_id, t.vendor_kg, t.seller_kg,
                t.vat_rate, t.seller_vat_rate, t.freight AS vendor_base,
                {", ".join(f"COALESCE(sc.{c}, 0) AS {c}" for c in surcharge_cols)},
                t.seller_base, {seller_cod} AS seller_cod, {seller_returns} AS seller_returns
            FROM {TMP} t
            LEFT JOIN (
                SELECT t.id,
                    {per_kind}
                FROM {TMP} t
                JOIN vendors_surcharge su ON su.version_id = t.version_id
                    AND (su.valid_from IS NULL OR su.valid_from <= t.ship_date)
                    AND (su.valid_to IS NULL OR t.ship_date <= su.valid_to)
                    AND (su.kind IN ('fuel', 'peak')
                         OR (su.kind = 'remote_area' AND su.zone = t.destination_zone)
                         OR (su.kind = 'oversize' AND t.max_dim IS NOT NULL AND t.max_dim > su.dimension_threshold_cm)
                         OR (su.kind = 'cod' AND t.cod_amount > 0)
                         OR (su.kind = 'returns' AND t.is_return = {true}))
                WHERE t.code IS NULL
                GROUP BY t.id
            ) sc ON sc.id = t.id
            WHERE t.code IS NULL
        ) x
    ) y
    LEFT JOIN (
        SELECT shipment_id, {prev_sums}
        FROM billing_chargeline
        WHERE shipment_id BETWEEN %(first)s AND %(last)s
        GROUP BY shipment_id
    ) p ON p.shipment_id = y.id
    """


EXCEPTIONS_SQL = f"""
    INSERT INTO billing_ratingexception (run_id, chunk_id, shipment_id, vendor_id, code, created_at)
    SELECT %(run)s, %(chunk)s, t.id, t.vendor_id, t.code, %(now)s FROM {TMP} t WHERE t.code IS NOT NULL
"""


def rate_chunk(*, run_id: int, chunk_id: int, market_code: str, currency: str, business_date: date,
               first_id: int, last_id: int, watermark: int) -> ChunkOutcome:
    """Rate the eligible shipments of [first_id, last_id] and write their charge lines and
    exceptions. Must run inside the chunk's transaction (the caller commits or rolls back)."""
    d = _dialect()
    places = minor_units(currency)
    params = {
        "market": market_code, "first": first_id, "last": last_id, "business_date": business_date,
        "watermark": watermark, "run": run_id, "chunk": chunk_id, "now": timezone.now(),
    }
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Room for the chunk's joins and sorts in memory (this transaction only).
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(f"DROP TABLE IF EXISTS {TMP}")
        cursor.execute(_stage1_sql(d, places), params)
        cursor.execute(_stage2_sql(d, places), params)
        rated = cursor.rowcount
        cursor.execute(EXCEPTIONS_SQL, params)
        exceptions = cursor.rowcount
        if connection.vendor != "postgresql":
            cursor.execute(f"DROP TABLE IF EXISTS {TMP}")
    return ChunkOutcome(rated=rated, exceptions=exceptions)


def chunk_ranges(*, market_code: str, business_date: date, watermark: int, size: int, rerate_from: date | None):
    """Id ranges of `size` candidate shipments each: [(first_id, last_id, count), ...].

    Candidates: the market's shipments shipped on or before the business date that have no charge
    line for their current revision (never rated, exception, or data changed), plus — when a
    contract version was activated since the last completed run — every shipment shipped on or
    after the earliest such version's effective date (`rerate_from`), which a retroactive
    amendment may re-price. The chunk itself decides exactly what to rate.
    """
    rerate = "OR s.ship_date >= %(rerate_from)s" if rerate_from else ""
    sql = f"""
        SELECT MIN(id), MAX(id), COUNT(*) FROM (
            SELECT s.id, (ROW_NUMBER() OVER (ORDER BY s.id) - 1) / %(size)s AS bucket
            FROM billing_shipment s
            WHERE s.market_id = %(market)s AND s.ship_date <= %(business_date)s AND s.id <= %(watermark)s
              AND (NOT EXISTS (
                    SELECT 1 FROM billing_chargeline cl
                    WHERE cl.shipment_id = s.id AND cl.shipment_revision = s.revision)
                   {rerate})
        ) b GROUP BY bucket ORDER BY bucket
    """
    params = {"market": market_code, "business_date": business_date, "watermark": watermark, "size": size,
              "rerate_from": rerate_from}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(int(a), int(b), int(n)) for a, b, n in cursor.fetchall()]
