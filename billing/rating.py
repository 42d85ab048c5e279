"""Set-based rating of one chunk (a shipment id range): the SQL twin of the two pricing rules.

`vendors.pricing.rate()` is THE vendor rating rule (rules 1-8 in its docstring) and
`billing.pricing.seller_fee()` THE seller fee rule; this module computes the same numbers for
thousands of shipments per statement, and `tests/billing/test_rating_parity.py` compares them on a
seeded random sample (every surcharge kind, bracket edges, minimums, COD, returns, VAT, half-way
rounding) so they cannot drift. Change a rule in its pricing module first, then here.

One chunk = ONE statement, in the caller's transaction (all or nothing):
  WITH r AS (per eligible shipment: contract version, chargeable weights, rate line, rounded
             freight, the seller fee from the seller schedule's own brackets, or the exception
             code when it cannot be rated),
       rated AS MATERIALIZED (r with the surcharges — the version's surcharges side by side in one
             small row, `sv`, joined once — VAT and net amounts, and, when re-rating, what
             earlier generations charged),
       exceptions AS (INSERT INTO billing_ratingexception ... FROM rated WHERE code IS NOT NULL),
       lines AS (INSERT INTO billing_chargeline ... FROM rated WHERE code IS NULL — delta lines
             when re-rating),
       totals AS (INSERT INTO billing_chargelinetotal ... FROM rated GROUP BY vendor, seller, service)
  SELECT the numbers of lines and exceptions written.
Each amount is computed once: the layers are subqueries fenced with OFFSET 0 (planned on their
own) or the materialized `rated`, so PostgreSQL does not paste an expression into every place that
uses it.

Integer arithmetic (measured by bench/rating_ideas.py: NUMERIC arithmetic and rounding were the
largest share of a chunk's time). Every input has a fixed scale — money 4 places, weights 3,
percentages 4, VAT rates 2 — so the statement works in exact BIGINT units: grams, ten-thousandths
of the currency before rounding, and the currency's minor units (pence, rupiah) after. The masters
(rate lines, fee lines, surcharges: a few thousand rows) are converted once per chunk, their fixed
amounts and minimums already rounded with `settlement_ops.money.round_sql`; per shipment only the
weight is converted. A rounding of a product (`settlement_ops.money.round_div_sql`) is integer
half-up, away from zero as `quantize`, and max(round(a), round(b)) = round(max(a, b)) because
rounding is monotonic, so minimums are compared after rounding. Amounts based on the COD value
(rare) stay NUMERIC through `round_sql`: a COD value may use the column's full range. Amounts
become NUMERIC once, in the charge-line insert (`_money`); the totals sum integers and convert
once. Integer overflow — far beyond any real charge: the tightest bound is a freight of about
10^9 pounds under a 1,000% surcharge — raises an error, so the chunk fails whole; it never gives
a wrong amount. Table names come from the models; the statement is built once per (currency,
surcharge slots, re-rating).

Eligible = shipped on or before the business date and either never rated, or rated at another
shipment revision (its data changed) or with another contract version than the one in force now
(a retroactive amendment). A charge line's primary key is its shipment and generation
(ChargeLine.id), so a retried or concurrent chunk can never rate a shipment twice: the second
insert violates the key and its transaction rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from django.db import connection
from django.utils import timezone

from settlement_ops.models import Market
from settlement_ops.money import minor_units, round_div_sql, round_sql
from settlement_ops.navigation import area_modules
from vendors.models import SURCHARGE_ORDER, Contract, ContractVersion, RateLine, Surcharge

from .models import ChargeLine, ChargeLineTotal, RatingException, SellerFeeLine, SellerFeeSchedule, Shipment

SHIPMENT = Shipment._meta.db_table
CHARGE_LINE = ChargeLine._meta.db_table
CHARGE_LINE_TOTAL = ChargeLineTotal._meta.db_table
RATING_EXCEPTION = RatingException._meta.db_table
FEE_SCHEDULE = SellerFeeSchedule._meta.db_table
FEE_LINE = SellerFeeLine._meta.db_table
MARKET = Market._meta.db_table
CONTRACT = Contract._meta.db_table
VERSION = ContractVersion._meta.db_table
RATE_LINE = RateLine._meta.db_table
SURCHARGE = Surcharge._meta.db_table

# Rule 1's effective statuses as an IN list (fixed choice values, never input).
EFFECTIVE = "(" + ", ".join(f"'{status.value}'" for status in Contract.EFFECTIVE_STATUSES) + ")"
ACTIVE_VERSION = ContractVersion.Status.ACTIVE.value
# Only approved (four eyes) seller fee schedules rate.
ACTIVE_SCHEDULE = SellerFeeSchedule.Status.APPROVED.value
AMOUNT_COLUMNS = ChargeLine.AMOUNT_COLUMNS
SURCHARGE_COLUMNS = ChargeLine.SURCHARGE_COLUMNS  # kind -> vendor amount column, in SURCHARGE_ORDER
# Amount columns that are zero on most lines: written as a constant zero without a conversion.
MOSTLY_ZERO = {*SURCHARGE_COLUMNS.values(), "seller_cod", "seller_returns"} - {SURCHARGE_COLUMNS[Surcharge.Kind.FUEL]}
# Fixed scales of the inputs (the model fields' decimal places): money and percentages in
# ten-thousandths, weights in grams, VAT rates in hundredths of a percent.
MONEY_SCALE = 10_000
GRAMS = 1_000


@dataclass
class ChunkOutcome:
    rated: int
    exceptions: int


def _minor(expression: str, currency: str) -> str:
    """A NUMERIC money expression rounded with round_sql, as BIGINT minor units."""
    return f"CAST({round_sql(expression, currency)} * {10 ** minor_units(currency)} AS bigint)"


def _units(expression: str, scale: int) -> str:
    """A NUMERIC of at most log10(scale) decimal places (a model field's own) as exact BIGINT units."""
    return f"CAST({expression} * {scale} AS bigint)"


def _money(expression: str, currency: str) -> str:
    """BIGINT minor units as the NUMERIC amount: the one conversion, where a line is written."""
    places = minor_units(currency)
    return f"CAST({expression} AS numeric)" if places == 0 else f"{expression} * 0.{'0' * (places - 1)}1"


def _weight_sql(divisor: str) -> str:
    """vendors.pricing rule 3 in grams: max(actual, CEIL(L x W x H / divisor to the gram)); 0
    volumetric without all dims. Centimetres have one place, so the volume is exact NUMERIC."""
    volumetric = (
        "(CASE WHEN sh.length_cm IS NULL OR sh.width_cm IS NULL OR sh.height_cm IS NULL THEN 0 "
        f"ELSE CAST(CEIL(sh.length_cm * sh.width_cm * sh.height_cm * 1000.0 / {divisor}) AS bigint) END)"
    )
    return f"GREATEST({_units('sh.actual_weight_kg', GRAMS)}, {volumetric})"


def _bracket_price(line: str, grams: str, currency: str) -> str:
    """vendors.pricing rule 5 (`bracket_amount`) in minor units, from a line of `rl` or `fl`:
    round(max(base + CEIL((W - from) / step) x per_step, minimum)). W > from (the bracket's
    lower end is exclusive), so the ceiling of the division is (W - from + step - 1) / step."""
    per_minor = MONEY_SCALE // 10 ** minor_units(currency)
    steps = f"(({grams} - {line}.from_g + {line}.step_g - 1) / {line}.step_g)"
    return f"GREATEST({round_div_sql(f'{line}.base_u + {steps} * {line}.per_step_u', per_minor)}, {line}.minimum_m)"


def surcharge_slots(market_code: str) -> dict[str, int]:
    """The most surcharges of each kind any active contract version of the market has: how many
    surcharge columns of that kind the rating statement carries per version (usually 0 or 1)."""
    with connection.cursor() as cursor:
        cursor.execute(SURCHARGE_SLOTS_SQL, [ACTIVE_VERSION, market_code])
        return {kind: int(n) for kind, n in cursor.fetchall()}


SURCHARGE_SLOTS_SQL = f"""
        SELECT su.kind, MAX(n) FROM (
            SELECT su.version_id, su.kind, COUNT(*) AS n
            FROM {SURCHARGE} su
            JOIN {VERSION} v ON v.id = su.version_id
            JOIN {CONTRACT} c ON c.id = v.contract_id
            WHERE v.status = %s AND c.market_id = %s
            GROUP BY su.version_id, su.kind
        ) su GROUP BY su.kind
    """

# Active versions with the day the next active version takes over (rule 2).
VERSIONS_CTE = f"""
    vv AS (
        SELECT v.id AS version_id, v.contract_id, v.effective_from,
            LEAD(v.effective_from) OVER (PARTITION BY v.contract_id ORDER BY v.effective_from) AS next_from
        FROM {VERSION} v
        JOIN {CONTRACT} c0 ON c0.id = v.contract_id
        WHERE v.status = '{ACTIVE_VERSION}' AND c0.market_id = %(market)s
    )"""


def _lines_cte(currency: str) -> str:
    """The rate lines of the market's active versions (`rl`, a few thousand rows) and the fee lines
    of its approved seller schedules (`fl`), in integer units, looked up by hash."""
    bracket = (
        f"{_units('x.weight_from_kg', GRAMS)} AS from_g, {_units('x.weight_to_kg', GRAMS)} AS to_g, "
        f"{_units('x.additional_step_kg', GRAMS)} AS step_g"
    )
    return f"""
    rl AS MATERIALIZED (
        SELECT x.id, x.version_id, x.service_level, x.origin_zone, x.destination_zone, {bracket},
            {_units("x.base_price", MONEY_SCALE)} AS base_u,
            {_units("x.price_per_additional_kg", MONEY_SCALE)} AS per_step_u,
            {_minor("x.minimum_charge", currency)} AS minimum_m
        FROM {RATE_LINE} x WHERE x.version_id IN (SELECT version_id FROM vv)
    ),
    fl AS MATERIALIZED (
        SELECT x.id, x.schedule_id, {bracket},
            {_units("x.base_fee", MONEY_SCALE)} AS base_u,
            {_units("x.fee_per_additional_step", MONEY_SCALE)} AS per_step_u,
            {_minor("x.minimum_fee", currency)} AS minimum_m
        FROM {FEE_LINE} x JOIN {FEE_SCHEDULE} s ON s.id = x.schedule_id
        WHERE s.status = '{ACTIVE_SCHEDULE}' AND s.market_id = %(market)s
    )"""


def _surcharges_cte(slots: dict[str, int], currency: str) -> str:
    """One row per active version: its surcharges side by side, `<kind><n>_<field>` for the n-th
    surcharge of each kind (by id), so a shipment finds all of them with one join. A flat
    surcharge is a constant: round(max(flat, minimum)) in minor units; a percentage keeps its
    percent (ten-thousandths, and NUMERIC for COD, whose base is the COD value) and rounded minimum."""
    fields = {
        "id": "x.id",
        "valid_from": "x.valid_from",
        "valid_to": "x.valid_to",
        "percent_u": _units("x.percent", MONEY_SCALE),
        "flat_m": f"GREATEST({_minor('x.flat_amount', currency)}, {_minor('x.minimum_amount', currency)})",
        "minimum_m": _minor("x.minimum_amount", currency),
    }
    extra = {
        Surcharge.Kind.REMOTE_AREA: {"zone": "x.zone"},
        Surcharge.Kind.OVERSIZE: {"threshold_cm": "x.dimension_threshold_cm"},
        Surcharge.Kind.COD: {"percent": "x.percent"},
    }
    columns = (
        ", ".join(
            f"MAX(CASE WHEN x.kind = '{kind}' AND x.slot = {n} THEN {value} END) AS {kind}{n}_{name}"
            for kind in SURCHARGE_ORDER
            for n in range(1, slots.get(kind, 0) + 1)
            for name, value in {**fields, **extra.get(kind, {})}.items()
        )
        or "NULL AS none"
    )
    return f"""
    sv AS (
        SELECT x.version_id, {columns}
        FROM (
            SELECT su.*, ROW_NUMBER() OVER (PARTITION BY su.version_id, su.kind ORDER BY su.id) AS slot
            FROM {SURCHARGE} su WHERE su.version_id IN (SELECT version_id FROM vv)
        ) x
        GROUP BY x.version_id
    )"""


# A shipment's latest charge line, and the rule that it is rated again when its data changed
# (revision) or another contract version is in force now (a retroactive amendment).
CHUNK_LINES = ChargeLine.of_shipments_sql("c0", "%(first)s", "%(last)s")
PREVIOUS_LINE_JOIN = f"""
            LEFT JOIN (
                SELECT c0.shipment_id, MAX(c0.generation) AS generation
                FROM {CHARGE_LINE} c0 WHERE {CHUNK_LINES}
                GROUP BY c0.shipment_id
            ) pg ON pg.shipment_id = sh.id
            LEFT JOIN {CHARGE_LINE} pl ON pl.id = {ChargeLine.key_sql("sh.id", "pg.generation")}"""
PREVIOUS_LINE_FILTER = """
                AND (pl.id IS NULL OR pl.shipment_revision <> sh.revision
                     OR vv.version_id IS NULL OR pl.contract_version_id <> vv.version_id)"""


def _contract_blocked_sql() -> str:
    """Whether a contract is blocked from rating (a risk hold, for example): apps above billing
    declare a `rating_blocks.py` with BLOCKED_CONTRACT_IDS_SQL (a SELECT of contract ids), found
    by the app registry; a blocked contract's shipments become 'contract_blocked' exceptions and
    are rated again once the block is lifted."""
    sources = [module.BLOCKED_CONTRACT_IDS_SQL for module in area_modules("rating_blocks")]
    if not sources:
        return "FALSE"
    return f"(c.id IN ({' UNION ALL '.join(sources)}))"


def _rated_cte(currency: str, rerating: bool) -> str:
    """Per eligible shipment of the chunk: inputs, contract version, weights in grams (computed
    once, in the fenced subquery `b`), rate line, freight, the seller fee base (billing.pricing
    rules 1-4: same shipment data, the seller schedule's own brackets) in minor units, or the
    exception code when it cannot be rated.

    `rerating`: some shipment of the chunk has charge lines already, so its latest line decides
    whether it is rated again (other revision or contract version) and at which generation.
    Without any, every shipment of the chunk is eligible at generation 1."""
    max_dim = (
        "(CASE WHEN sh.length_cm IS NULL OR sh.width_cm IS NULL OR sh.height_cm IS NULL THEN NULL "
        "ELSE GREATEST(sh.length_cm, sh.width_cm, sh.height_cm) END)"
    )
    return f"""
    r AS (
        SELECT b.*,
            rl.id AS rate_line_id, {_bracket_price("rl", "b.vendor_g", currency)} AS freight,
            fl.id AS seller_line_id, {_bracket_price("fl", "b.seller_g", currency)} AS seller_base,
            CASE
                WHEN b.actual_weight_kg IS NULL THEN 'missing_weight'
                WHEN b.contract_id IS NULL THEN 'no_contract'
                WHEN b.contract_blocked THEN 'contract_blocked'
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
                m.currency AS market_currency, m.vat_bp,
                c.id AS contract_id, c.currency AS contract_currency, vv.version_id,
                {_contract_blocked_sql()} AS contract_blocked,
                {_weight_sql("c.volumetric_divisor")} AS vendor_g,
                fs.id AS schedule_id, fs.currency AS schedule_currency, fs.vat_bp AS seller_vat_bp,
                fs.cod_fee_percent, fs.cod_fee_minimum_m, fs.returns_fee_m,
                {_weight_sql("fs.volumetric_divisor")} AS seller_g,
                {"COALESCE(pg.generation, 0)" if rerating else "0"} AS prev_generation
            FROM {SHIPMENT} sh
            JOIN (
                SELECT code, currency, {_units("vat_standard_rate", 100)} AS vat_bp FROM {MARKET}
            ) m ON m.code = sh.market_id
            LEFT JOIN {CONTRACT} c
                ON c.vendor_id = sh.vendor_id AND c.market_id = sh.market_id AND c.service_level = sh.service_level
                AND c.status IN {EFFECTIVE} AND c.valid_from <= sh.ship_date
                AND (c.valid_to IS NULL OR c.valid_to >= sh.ship_date)
            LEFT JOIN vv ON vv.contract_id = c.id AND vv.effective_from <= sh.ship_date
                AND (vv.next_from IS NULL OR sh.ship_date < vv.next_from)
            LEFT JOIN (
                -- Approved seller fee schedules with the day the next one takes over.
                SELECT s.id, s.service_level, s.valid_from, s.valid_to, s.currency, s.volumetric_divisor,
                    s.cod_fee_percent, {_units("s.vat_rate", 100)} AS vat_bp,
                    {_minor("s.cod_fee_minimum", currency)} AS cod_fee_minimum_m,
                    {_minor("s.returns_fee", currency)} AS returns_fee_m,
                    LEAD(s.valid_from) OVER (PARTITION BY s.service_level ORDER BY s.valid_from) AS next_from
                FROM {FEE_SCHEDULE} s
                WHERE s.status = '{ACTIVE_SCHEDULE}' AND s.market_id = %(market)s
            ) fs ON fs.service_level = sh.service_level AND fs.valid_from <= sh.ship_date
                AND (fs.next_from IS NULL OR sh.ship_date < fs.next_from)
                AND (fs.valid_to IS NULL OR sh.ship_date <= fs.valid_to)
            {PREVIOUS_LINE_JOIN if rerating else ""}
            WHERE sh.market_id = %(market)s AND sh.id BETWEEN %(first)s AND %(last)s
                AND sh.ship_date <= %(business_date)s AND sh.id <= %(watermark)s
                {PREVIOUS_LINE_FILTER if rerating else ""}
            OFFSET 0
        ) b
        LEFT JOIN rl
            ON rl.version_id = b.version_id AND rl.service_level = b.service_level
            AND rl.origin_zone = b.origin_zone AND rl.destination_zone = b.destination_zone
            AND rl.from_g < b.vendor_g AND b.vendor_g <= rl.to_g
        LEFT JOIN fl ON fl.schedule_id = b.schedule_id AND fl.from_g < b.seller_g AND b.seller_g <= fl.to_g
    )"""


def _surcharge_sql(kind: str, n: int, currency: str) -> str:
    """vendors.pricing rule 6 for the n-th surcharge of a kind, in minor units: its amount when it
    applies, else 0."""
    s = f"sv.{kind}{n}_"
    condition = {
        Surcharge.Kind.REMOTE_AREA: f"{s}zone = t.destination_zone",
        Surcharge.Kind.OVERSIZE: f"t.max_dim IS NOT NULL AND t.max_dim > {s}threshold_cm",
        Surcharge.Kind.COD: "t.cod_amount > 0",
        Surcharge.Kind.RETURNS: "t.is_return = TRUE",
    }.get(kind)
    if kind == Surcharge.Kind.COD:
        percent = _minor(f"{s}percent * t.cod_amount * 0.01", currency)
    else:
        # percent / 100 x freight: ten-thousandths of a percent times minor units, / 10^6.
        percent = round_div_sql(f"{s}percent_u * t.freight", 1_000_000)
    applies = [
        f"{s}id IS NOT NULL",
        f"({s}valid_from IS NULL OR {s}valid_from <= t.ship_date)",
        f"({s}valid_to IS NULL OR t.ship_date <= {s}valid_to)",
    ] + ([condition] if condition else [])
    return (
        f"CASE WHEN {' AND '.join(applies)} "
        f"THEN CASE WHEN {s}percent_u IS NULL THEN {s}flat_m ELSE GREATEST({percent}, {s}minimum_m) END ELSE 0 END"
    )


def _rated_rows(currency: str, slots: dict[str, int], rerating: bool) -> str:
    """`rated`: every shipment of `r` with its exception code, or its amounts in minor units —
    surcharges (vendors.pricing rule 6), the seller COD and returns fees (billing.pricing rules
    5-6), nets, and VAT (rules 7) — and, when re-rating, the sums of its earlier generations
    (`prev_<column>`, NUMERIC as stored). Two fenced layers, so every amount is computed once.
    `priced` (no exception code) is what the writers filter on: for `code IS NULL` on a CTE column
    the planner guesses 0.5% of the rows and sorts the chunk to sum its totals; for a boolean it
    guesses half, and hashes."""
    surcharges = ",\n                ".join(
        f"{' + '.join(_surcharge_sql(kind, n, currency) for n in range(1, slots.get(kind, 0) + 1)) or '0'} AS {column}"
        for kind, column in SURCHARGE_COLUMNS.items()
    )
    seller_cod = (
        "CASE WHEN t.cod_amount > 0 THEN "
        f"GREATEST({_minor('t.cod_amount * t.cod_fee_percent * 0.01', currency)}, t.cod_fee_minimum_m) ELSE 0 END"
    )
    vendor_net = "(" + " + ".join(["x.vendor_base"] + [f"x.{c}" for c in SURCHARGE_COLUMNS.values()]) + ")"
    seller_net = "(x.seller_base + x.seller_cod + x.seller_returns)"
    previous = previous_columns = ""
    if rerating:
        previous_columns = ", p.shipment_id AS prev_shipment_id, " + ", ".join(f"p.prev_{c}" for c in AMOUNT_COLUMNS)
        previous = f"""
        LEFT JOIN (
            SELECT c0.shipment_id, {", ".join(f"SUM(c0.{c}) AS prev_{c}" for c in AMOUNT_COLUMNS)}
            FROM {CHARGE_LINE} c0
            WHERE {CHUNK_LINES}
            GROUP BY c0.shipment_id
        ) p ON p.shipment_id = x.id"""
    # VAT = net x rate / 100: minor units times hundredths of a percent, / 10^4.
    return f"""
    rated AS MATERIALIZED (
        SELECT x.*, x.code IS NULL AS priced, {vendor_net} AS vendor_net, {seller_net} AS seller_net,
            {round_div_sql(f"{vendor_net} * x.vat_bp", 10_000)} AS vendor_vat,
            {round_div_sql(f"{seller_net} * x.seller_vat_bp", 10_000)} AS seller_vat
            {previous_columns}
        FROM (
            SELECT t.code, t.id, t.prev_generation, t.revision, t.market_id, t.vendor_id, t.seller_id,
                t.service_level, t.ship_date, t.market_currency, t.version_id, t.rate_line_id, t.schedule_id,
                t.vendor_g, t.seller_g, t.vat_bp, t.seller_vat_bp, t.freight AS vendor_base,
                {surcharges},
                t.seller_base, {seller_cod} AS seller_cod,
                CASE WHEN t.is_return = TRUE THEN t.returns_fee_m ELSE 0 END AS seller_returns
            FROM r t
            LEFT JOIN sv ON sv.version_id = t.version_id
            OFFSET 0
        ) x{previous}
    )"""


def _amounts(currency: str, rerating: bool) -> dict[str, str]:
    """Each amount column's NUMERIC value to write, from a `rated` row `y`: the new amount, minus
    the sum of earlier generations when re-rating (so re-ratings write deltas)."""
    amounts = {}
    for column in AMOUNT_COLUMNS:
        minor = {"vendor_gross": "(y.vendor_net + y.vendor_vat)", "seller_gross": "(y.seller_net + y.seller_vat)"}.get(
            column, f"y.{column}"
        )
        amount = _money(minor, currency)
        if column in MOSTLY_ZERO:
            amount = f"CASE WHEN {minor} = 0 THEN 0 ELSE {amount} END"
        if rerating:
            # A first rating has nothing earlier to subtract (and skips the arithmetic).
            amount = f"CASE WHEN y.prev_shipment_id IS NULL THEN {amount} ELSE {amount} - y.prev_{column} END"
        amounts[column] = amount
    return amounts


CHARGE_LINE_INSERT = f"""
    INSERT INTO {CHARGE_LINE} (
        id, run_id, chunk_id, shipment_id, generation, kind, shipment_revision, market_id, vendor_id, seller_id,
        service_level, ship_date, currency, contract_version_id, rate_line_id, seller_fee_schedule_id,
        chargeable_weight_kg, seller_chargeable_weight_kg, {", ".join(AMOUNT_COLUMNS)}, created_at
    )"""
# The chunk's new lines summed per vendor, seller and service (billing.models.ChargeLineTotal).
TOTAL_COLUMNS = (
    "run_id, chunk_id, vendor_id, seller_id, service_level, line_count, vendor_net, vendor_vat, seller_net, seller_vat"
)
TOTALED = ["vendor_net", "vendor_vat", "seller_net", "seller_vat"]
TOTAL_GROUP = "GROUP BY y.vendor_id, y.seller_id, y.service_level"
EXCEPTION_INSERT = f"""
    INSERT INTO {RATING_EXCEPTION} (run_id, chunk_id, shipment_id, vendor_id, code, created_at)"""
RERATING_SQL = f"SELECT EXISTS (SELECT 1 FROM {CHARGE_LINE} c0 WHERE {ChargeLine.of_shipments_sql('c0', '%s', '%s')})"
# The chunk transaction's settings, in one round trip (`set_config(..., true)` = SET LOCAL):
# room for the chunk's joins and its rated rows in memory; hash joins to the rate and fee lines
# (the planner otherwise sorts the chunk for a merge join, which costs more); no JIT (compiling
# the statement costs more than it saves on a chunk: bench/rating_ideas.py). And the chunk's
# commit need not wait for its log to reach the disk: if the server crashed before it did, the
# chunk would be lost whole — its lines, totals and its "done" mark are one transaction — and
# resume rates it again; anything that saw it (the posting, which commits synchronously) flushes
# it first. Ledger entries are not written here.
CHUNK_SETTINGS_SQL = (
    "SELECT set_config('work_mem', '64MB', true), set_config('enable_mergejoin', 'off', true), "
    "set_config('jit', 'off', true), set_config('synchronous_commit', 'off', true)"
)


def rating_statement(currency: str, slots: dict[str, int], rerating: bool = True) -> str:
    """The chunk's ONE statement: the exceptions, the charge lines and the chunk's totals are all
    written by data-modifying WITH queries over the same materialized `rated` rows; it returns the
    number of charge lines and of exceptions written. Built once per (currency, slots, rerating)
    and reused by every chunk."""
    return _rating_statement(currency, tuple(sorted(slots.items())), rerating)


@lru_cache(maxsize=64)
def _rating_statement(currency: str, slots: tuple[tuple[str, int], ...], rerating: bool) -> str:
    if minor_units(currency) > 4:
        raise ValueError(f"{currency} has more minor units than the rating's integer scale")
    slot_counts = dict(slots)
    amounts = _amounts(currency, rerating)
    if rerating:
        # Deltas are NUMERIC (new amount less the stored sums): summed as written.
        sums = ", ".join(f"SUM({amounts[c]})" for c in TOTALED)
    else:
        # New amounts only: integers summed, converted once.
        sums = ", ".join(_money(f"SUM(y.{c})", currency) for c in TOTALED)
    ctes = ",".join(
        [
            VERSIONS_CTE,
            _lines_cte(currency),
            _surcharges_cte(slot_counts, currency),
            _rated_cte(currency, rerating),
            _rated_rows(currency, slot_counts, rerating),
        ]
    )
    return f"""WITH {ctes},
    exceptions AS ({EXCEPTION_INSERT}
        SELECT %(run)s, %(chunk)s, y.id, y.vendor_id, y.code, %(now)s FROM rated y WHERE NOT y.priced
        RETURNING 1
    ),
    lines AS ({CHARGE_LINE_INSERT}
        SELECT {ChargeLine.key_sql("y.id", "y.prev_generation + 1")}, %(run)s, %(chunk)s, y.id, y.prev_generation + 1,
            CASE WHEN y.prev_generation = 0 THEN '{ChargeLine.Kind.ORIGINAL.value}' ELSE '{ChargeLine.Kind.DELTA.value}' END,
            y.revision, y.market_id, y.vendor_id, y.seller_id, y.service_level, y.ship_date, y.market_currency,
            y.version_id, y.rate_line_id, y.schedule_id, y.vendor_g * 0.001, y.seller_g * 0.001,
            {", ".join(amounts.values())}, %(now)s
        FROM rated y WHERE y.priced
    ),
    totals AS (
        INSERT INTO {CHARGE_LINE_TOTAL} ({TOTAL_COLUMNS})
        SELECT %(run)s, %(chunk)s, y.vendor_id, y.seller_id, y.service_level, COUNT(*), {sums}
        FROM rated y WHERE y.priced {TOTAL_GROUP}
        RETURNING line_count
    )
    SELECT (SELECT COALESCE(SUM(line_count), 0) FROM totals), (SELECT COUNT(*) FROM exceptions)"""


def rate_chunk(
    *,
    run_id: int,
    chunk_id: int,
    market_code: str,
    currency: str,
    business_date: date,
    first_id: int,
    last_id: int,
    watermark: int,
) -> ChunkOutcome:
    """Rate the eligible shipments of [first_id, last_id] and write their charge lines and
    exceptions. Must run inside the chunk's transaction (the caller commits or rolls back)."""
    params = {
        "market": market_code,
        "first": first_id,
        "last": last_id,
        "business_date": business_date,
        "watermark": watermark,
        "run": run_id,
        "chunk": chunk_id,
        "now": timezone.now(),
    }
    with connection.cursor() as cursor:
        cursor.execute(RERATING_SQL, [first_id, last_id])
        rerating = bool(cursor.fetchone()[0])
    statement = rating_statement(currency, surcharge_slots(market_code), rerating)
    with connection.cursor() as cursor:
        cursor.execute(CHUNK_SETTINGS_SQL)
        cursor.execute(statement, params)
        rated, exceptions = cursor.fetchone()
    return ChunkOutcome(rated=rated, exceptions=exceptions)


@dataclass(frozen=True)
class Since:
    """What the last completed run of the market covered: the bound of the next run's candidates.

    `run_id` (its exceptions are looked at again), `max_shipment_id` (its watermark: later ids are
    new), `business_date` (later ship dates were not yet eligible), `changed_from` (shipments
    written since then, `updated_at`, may be new or changed: its start less a safety margin)."""

    run_id: int
    max_shipment_id: int
    business_date: date
    changed_from: datetime


def chunk_ranges(
    *,
    market_code: str,
    business_date: date,
    watermark: int,
    size: int,
    rerate_from: date | None,
    since: Since | None = None,
):
    """Id ranges of at most `size` candidate shipments each: [(first_id, last_id, count), ...].

    Candidates: the market's shipments shipped on or before the business date that have no charge
    line for their current revision (never rated, exception, or data changed), plus — when a
    contract version was activated since the last completed run — every shipment shipped on or
    after the earliest such version's effective date (`rerate_from`), which a retroactive
    amendment may re-price. The chunk itself decides exactly what to rate.

    With `since` (the last completed run), only shipments that can be candidates are looked at,
    so planning costs what is new, not all history: ids above its watermark (all counted, as
    new shipments have no charge line unless a failed run rated some), shipments written
    (`updated_at`) since it started less a margin, shipped after its business date, its
    exceptions, and the amendment window. Anything else had a charge line at its current revision
    when that run completed, and keeps it until one of those changes.

    The database counts candidates per narrow id band (a sixteenth of a chunk: one hash
    aggregate, no sort or window over every candidate); consecutive bands are then joined into
    chunks here, so a chunk holds between 15/16 of `size` and `size` candidates where ids are
    dense. A chunk spans at most MAX_SPAN x `size` ids: the chunk reads its whole id range, so
    candidates scattered over history (amended old shipments) make small chunks, not long ones.
    """
    params = {
        "market": market_code,
        "business_date": business_date,
        "watermark": watermark,
        "band": max(1, size // 16),
        "rerate_from": rerate_from,
    }
    if since is not None:
        params.update(
            since_run=since.run_id,
            since_id=since.max_shipment_id,
            since_date=since.business_date,
            changed_from=since.changed_from,
        )
    sql = _chunk_bands_sql(bounded=since is not None, rerate=rerate_from is not None)
    with connection.cursor() as cursor:
        # The per-candidate probes make the estimate high enough for JIT, whose compilation costs
        # more than this statement (it runs inside the start transaction: LOCAL ends with it).
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        bands = sorted(cursor.fetchall())
    ranges: list[tuple[int, int, int]] = []
    for _band, first, last, count in bands:
        if ranges and ranges[-1][2] + count <= size and int(last) - ranges[-1][0] < MAX_SPAN * size:
            ranges[-1] = (ranges[-1][0], int(last), ranges[-1][2] + int(count))
        else:
            ranges.append((int(first), int(last), int(count)))
    return ranges


MAX_SPAN = 4
# The shipments that can be candidates after the last completed run (`Since`). Those above its
# watermark are new: every one is counted, without looking for a charge line (a run that failed
# after it may have rated a few; the chunk skips those, so a chunk may come out a little small).
# The older ones that can be candidates, each set found by an index — (market, updated_at),
# (market, ship_date), the exceptions' (run, code) — are materialised first and checked against
# the charge lines by an index probe in a subquery per candidate, which PostgreSQL never turns into
# a hash of every charge line. Each older set stops at the watermark: the night's new shipments
# were also written since the last run started, and reading them twice cost a 400,000-row
# de-duplication, and a probe each, for a night of 200,000 (1.1 s of planning against 0.2 s).
_BOUNDED_BANDS = f"""
        WITH k AS MATERIALIZED (
            SELECT c.id, c.revision, c.ship_date FROM {SHIPMENT} c
            WHERE c.market_id = %(market)s AND c.updated_at >= %(changed_from)s
                AND c.ship_date <= %(business_date)s AND c.id <= %(since_id)s
            UNION SELECT d.id, d.revision, d.ship_date FROM {SHIPMENT} d
            WHERE d.market_id = %(market)s AND d.ship_date > %(since_date)s AND d.ship_date <= %(business_date)s
                AND d.id <= %(since_id)s
            UNION SELECT e.id, e.revision, e.ship_date FROM {RATING_EXCEPTION} x JOIN {SHIPMENT} e ON e.id = x.shipment_id
            WHERE x.run_id = %(since_run)s AND e.market_id = %(market)s AND e.ship_date <= %(business_date)s
                AND e.id <= %(since_id)s
            {{window}}
        ), candidates AS (
            SELECT n.id FROM {SHIPMENT} n
            WHERE n.id > %(since_id)s AND n.id <= %(watermark)s AND n.market_id = %(market)s
                AND n.ship_date <= %(business_date)s
            UNION ALL
            SELECT k.id FROM k
            WHERE COALESCE((
                    SELECT FALSE FROM {CHARGE_LINE} cl
                    WHERE {ChargeLine.of_shipments_sql("cl", "k.id")} AND cl.shipment_revision = k.revision LIMIT 1), TRUE)
                {{rerate}}
        )
        SELECT id / %(band)s AS band, MIN(id), MAX(id), COUNT(*) FROM candidates
        GROUP BY id / %(band)s
    """
_WINDOW = f"""UNION SELECT w.id, w.revision, w.ship_date FROM {SHIPMENT} w
            WHERE w.market_id = %(market)s AND w.ship_date >= %(rerate_from)s AND w.ship_date <= %(business_date)s
                AND w.id <= %(since_id)s"""
# Every shipment of the market (the first run): one anti-join.
_CHUNK_BANDS = f"""
        SELECT s.id / %(band)s AS band, MIN(s.id), MAX(s.id), COUNT(*)
        FROM {SHIPMENT} s
        WHERE s.market_id = %(market)s AND s.ship_date <= %(business_date)s AND s.id <= %(watermark)s
          AND (NOT EXISTS (
                SELECT 1 FROM {CHARGE_LINE} cl
                WHERE cl.shipment_id = s.id AND {ChargeLine.of_shipments_sql("cl", "s.id")}
                    AND cl.shipment_revision = s.revision)
               {{rerate}})
        GROUP BY s.id / %(band)s
    """


def _chunk_bands_sql(*, bounded: bool, rerate: bool) -> str:
    if bounded:
        return _BOUNDED_BANDS.format(
            window=_WINDOW if rerate else "", rerate="OR k.ship_date >= %(rerate_from)s" if rerate else ""
        )
    return _CHUNK_BANDS.format(rerate="OR s.ship_date >= %(rerate_from)s" if rerate else "")
