"""Set-based rating of one chunk (a shipment id range): the SQL twin of `vendors/pricing.py`.

`vendors.pricing.rate()` is THE rating rule (rules 1-8 in its docstring); this module computes
the same numbers for thousands of shipments per statement, and `tests/billing/test_rating_parity.py`
compares the two on a varied sample (every surcharge kind, bracket edges, minimums, VAT,
rounding) so they cannot drift. Change the rule in pricing.py first, then here.

One chunk = ONE statement on PostgreSQL, in the caller's transaction (all or nothing):
  WITH r AS (per eligible shipment: contract version, chargeable weights, rate line, rounded
             freight, the seller fee from the seller schedule's own brackets, or the exception
             code when it cannot be rated),
       exceptions AS (INSERT INTO billing_ratingexception ... FROM r WHERE code IS NOT NULL),
       lines AS (INSERT INTO billing_chargeline ... FROM r — adds the surcharges (the version's
             surcharges side by side in one small row, `sv`, joined once), VAT, totals, and, when
             re-rating, subtracts what earlier generations charged (delta lines) — RETURNING the
             amounts it wrote),
       totals AS (INSERT INTO billing_chargelinetotal ... FROM lines GROUP BY vendor, seller, service)
  SELECT the number of lines written.
Each amount is computed once: the layers are fenced subqueries (see `_dialect`), so PostgreSQL
does not paste an expression into every place that uses it. SQLite has no data-modifying WITH, so
there the exceptions and the charge lines are two INSERTs over the same WITH queries, and the
totals a third INSERT from the chunk's stored lines.

Eligible = shipped on or before the business date and either never rated, or rated at another
shipment revision (its data changed) or with another contract version than the one in force now
(a retroactive amendment). A shipment's charge lines are unique by (shipment, generation), so
a retried or concurrent chunk can never rate a shipment twice: the second insert violates the
constraint and its transaction rolls back.

The same SQL runs on PostgreSQL and SQLite (`_dialect` writes the few spellings that differ; on
SQLite every division has a decimal literal, `* 1.0 / x` or `/ 100.0`, because SQLite divides
integers as integers). PostgreSQL computes in exact NUMERIC (percentages as `* 0.01`, the same
exact value as `/ 100`). SQLite stores
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
            # A subquery with OFFSET 0 is planned on its own: PostgreSQL computes its columns once
            # per row instead of pasting their expressions into every place the outer query uses
            # them (it does not share common subexpressions).
            "fence": "OFFSET 0",
            "materialized": "MATERIALIZED",
            # Exact in NUMERIC either way; a multiplication costs less than a division.
            "div": lambda x, y: f"{x} / {y}",
            "percent": lambda x: f"{x} * 0.01",
            "per_mille": lambda x: f"{x} * 0.001",
            "true": "TRUE",
        }
    return {
        "round": lambda x, n: f"billing_round({x}, {n})",
        "ceil": lambda x: f"billing_ceil({x})",
        "greatest": lambda *xs: f"MAX({', '.join(xs)})",
        "fence": "",
        "materialized": "",
        "div": lambda x, y: f"{x} * 1.0 / {y}",
        "percent": lambda x: f"{x} / 100.0",
        "per_mille": lambda x: f"{x} / 1000.0",
        "true": "1",
    }


def _weight_sql(d, divisor: str) -> str:
    """Rule 3: max(actual, CEIL(L x W x H / divisor to 0.001 kg)); 0 volumetric without all dims."""
    volumetric = (
        "(CASE WHEN sh.length_cm IS NULL OR sh.width_cm IS NULL OR sh.height_cm IS NULL THEN 0 "
        f"ELSE {d['per_mille'](d['ceil'](d['div']('sh.length_cm * sh.width_cm * sh.height_cm * 1000.0', divisor)))} END)"
    )
    return d["greatest"]("sh.actual_weight_kg", volumetric)


def _bracket_price(d, base: str, per_step: str, step: str, weight_from: str, minimum: str, weight: str, places: int) -> str:
    """Rule 5: round(max(base + CEIL((W - from) / step) x per_step, minimum))."""
    steps = d["ceil"](d["div"](f"({weight} - {weight_from})", step))
    return d["round"](d["greatest"](f"{base} + {steps} * {per_step}", minimum), places)


AMOUNT_COLUMNS = [
    "vendor_base", "vendor_fuel", "vendor_remote", "vendor_oversize", "vendor_cod", "vendor_peak", "vendor_returns",
    "vendor_net", "vendor_vat", "vendor_gross", "seller_base", "seller_cod", "seller_returns", "seller_net",
    "seller_vat", "seller_gross",
]
SURCHARGE_COLUMNS = {
    "fuel": "vendor_fuel", "remote_area": "vendor_remote", "oversize": "vendor_oversize",
    "cod": "vendor_cod", "peak": "vendor_peak", "returns": "vendor_returns",
}
SURCHARGE_FIELDS = ["id", "percent", "flat_amount", "minimum_amount", "valid_from", "valid_to", "zone", "dimension_threshold_cm"]


def surcharge_slots(market_code: str) -> dict[str, int]:
    """The most surcharges of each kind any active contract version of the market has: how many
    surcharge columns of that kind the rating statement carries per version (usually 0 or 1)."""
    sql = """
        SELECT su.kind, MAX(n) FROM (
            SELECT su.version_id, su.kind, COUNT(*) AS n
            FROM vendors_surcharge su
            JOIN vendors_contractversion v ON v.id = su.version_id
            JOIN vendors_contract c ON c.id = v.contract_id
            WHERE v.status = 'active' AND c.market_id = %s
            GROUP BY su.version_id, su.kind
        ) su GROUP BY su.kind
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [market_code])
        return {kind: int(n) for kind, n in cursor.fetchall()}


def _versions_cte() -> str:
    """Active versions with the day the next active version takes over (rule 2)."""
    return """
    vv AS (
        SELECT v.id AS version_id, v.contract_id, v.effective_from,
            LEAD(v.effective_from) OVER (PARTITION BY v.contract_id ORDER BY v.effective_from) AS next_from
        FROM vendors_contractversion v
        JOIN vendors_contract c0 ON c0.id = v.contract_id
        WHERE v.status = 'active' AND c0.market_id = %(market)s
    )"""


def _rate_lines_cte(d) -> str:
    """The rate lines of the market's active versions (a few thousand rows), looked up by hash."""
    return f"""
    rl AS {d['materialized']} (
        SELECT rl.* FROM vendors_rateline rl WHERE rl.version_id IN (SELECT version_id FROM vv)
    )"""


def _surcharges_cte(slots: dict[str, int]) -> str:
    """One row per active version: its surcharges side by side, `<kind><n>_<field>` for the n-th
    surcharge of each kind (by id), so a shipment finds all of them with one join."""
    columns = ", ".join(
        f"MAX(CASE WHEN x.kind = '{kind}' AND x.slot = {n} THEN x.{name} END) AS {kind}{n}_{name}"
        for kind in SURCHARGE_COLUMNS for n in range(1, slots.get(kind, 0) + 1) for name in SURCHARGE_FIELDS
    ) or "NULL AS none"
    return f"""
    sv AS (
        SELECT x.version_id, {columns}
        FROM (
            SELECT su.*, ROW_NUMBER() OVER (PARTITION BY su.version_id, su.kind ORDER BY su.id) AS slot
            FROM vendors_surcharge su WHERE su.version_id IN (SELECT version_id FROM vv)
        ) x
        GROUP BY x.version_id
    )"""


# A shipment's latest charge line, and the rule that it is rated again when its data changed
# (revision) or another contract version is in force now (a retroactive amendment).
PREVIOUS_LINE_JOIN = """
            LEFT JOIN (
                SELECT shipment_id, MAX(generation) AS generation
                FROM billing_chargeline WHERE shipment_id BETWEEN %(first)s AND %(last)s
                GROUP BY shipment_id
            ) pg ON pg.shipment_id = sh.id
            LEFT JOIN billing_chargeline pl ON pl.shipment_id = sh.id AND pl.generation = pg.generation
                AND pl.shipment_id BETWEEN %(first)s AND %(last)s"""
PREVIOUS_LINE_FILTER = """
                AND (pl.id IS NULL OR pl.shipment_revision <> sh.revision
                     OR vv.version_id IS NULL OR pl.contract_version_id <> vv.version_id)"""


def _rated_cte(d, places: int, rerating: bool) -> str:
    """Per eligible shipment of the chunk: inputs, contract version, weights (computed once, in the
    fenced subquery `b`), rate line, rounded freight, the seller fee (same shipment data, the seller
    schedule's own brackets), or the exception code when it cannot be rated.

    `rerating`: some shipment of the chunk has charge lines already, so its latest line decides
    whether it is rated again (other revision or contract version) and at which generation.
    Without any, every shipment of the chunk is eligible at generation 1."""
    vendor_kg = _weight_sql(d, "c.volumetric_divisor")
    seller_kg = _weight_sql(d, "fs.volumetric_divisor")
    max_dim = (
        "(CASE WHEN sh.length_cm IS NULL OR sh.width_cm IS NULL OR sh.height_cm IS NULL THEN NULL "
        f"ELSE {d['greatest']('sh.length_cm', 'sh.width_cm', 'sh.height_cm')} END)"
    )
    return f"""
    r AS (
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
                {"COALESCE(pg.generation, 0)" if rerating else "0"} AS prev_generation
            FROM billing_shipment sh
            JOIN settlement_ops_market m ON m.code = sh.market_id
            LEFT JOIN vendors_contract c
                ON c.vendor_id = sh.vendor_id AND c.market_id = sh.market_id AND c.service_level = sh.service_level
                AND c.status IN {EFFECTIVE} AND c.valid_from <= sh.ship_date
                AND (c.valid_to IS NULL OR c.valid_to >= sh.ship_date)
            LEFT JOIN vv ON vv.contract_id = c.id AND vv.effective_from <= sh.ship_date
                AND (vv.next_from IS NULL OR sh.ship_date < vv.next_from)
            LEFT JOIN (
                -- Active seller fee schedules with the day the next one takes over.
                SELECT s.*, LEAD(s.valid_from) OVER (PARTITION BY s.service_level ORDER BY s.valid_from) AS next_from
                FROM billing_sellerfeeschedule s
                WHERE s.status = 'active' AND s.market_id = %(market)s
            ) fs ON fs.service_level = sh.service_level AND fs.valid_from <= sh.ship_date
                AND (fs.next_from IS NULL OR sh.ship_date < fs.next_from)
                AND (fs.valid_to IS NULL OR sh.ship_date <= fs.valid_to)
            {PREVIOUS_LINE_JOIN if rerating else ""}
            WHERE sh.market_id = %(market)s AND sh.id BETWEEN %(first)s AND %(last)s
                AND sh.ship_date <= %(business_date)s AND sh.id <= %(watermark)s
                {PREVIOUS_LINE_FILTER if rerating else ""}
            {d['fence']}
        ) b
        LEFT JOIN rl
            ON rl.version_id = b.version_id AND rl.service_level = b.service_level
            AND rl.origin_zone = b.origin_zone AND rl.destination_zone = b.destination_zone
            AND rl.weight_from_kg < b.vendor_kg AND b.vendor_kg <= rl.weight_to_kg
        LEFT JOIN billing_sellerfeeline fl
            ON fl.schedule_id = b.schedule_id AND fl.weight_from_kg < b.seller_kg AND b.seller_kg <= fl.weight_to_kg
    )"""


def _surcharge_sql(d, kind: str, n: int, places: int) -> str:
    """Rule 6 for the n-th surcharge of a kind: its rounded amount when it applies, else 0."""
    s = f"sv.{kind}{n}_"
    condition = {
        "remote_area": f"{s}zone = t.destination_zone",
        "oversize": f"t.max_dim IS NOT NULL AND t.max_dim > {s}dimension_threshold_cm",
        "cod": "t.cod_amount > 0",
        "returns": f"t.is_return = {d['true']}",
    }.get(kind)
    base = "t.cod_amount" if kind == "cod" else "t.freight"
    amount = d["round"](
        d["greatest"](f"CASE WHEN {s}percent IS NOT NULL THEN {d['percent'](f'{s}percent * {base}')} ELSE {s}flat_amount END", f"{s}minimum_amount"),
        places,
    )
    applies = [f"{s}id IS NOT NULL", f"({s}valid_from IS NULL OR {s}valid_from <= t.ship_date)",
               f"({s}valid_to IS NULL OR t.ship_date <= {s}valid_to)"] + ([condition] if condition else [])
    return f"CASE WHEN {' AND '.join(applies)} THEN {amount} ELSE 0 END"


def _lines_select(d, places: int, slots: dict[str, int], rerating: bool) -> str:
    """Charge lines from the rated shipments: surcharges (rule 6), VAT (rule 7), seller COD/returns
    fees and VAT, minus the sum of earlier generations when re-rating (so re-ratings write deltas).
    Each layer is fenced so every amount is computed once."""
    surcharges = ",\n                ".join(
        f"{' + '.join(_surcharge_sql(d, kind, n, places) for n in range(1, slots.get(kind, 0) + 1)) or '0'} AS {column}"
        for kind, column in SURCHARGE_COLUMNS.items()
    )
    seller_cod = (
        f"CASE WHEN t.cod_amount > 0 THEN "
        f"{d['round'](d['greatest'](d['percent']('t.cod_amount * t.cod_fee_percent'), 't.cod_fee_minimum'), places)} ELSE 0 END"
    )
    seller_returns = f"CASE WHEN t.is_return = {d['true']} THEN {d['round']('t.returns_fee', places)} ELSE 0 END"
    vendor_net = " + ".join(["x.vendor_base"] + [f"x.{c}" for c in SURCHARGE_COLUMNS.values()])
    amounts = {c: f"y.{c}" for c in AMOUNT_COLUMNS}
    amounts["vendor_gross"] = "y.vendor_net + y.vendor_vat"
    amounts["seller_gross"] = "y.seller_net + y.seller_vat"
    previous = ""
    if rerating:
        # A first rating has nothing earlier to subtract (and skips the arithmetic).
        amounts = {c: f"CASE WHEN p.shipment_id IS NULL THEN {a} ELSE {a} - p.{c} END" for c, a in amounts.items()}
        previous = f"""
    LEFT JOIN (
        SELECT shipment_id, {", ".join(f"SUM({c}) AS {c}" for c in AMOUNT_COLUMNS)}
        FROM billing_chargeline
        WHERE shipment_id BETWEEN %(first)s AND %(last)s
        GROUP BY shipment_id
    ) p ON p.shipment_id = y.id"""
    return f"""
    SELECT %(run)s, %(chunk)s, y.id, y.prev_generation + 1,
        CASE WHEN y.prev_generation = 0 THEN 'original' ELSE 'delta' END,
        y.revision, y.market_id, y.vendor_id, y.seller_id, y.service_level, y.ship_date, y.market_currency,
        y.version_id, y.rate_line_id, y.schedule_id, y.vendor_kg, y.seller_kg, {", ".join(amounts.values())}, %(now)s
    FROM (
        SELECT n.*,
            {d['round'](d['percent']('n.vendor_net * n.vat_rate'), places)} AS vendor_vat,
            {d['round'](d['percent']('n.seller_net * n.seller_vat_rate'), places)} AS seller_vat
        FROM (
            SELECT x.*, {vendor_net} AS vendor_net, x.seller_base + x.seller_cod + x.seller_returns AS seller_net
            FROM (
                SELECT t.id, t.prev_generation, t.revision, t.market_id, t.vendor_id, t.seller_id, t.service_level,
                    t.ship_date, t.market_currency, t.version_id, t.rate_line_id, t.schedule_id, t.vendor_kg,
                    t.seller_kg, t.vat_rate, t.seller_vat_rate, t.freight AS vendor_base,
                    {surcharges},
                    t.seller_base, {seller_cod} AS seller_cod, {seller_returns} AS seller_returns
                FROM r t
                LEFT JOIN sv ON sv.version_id = t.version_id
                WHERE t.code IS NULL
                {d['fence']}
            ) x {d['fence']}
        ) n {d['fence']}
    ) y{previous}
    """


CHARGE_LINE_INSERT = f"""
    INSERT INTO billing_chargeline (
        run_id, chunk_id, shipment_id, generation, kind, shipment_revision, market_id, vendor_id, seller_id,
        service_level, ship_date, currency, contract_version_id, rate_line_id, seller_fee_schedule_id,
        chargeable_weight_kg, seller_chargeable_weight_kg, {", ".join(AMOUNT_COLUMNS)}, created_at
    )"""
# The chunk's new lines summed per vendor, seller and service (billing.models.ChargeLineTotal).
TOTAL_COLUMNS = "run_id, chunk_id, vendor_id, seller_id, service_level, line_count, vendor_net, vendor_vat, seller_net, seller_vat"
TOTAL_SUMS = "COUNT(*), SUM(vendor_net), SUM(vendor_vat), SUM(seller_net), SUM(seller_vat)"
# SQLite sums the stored amounts as binary floats: back to the stored precision before storing.
TOTAL_SUMS_SQLITE = ("COUNT(*), ROUND(SUM(vendor_net), 4), ROUND(SUM(vendor_vat), 4), ROUND(SUM(seller_net), 4), "
                     "ROUND(SUM(seller_vat), 4)")
TOTAL_GROUP = "GROUP BY vendor_id, seller_id, service_level"
EXCEPTION_INSERT = """
    INSERT INTO billing_ratingexception (run_id, chunk_id, shipment_id, vendor_id, code, created_at)"""
EXCEPTION_SELECT = """
    SELECT %(run)s, %(chunk)s, t.id, t.vendor_id, t.code, %(now)s FROM r t WHERE t.code IS NOT NULL"""


def rating_statements(d, places: int, slots: dict[str, int], rerating: bool = True) -> list[str]:
    """The chunk's statements.

    PostgreSQL: ONE statement — the exceptions are written by a data-modifying WITH query over the
    same rated rows, and the chunk's totals are summed from what the charge-line insert returns;
    it returns the number of charge lines written. SQLite (no data-modifying WITH): the
    exceptions, the charge lines, each over the same WITH queries, then the totals of the lines
    this attempt wrote (stamped with its time)."""
    ctes = ",".join([_versions_cte(), _rate_lines_cte(d), _surcharges_cte(slots), _rated_cte(d, places, rerating)])
    lines = _lines_select(d, places, slots, rerating)
    if connection.vendor == "postgresql":
        return [f"""WITH {ctes},
    exceptions AS ({EXCEPTION_INSERT}{EXCEPTION_SELECT}
    ),
    lines AS ({CHARGE_LINE_INSERT}{lines}
        RETURNING vendor_id, seller_id, service_level, vendor_net, vendor_vat, seller_net, seller_vat
    ),
    totals AS (
        INSERT INTO billing_chargelinetotal ({TOTAL_COLUMNS})
        SELECT %(run)s, %(chunk)s, vendor_id, seller_id, service_level, {TOTAL_SUMS} FROM lines {TOTAL_GROUP}
        RETURNING line_count
    )
    SELECT COALESCE(SUM(line_count), 0) FROM totals"""]
    return [
        f"{EXCEPTION_INSERT}\n    WITH {ctes}{EXCEPTION_SELECT}",
        f"{CHARGE_LINE_INSERT}\n    WITH {ctes}{lines}",
        f"""INSERT INTO billing_chargelinetotal ({TOTAL_COLUMNS})
    SELECT run_id, chunk_id, vendor_id, seller_id, service_level, {TOTAL_SUMS_SQLITE}
    FROM billing_chargeline WHERE run_id = %(run)s AND chunk_id = %(chunk)s AND created_at = %(now)s {TOTAL_GROUP}""",
    ]


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
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM billing_chargeline WHERE shipment_id BETWEEN %s AND %s)", [first_id, last_id]
        )
        rerating = bool(cursor.fetchone()[0])
    statements = rating_statements(d, places, surcharge_slots(market_code), rerating)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Room for the chunk's joins in memory, and hash joins to the rate and fee lines (the
            # planner otherwise sorts the chunk for a merge join, which costs more); this
            # transaction only.
            cursor.execute("SET LOCAL work_mem = '64MB'")
            cursor.execute("SET LOCAL enable_mergejoin = off")
            # The chunk's commit need not wait for its log to reach the disk. If the server crashed
            # before it did, the chunk would be lost whole — its lines, totals and its "done" mark
            # are one transaction — and resume rates it again; and anything that saw it (the
            # posting, which commits synchronously) flushes it first. Ledger entries are not
            # written here.
            cursor.execute("SET LOCAL synchronous_commit = off")
            (statement,) = statements
            cursor.execute(statement, params)
            rated = int(cursor.fetchone()[0])
        else:
            exceptions_sql, lines_sql, totals_sql = statements
            cursor.execute(exceptions_sql, params)
            cursor.execute(lines_sql, params)
            rated = cursor.rowcount
            cursor.execute(totals_sql, params)
        cursor.execute("SELECT COUNT(*) FROM billing_ratingexception WHERE chunk_id = %s", [chunk_id])
        exceptions = cursor.fetchone()[0]
    return ChunkOutcome(rated=rated, exceptions=exceptions)


def chunk_ranges(*, market_code: str, business_date: date, watermark: int, size: int, rerate_from: date | None):
    """Id ranges of at most `size` candidate shipments each: [(first_id, last_id, count), ...].

    Candidates: the market's shipments shipped on or before the business date that have no charge
    line for their current revision (never rated, exception, or data changed), plus — when a
    contract version was activated since the last completed run — every shipment shipped on or
    after the earliest such version's effective date (`rerate_from`), which a retroactive
    amendment may re-price. The chunk itself decides exactly what to rate.

    The database counts candidates per narrow id band (a sixteenth of a chunk: one hash
    aggregate, no sort or window over every candidate); consecutive bands are then joined into
    chunks here, so a chunk holds between 15/16 of `size` and `size` candidates where ids are dense.
    """
    rerate = "OR s.ship_date >= %(rerate_from)s" if rerate_from else ""
    sql = f"""
        SELECT s.id / %(band)s AS band, MIN(s.id), MAX(s.id), COUNT(*)
        FROM billing_shipment s
        WHERE s.market_id = %(market)s AND s.ship_date <= %(business_date)s AND s.id <= %(watermark)s
          AND (NOT EXISTS (
                SELECT 1 FROM billing_chargeline cl
                WHERE cl.shipment_id = s.id AND cl.shipment_revision = s.revision)
               {rerate})
        GROUP BY s.id / %(band)s
    """
    params = {"market": market_code, "business_date": business_date, "watermark": watermark,
              "band": max(1, size // 16), "rerate_from": rerate_from}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        bands = sorted(cursor.fetchall())
    ranges: list[tuple[int, int, int]] = []
    for _band, first, last, count in bands:
        if ranges and ranges[-1][2] + count <= size:
            ranges[-1] = (ranges[-1][0], int(last), ranges[-1][2] + int(count))
        else:
            ranges.append((int(first), int(last), int(count)))
    return ranges
