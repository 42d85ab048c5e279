"""`python -m bench.rating_ideas`: what each idea for a faster billing chunk is worth (issue #18).

Every idea is measured on the same shipments of market ZZ (the billing bench's data; `--prepare N`
generates N first), chunk by chunk as a run rates them — one statement and one transaction per
chunk, with the product's session settings (work_mem, no merge join, no JIT, asynchronous commit)
— into scratch tables made LIKE the charge-line, total and exception tables. The variants run
interleaved, `--reps` times each; the table shows wall seconds and the CPU seconds of the database
backend (read from /proc: steadier than the wall clock when other work shares the machine),
median and best (each chunk's fastest run, summed). Every variant must write the same charge lines
as the product: their sums, column by column, are compared with the product's ("sums" column).

Ideas (the issue's list):
  (a) integer minor units in the hot SQL, one conversion at the end — alone (the old shape, totals
      from RETURNING), and the other way round: NUMERIC in the product's shape;
  (b) each surcharge computed once (fenced layers) against repeated subexpressions (no fences)
      and a LATERAL subquery per surcharge kind;
  (c) fewer indexes during the chunk write: what each of the two costs, and the unique
      (shipment, generation) index the key (shipment x 10,000 + generation) made redundant;
  (d) a narrower charge line: without the columns that can be derived (kind from generation,
      market and currency from the run, nets and gross from the parts);
  (e) others: the totals summed from the rated rows as integers (instead of from the insert's
      RETURNING: compare (a) with the product), zero amounts written as constants, a filter the
      planner estimates right (hash, not sort, for the totals), work_mem, merge joins, JIT,
      synchronous commit.
Where a chunk's time goes ("split" rows, with "no index at all" and the product): the SELECT alone
(joins, arithmetic, conversions; nothing written), then the heap, WAL, exceptions and totals (the
statement into a table without indexes), then the indexes. `--explain` also prints EXPLAIN
(ANALYZE, BUFFERS, WAL) of the product's statement on one chunk, and `--orchestration` times a
real run's planning, per-chunk overhead and posting.

"before" is the statement as it was before these ideas were built (NUMERIC arithmetic, totals from
RETURNING), kept here, frozen, as the yardstick; the product's is billing.rating.rating_statement.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settlement_ops.settings.base")
    from bench import open_own_database

    open_own_database()

from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from billing import rating, services  # noqa: E402
from billing.models import BillingRun, ChargeLine, Shipment  # noqa: E402
from settlement_ops.models import Market  # noqa: E402
from settlement_ops.money import round_sql  # noqa: E402
from vendors.models import SURCHARGE_ORDER, Surcharge  # noqa: E402

from . import MARKET, floor  # noqa: E402

CL = rating.CHARGE_LINE
SCRATCH = "bench_ideas_chargeline"
SCRATCH_TOTAL = "bench_ideas_total"
SCRATCH_EXCEPTION = "bench_ideas_exception"
# The product's session settings for a chunk (billing.rating.rate_chunk).
PRODUCT_SETTINGS = {"work_mem": "'64MB'", "enable_mergejoin": "off", "jit": "off", "synchronous_commit": "off"}
# Columns a narrower line would not store: derivable from generation (kind), the run (market,
# currency) or the other amounts (nets, gross).
DERIVABLE = ["kind", "market_id", "currency", "vendor_net", "vendor_gross", "seller_net", "seller_gross"]
SECONDARY_INDEX = "(seller_id, run_id)"


# --- The statement before the ideas (frozen): NUMERIC arithmetic, totals from RETURNING ---------


def _before_weight(divisor: str) -> str:
    volumetric = (
        "(CASE WHEN sh.length_cm IS NULL OR sh.width_cm IS NULL OR sh.height_cm IS NULL THEN 0 "
        f"ELSE CEIL(sh.length_cm * sh.width_cm * sh.height_cm * 1000.0 / {divisor}) * 0.001 END)"
    )
    return f"GREATEST(sh.actual_weight_kg, {volumetric})"


def _before_bracket(base, per_step, step, weight_from, minimum, weight, currency) -> str:
    return round_sql(f"GREATEST({base} + CEIL(({weight} - {weight_from}) / {step}) * {per_step}, {minimum})", currency)


PIVOT_FIELDS = [
    "id",
    "percent",
    "flat_amount",
    "minimum_amount",
    "valid_from",
    "valid_to",
    "zone",
    "dimension_threshold_cm",
]


def _before_surcharges_cte(slots: dict[str, int]) -> str:
    columns = (
        ", ".join(
            f"MAX(CASE WHEN x.kind = '{kind}' AND x.slot = {n} THEN x.{name} END) AS {kind}{n}_{name}"
            for kind in SURCHARGE_ORDER
            for n in range(1, slots.get(kind, 0) + 1)
            for name in PIVOT_FIELDS
        )
        or "NULL AS none"
    )
    return f"""
    sv AS (
        SELECT x.version_id, {columns}
        FROM (
            SELECT su.*, ROW_NUMBER() OVER (PARTITION BY su.version_id, su.kind ORDER BY su.id) AS slot
            FROM {rating.SURCHARGE} su WHERE su.version_id IN (SELECT version_id FROM vv)
        ) x
        GROUP BY x.version_id
    )"""


def _before_rated(currency: str) -> str:
    vendor_kg, seller_kg = _before_weight("c.volumetric_divisor"), _before_weight("fs.volumetric_divisor")
    max_dim = (
        "(CASE WHEN sh.length_cm IS NULL OR sh.width_cm IS NULL OR sh.height_cm IS NULL THEN NULL "
        "ELSE GREATEST(sh.length_cm, sh.width_cm, sh.height_cm) END)"
    )
    freight = _before_bracket(
        "rl.base_price", "rl.price_per_additional_kg", "rl.additional_step_kg", "rl.weight_from_kg",
        "rl.minimum_charge", "b.vendor_kg", currency,
    )  # fmt: skip
    seller_base = _before_bracket(
        "fl.base_fee", "fl.fee_per_additional_step", "fl.additional_step_kg", "fl.weight_from_kg", "fl.minimum_fee",
        "b.seller_kg", currency,
    )  # fmt: skip
    return f"""
    rl AS MATERIALIZED (
        SELECT rl.* FROM {rating.RATE_LINE} rl WHERE rl.version_id IN (SELECT version_id FROM vv)
    ),
    r AS MATERIALIZED (
        SELECT b.*, rl.id AS rate_line_id, {freight} AS freight, fl.id AS seller_line_id, {seller_base} AS seller_base,
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
                {max_dim} AS max_dim, m.currency AS market_currency, m.vat_standard_rate AS vat_rate,
                c.id AS contract_id, c.currency AS contract_currency, vv.version_id,
                {rating._contract_blocked_sql()} AS contract_blocked, {vendor_kg} AS vendor_kg,
                fs.id AS schedule_id, fs.currency AS schedule_currency, fs.vat_rate AS seller_vat_rate,
                fs.cod_fee_percent, fs.cod_fee_minimum, fs.returns_fee, {seller_kg} AS seller_kg, 0 AS prev_generation
            FROM {rating.SHIPMENT} sh
            JOIN {rating.MARKET} m ON m.code = sh.market_id
            LEFT JOIN {rating.CONTRACT} c
                ON c.vendor_id = sh.vendor_id AND c.market_id = sh.market_id AND c.service_level = sh.service_level
                AND c.status IN {rating.EFFECTIVE} AND c.valid_from <= sh.ship_date
                AND (c.valid_to IS NULL OR c.valid_to >= sh.ship_date)
            LEFT JOIN vv ON vv.contract_id = c.id AND vv.effective_from <= sh.ship_date
                AND (vv.next_from IS NULL OR sh.ship_date < vv.next_from)
            LEFT JOIN (
                SELECT s.*, LEAD(s.valid_from) OVER (PARTITION BY s.service_level ORDER BY s.valid_from) AS next_from
                FROM {rating.FEE_SCHEDULE} s
                WHERE s.status = '{rating.ACTIVE_SCHEDULE}' AND s.market_id = %(market)s
            ) fs ON fs.service_level = sh.service_level AND fs.valid_from <= sh.ship_date
                AND (fs.next_from IS NULL OR sh.ship_date < fs.next_from)
                AND (fs.valid_to IS NULL OR sh.ship_date <= fs.valid_to)
            WHERE sh.market_id = %(market)s AND sh.id BETWEEN %(first)s AND %(last)s
                AND sh.ship_date <= %(business_date)s AND sh.id <= %(watermark)s
            OFFSET 0
        ) b
        LEFT JOIN rl
            ON rl.version_id = b.version_id AND rl.service_level = b.service_level
            AND rl.origin_zone = b.origin_zone AND rl.destination_zone = b.destination_zone
            AND rl.weight_from_kg < b.vendor_kg AND b.vendor_kg <= rl.weight_to_kg
        LEFT JOIN {rating.FEE_LINE} fl
            ON fl.schedule_id = b.schedule_id AND fl.weight_from_kg < b.seller_kg AND b.seller_kg <= fl.weight_to_kg
    )"""


def _before_surcharge(kind: str, n: int, currency: str) -> str:
    s = f"sv.{kind}{n}_"
    condition = {
        Surcharge.Kind.REMOTE_AREA: f"{s}zone = t.destination_zone",
        Surcharge.Kind.OVERSIZE: f"t.max_dim IS NOT NULL AND t.max_dim > {s}dimension_threshold_cm",
        Surcharge.Kind.COD: "t.cod_amount > 0",
        Surcharge.Kind.RETURNS: "t.is_return = TRUE",
    }.get(kind)
    base = "t.cod_amount" if kind == Surcharge.Kind.COD else "t.freight"
    amount = round_sql(
        f"GREATEST(CASE WHEN {s}percent IS NOT NULL THEN {s}percent * {base} * 0.01 ELSE {s}flat_amount END, "
        f"{s}minimum_amount)",
        currency,
    )
    applies = [
        f"{s}id IS NOT NULL",
        f"({s}valid_from IS NULL OR {s}valid_from <= t.ship_date)",
        f"({s}valid_to IS NULL OR t.ship_date <= {s}valid_to)",
    ] + ([condition] if condition else [])
    return f"CASE WHEN {' AND '.join(applies)} THEN {amount} ELSE 0 END"


def _lateral_surcharge(kind: str, currency: str) -> str:
    """A kind's surcharges summed by a LATERAL subquery on the surcharge table, per shipment."""
    condition = {
        Surcharge.Kind.REMOTE_AREA: "su.zone = t.destination_zone",
        Surcharge.Kind.OVERSIZE: "t.max_dim IS NOT NULL AND t.max_dim > su.dimension_threshold_cm",
        Surcharge.Kind.COD: "t.cod_amount > 0",
        Surcharge.Kind.RETURNS: "t.is_return = TRUE",
    }.get(kind, "TRUE")
    base = "t.cod_amount" if kind == Surcharge.Kind.COD else "t.freight"
    amount = round_sql(
        f"GREATEST(CASE WHEN su.percent IS NOT NULL THEN su.percent * {base} * 0.01 ELSE su.flat_amount END, "
        "su.minimum_amount)",
        currency,
    )
    return f"""(SELECT COALESCE(SUM({amount}), 0) FROM {rating.SURCHARGE} su
                    WHERE su.version_id = t.version_id AND su.kind = '{kind}' AND {condition}
                    AND (su.valid_from IS NULL OR su.valid_from <= t.ship_date)
                    AND (su.valid_to IS NULL OR t.ship_date <= su.valid_to))"""


def before_statement(
    currency: str, slots: dict[str, int], *, fenced: bool = True, lateral: bool = False, rated_totals: bool = False
) -> str:
    """The chunk statement before the ideas. `fenced=False` drops the OFFSET 0 fences (the
    planner then pastes each amount's expression into every place that uses it); `lateral`
    computes each surcharge kind with a LATERAL subquery instead of the joined `sv` row;
    `rated_totals` keeps NUMERIC but is shaped as the product: the rated rows (amounts and
    exception code) materialized once, exceptions, lines and totals all read from them."""
    if lateral:
        surcharges = ",\n".join(
            f"{_lateral_surcharge(kind, currency)} AS {column}" for kind, column in rating.SURCHARGE_COLUMNS.items()
        )
        sv_join = ""
    else:
        surcharges = ",\n".join(
            f"{' + '.join(_before_surcharge(kind, n, currency) for n in range(1, slots.get(kind, 0) + 1)) or '0'}"
            f" AS {column}"
            for kind, column in rating.SURCHARGE_COLUMNS.items()
        )
        sv_join = "LEFT JOIN sv ON sv.version_id = t.version_id"
    seller_cod = (
        "CASE WHEN t.cod_amount > 0 THEN "
        f"{round_sql('GREATEST(t.cod_amount * t.cod_fee_percent * 0.01, t.cod_fee_minimum)', currency)} ELSE 0 END"
    )
    seller_returns = f"CASE WHEN t.is_return = TRUE THEN {round_sql('t.returns_fee', currency)} ELSE 0 END"
    vendor_net = " + ".join(["x.vendor_base"] + [f"x.{c}" for c in rating.SURCHARGE_COLUMNS.values()])
    amounts = {c: f"y.{c}" for c in rating.AMOUNT_COLUMNS}
    amounts["vendor_gross"] = "y.vendor_net + y.vendor_vat"
    amounts["seller_gross"] = "y.seller_net + y.seller_vat"
    fence = "OFFSET 0" if fenced else ""
    lines = f"""
    SELECT {ChargeLine.key_sql("y.id", "y.prev_generation + 1")}, %(run)s, %(chunk)s, y.id, y.prev_generation + 1,
        'original',
        y.revision, y.market_id, y.vendor_id, y.seller_id, y.service_level, y.ship_date, y.market_currency,
        y.version_id, y.rate_line_id, y.schedule_id, y.vendor_kg, y.seller_kg, {", ".join(amounts.values())}, %(now)s
    FROM (
        SELECT n.*,
            {round_sql("n.vendor_net * n.vat_rate * 0.01", currency)} AS vendor_vat,
            {round_sql("n.seller_net * n.seller_vat_rate * 0.01", currency)} AS seller_vat
        FROM (
            SELECT x.*, {vendor_net} AS vendor_net, x.seller_base + x.seller_cod + x.seller_returns AS seller_net
            FROM (
                SELECT t.id, t.prev_generation, t.revision, t.market_id, t.vendor_id, t.seller_id, t.service_level,
                    t.ship_date, t.market_currency, t.version_id, t.rate_line_id, t.schedule_id, t.vendor_kg,
                    t.seller_kg, t.vat_rate, t.seller_vat_rate, t.freight AS vendor_base,
                    {surcharges},
                    t.seller_base, {seller_cod} AS seller_cod, {seller_returns} AS seller_returns
                FROM r t {sv_join}
                WHERE t.code IS NULL
                {fence}
            ) x {fence}
        ) n {fence}
    ) y"""
    ctes = ",".join([rating.VERSIONS_CTE, _before_surcharges_cte(slots), _before_rated(currency)])
    if rated_totals:
        ctes = ctes.replace("r AS MATERIALIZED (", "r AS (")
        rated = lines[lines.index("FROM (") + len("FROM (") : lines.rindex(") y")]
        rated = rated.replace("SELECT n.*,", "SELECT n.*, n.code IS NULL AS priced,", 1)
        rated = rated.replace("SELECT t.id, t.prev_generation", "SELECT t.code, t.id, t.prev_generation").replace(
            "WHERE t.code IS NULL", ""
        )
        select = lines[: lines.index("FROM (")]
        return f"""WITH {ctes},
    rated AS MATERIALIZED ({rated}),
    exceptions AS ({rating.EXCEPTION_INSERT}
        SELECT %(run)s, %(chunk)s, y.id, y.vendor_id, y.code, %(now)s FROM rated y WHERE NOT y.priced
    ),
    lines AS ({rating.CHARGE_LINE_INSERT}{select} FROM rated y WHERE y.priced
    ),
    totals AS (
        INSERT INTO {rating.CHARGE_LINE_TOTAL} ({rating.TOTAL_COLUMNS})
        SELECT %(run)s, %(chunk)s, vendor_id, seller_id, service_level,
            COUNT(*), SUM(vendor_net), SUM(vendor_vat), SUM(seller_net), SUM(seller_vat)
        FROM rated y WHERE y.priced GROUP BY vendor_id, seller_id, service_level
        RETURNING line_count
    )
    SELECT COALESCE(SUM(line_count), 0) FROM totals"""
    return f"""WITH {ctes},
    exceptions AS ({rating.EXCEPTION_INSERT}
        SELECT %(run)s, %(chunk)s, t.id, t.vendor_id, t.code, %(now)s FROM r t WHERE t.code IS NOT NULL
    ),
    lines AS ({rating.CHARGE_LINE_INSERT}{lines}
        RETURNING vendor_id, seller_id, service_level, vendor_net, vendor_vat, seller_net, seller_vat
    ),
    totals AS (
        INSERT INTO {rating.CHARGE_LINE_TOTAL} ({rating.TOTAL_COLUMNS})
        SELECT %(run)s, %(chunk)s, vendor_id, seller_id, service_level,
            COUNT(*), SUM(vendor_net), SUM(vendor_vat), SUM(seller_net), SUM(seller_vat)
        FROM lines GROUP BY vendor_id, seller_id, service_level
        RETURNING line_count
    )
    SELECT COALESCE(SUM(line_count), 0) FROM totals"""


# --- Variants of the product's statement ----------------------------------------------------------


def integer_with_returning(currency: str, slots: dict[str, int]) -> str:
    """(a) alone: the product's integer arithmetic, but the totals summed from the insert's
    RETURNING (NUMERIC) as before, and `rated` read by the insert only."""
    product = rating.rating_statement(currency, slots, False)
    head = product[: product.index("    exceptions AS (")]
    lines = product[product.index("    lines AS (") : product.index("    totals AS (")].rstrip().rstrip(",")
    return f"""{head}{lines.rstrip().rstrip(")")}
        RETURNING vendor_id, seller_id, service_level, vendor_net, vendor_vat, seller_net, seller_vat
    ),
    exceptions AS ({rating.EXCEPTION_INSERT}
        SELECT %(run)s, %(chunk)s, y.id, y.vendor_id, y.code, %(now)s FROM rated y WHERE NOT y.priced
    ),
    totals AS (
        INSERT INTO {rating.CHARGE_LINE_TOTAL} ({rating.TOTAL_COLUMNS})
        SELECT %(run)s, %(chunk)s, vendor_id, seller_id, service_level,
            COUNT(*), SUM(vendor_net), SUM(vendor_vat), SUM(seller_net), SUM(seller_vat)
        FROM lines GROUP BY vendor_id, seller_id, service_level
        RETURNING line_count
    )
    SELECT COALESCE(SUM(line_count), 0) FROM totals"""


def without_zero_constants(statement: str) -> str:
    """The product's statement converting every amount, zero or not."""
    out = statement
    for column in rating.MOSTLY_ZERO:
        minor = f"y.{column}"
        out = out.replace(f"CASE WHEN {minor} = 0 THEN 0 ELSE {minor} * 0.01 END", f"{minor} * 0.01")
    return out


def narrow(statement: str) -> str:
    """The product's statement writing only the columns that cannot be derived (into a table
    without DERIVABLE)."""
    insert_start = statement.index(f"INSERT INTO {CL} (")
    select_start = statement.index("SELECT", insert_start)
    from_start = statement.index("FROM rated y WHERE y.priced", select_start)
    columns = [
        c.strip()
        for c in statement[statement.index("(", insert_start) + 1 : statement.index(")", insert_start)].split(",")
    ]
    values = _split_top_level(statement[select_start + len("SELECT") : from_start])
    kept = [(c, v) for c, v in zip(columns, values, strict=True) if c not in DERIVABLE]
    return (
        statement[:insert_start]
        + f"INSERT INTO {CL} ({', '.join(c for c, _ in kept)})\n        SELECT {', '.join(v for _, v in kept)}\n        "
        + statement[from_start:]
    )


def select_only(statement: str) -> str:
    """The statement's SELECT of the charge lines (joins, arithmetic, conversions) consumed by a
    count of whole rows, so every column is computed and nothing is written."""
    prefix = statement[: statement.index("    exceptions AS (")].rstrip().rstrip(",")
    lines = statement[statement.index("    lines AS (") :]
    select = lines[lines.index("SELECT %(run)s") :]
    end = select.index("WHERE y.priced") + len("WHERE y.priced") if "FROM rated y" in select else None
    select = select[:end] if end else select[: select.index("RETURNING")]
    return f"{prefix}\n    SELECT COUNT(q.*) FROM ({select}) q"


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in text:
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        depth += char == "("
        depth -= char == ")"
        current.append(char)
    parts.append("".join(current).strip())
    return parts


# --- Measurement ---------------------------------------------------------------------------------


@dataclass
class Variant:
    idea: str
    name: str
    statement: str
    indexes: tuple[str, ...] = ("pkey", "secondary")  # the product's
    narrow: bool = False
    writes: bool = True  # False: a SELECT only, its sums not compared
    settings: dict = field(default_factory=lambda: dict(PRODUCT_SETTINGS))
    walls: list = field(default_factory=list)
    cpus: list = field(default_factory=list)
    chunk_cpus: list = field(default_factory=list)  # per run, the CPU seconds of each chunk
    sums: dict | None = None


def _retarget(statement: str) -> str:
    return (
        statement.replace(f"INSERT INTO {CL} (", f"INSERT INTO {SCRATCH} (")
        .replace(f"INSERT INTO {rating.CHARGE_LINE_TOTAL} ", f"INSERT INTO {SCRATCH_TOTAL} ")
        .replace(f"INSERT INTO {rating.RATING_EXCEPTION} ", f"INSERT INTO {SCRATCH_EXCEPTION} ")
    )


def _create_tables(cursor, variant: Variant) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {SCRATCH}, {SCRATCH_TOTAL}, {SCRATCH_EXCEPTION}")
    cursor.execute(f"CREATE TABLE {SCRATCH_TOTAL} (LIKE {rating.CHARGE_LINE_TOTAL} INCLUDING ALL)")
    cursor.execute(f"CREATE TABLE {SCRATCH_EXCEPTION} (LIKE {rating.RATING_EXCEPTION} INCLUDING ALL)")
    # The charge lines' columns, defaults, identity and checks; then the indexes the variant keeps.
    cursor.execute(
        f"CREATE TABLE {SCRATCH} (LIKE {CL} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS "
        "INCLUDING STORAGE)"
    )
    if variant.narrow:
        cursor.execute(f"ALTER TABLE {SCRATCH} DROP CONSTRAINT IF EXISTS charge_line_kind_matches_generation")
        cursor.execute(f"ALTER TABLE {SCRATCH} " + ", ".join(f"DROP COLUMN {c}" for c in DERIVABLE))
    if "pkey" in variant.indexes:
        cursor.execute(f"ALTER TABLE {SCRATCH} ADD PRIMARY KEY (id)")
    if "unique" in variant.indexes:  # the guard before the key was shipment x 10,000 + generation
        cursor.execute(f"ALTER TABLE {SCRATCH} ADD UNIQUE (shipment_id, generation)")
    if "secondary" in variant.indexes:
        cursor.execute(f"CREATE INDEX ON {SCRATCH} {SECONDARY_INDEX}")


def _backend_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) the database backend has used, when it runs on this machine."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Setup:
    business_date: object
    watermark: int
    ranges: list
    currency: str
    slots: dict
    pid: int

    @property
    def shipments(self) -> int:
        return sum(count for _first, _last, count in self.ranges)

    def params(self, first: int, last: int) -> dict:
        return {
            "market": MARKET, "first": first, "last": last, "business_date": self.business_date,
            "watermark": self.watermark, "run": 0, "chunk": 0, "now": timezone.now(),
        }  # fmt: skip


def setup(*, chunks: int | None) -> Setup:
    market = Market.objects.get(pk=MARKET)
    business_date = market.local_date() - timedelta(days=1)
    watermark = Shipment.objects.filter(market=market).order_by("-id").values_list("id", flat=True).first() or 0
    # Chunks of the run's size over every shipment of the market, rated or not (the variants write
    # scratch tables, so the charge lines already stored do not matter).
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT MIN(id), MAX(id), COUNT(*) FROM (
                SELECT id, (ROW_NUMBER() OVER (ORDER BY id) - 1) / %s AS k FROM {rating.SHIPMENT}
                WHERE market_id = %s AND ship_date <= %s AND id <= %s
            ) s GROUP BY k ORDER BY k
            """,
            [services.CHUNK_SIZE, MARKET, business_date, watermark],
        )
        ranges = cursor.fetchall()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    return Setup(
        business_date, watermark, ranges[:chunks] if chunks else ranges, market.currency,
        rating.surcharge_slots(MARKET), pid,
    )  # fmt: skip


def run_once(variant: Variant, s: Setup, *, keep_sums: bool) -> None:
    statement = _retarget(variant.statement)
    with connection.cursor() as cursor:
        _create_tables(cursor, variant)
    wall, cpus = 0.0, []
    for first, last, _count in s.ranges:
        started, cpu_before = time.perf_counter(), _backend_cpu(s.pid)
        with transaction.atomic(), connection.cursor() as cursor:
            for name, value in variant.settings.items():
                cursor.execute(f"SET LOCAL {name} = {value}")
            cursor.execute(statement, s.params(first, last))
        wall += time.perf_counter() - started
        cpu_after = _backend_cpu(s.pid)
        if cpu_before is not None and cpu_after is not None:
            cpus.append(cpu_after - cpu_before)
    variant.walls.append(wall)
    if len(cpus) == len(s.ranges):
        variant.cpus.append(sum(cpus))
        variant.chunk_cpus.append(cpus)
    if keep_sums and variant.writes:
        columns = [c for c in floor.SUM_COLUMNS if not (variant.narrow and c in DERIVABLE)]
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*), {', '.join(f'COALESCE(SUM({c}), 0)' for c in columns)} FROM {SCRATCH}")
            row = cursor.fetchone()
            cursor.execute(f"SELECT COUNT(*), SUM(line_count), SUM(vendor_net), SUM(seller_vat) FROM {SCRATCH_TOTAL}")
            totals = cursor.fetchone()
        variant.sums = {"count": row[0], **dict(zip(columns, row[1:], strict=True)), "totals": totals}
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {SCRATCH}, {SCRATCH_TOTAL}, {SCRATCH_EXCEPTION}")


def variants(s: Setup) -> list[Variant]:
    product = rating.rating_statement(s.currency, s.slots, False)
    before = before_statement(s.currency, s.slots)
    indexes = ("pkey", "secondary")
    return [
        Variant("-", "before (NUMERIC, totals from RETURNING)", before),
        Variant("-", "product (all ideas built)", product),
        Variant("split", "before: its SELECT only (nothing written)", select_only(before), writes=False),
        Variant("split", "product: its SELECT only (nothing written)", select_only(product), writes=False),
        Variant("a", "integer minor units, totals from RETURNING", integer_with_returning(s.currency, s.slots)),
        Variant(
            "a",
            "NUMERIC, shaped as the product (rated rows materialized, totals from them)",
            before_statement(s.currency, s.slots, rated_totals=True),
        ),
        Variant(
            "b",
            "before, no OFFSET 0 fences (repeated expressions)",
            before_statement(s.currency, s.slots, fenced=False),
        ),
        Variant(
            "b", "before, a LATERAL subquery per surcharge kind", before_statement(s.currency, s.slots, lateral=True)
        ),
        Variant("c", "product, without (seller, run) index", product, tuple(i for i in indexes if i != "secondary")),
        Variant(
            "c",
            "product, with a unique (shipment, generation) index as well (the guard before the key was built)",
            product,
            (*indexes, "unique"),
        ),
        Variant("c", "product, without primary key", product, tuple(i for i in indexes if i != "pkey")),
        Variant("c", "product, no index at all", product, ()),
        Variant("d", "product, narrow line (no derivable columns)", narrow(product), narrow=True),
        Variant("e", "product, every amount converted (no zero constants)", without_zero_constants(product)),
        Variant(
            "e",
            "product, writers filter on code IS NULL (planner sorts the totals)",
            product.replace("WHERE NOT y.priced", "WHERE y.code IS NOT NULL").replace(
                "WHERE y.priced", "WHERE y.code IS NULL"
            ),
        ),
        Variant("e", "product, work_mem 4MB (default)", product, settings={**PRODUCT_SETTINGS, "work_mem": "'4MB'"}),
        Variant("e", "product, merge joins allowed", product, settings={**PRODUCT_SETTINGS, "enable_mergejoin": "on"}),
        Variant(
            "e",
            "product, JIT compiled (jit_above_cost 0)",
            product,
            settings={**PRODUCT_SETTINGS, "jit": "on", "jit_above_cost": "0"},
        ),
        Variant("e", "product, synchronous commit", product, settings={**PRODUCT_SETTINGS, "synchronous_commit": "on"}),
    ]


def report(results: list[Variant], s: Setup) -> list[str]:
    """The table: wall seconds, backend CPU seconds (median of the runs, and the sum over chunks of
    each chunk's fastest run: the least disturbed by other work on the machine), per shipment."""
    reference = next(v for v in results if v.name.startswith("product ("))
    before = results[0]

    def steady(v: Variant) -> float:
        if not v.chunk_cpus:
            return min(v.walls)
        return sum(min(run[i] for run in v.chunk_cpus) for i in range(len(s.ranges)))

    lines = [
        f"{s.shipments:,} shipments in {len(s.ranges)} chunks, {len(reference.walls)} runs of each variant, "
        f"interleaved; load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores. 'CPU best' = the backend's CPU "
        "seconds summed over the chunks, each chunk's fastest run (the least disturbed by other work).",
        "",
        "| idea | variant | wall s min / median | CPU s median | CPU s best | us per shipment | vs before | sums |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for v in results:
        if not v.writes:
            same = "-"
        elif v.sums is None:
            same = "?"
        elif v.narrow:
            same = "same" if all(v.sums[k] == reference.sums[k] for k in v.sums) else "DIFFERENT"
        else:
            same = "same" if v.sums == reference.sums else "DIFFERENT"
        median_cpu = f"{statistics.median(v.cpus):.2f}" if v.cpus else "n/a"
        lines.append(
            f"| {v.idea} | {v.name} | {min(v.walls):.2f} / {statistics.median(v.walls):.2f} | {median_cpu} | "
            f"{steady(v):.2f} | {steady(v) / s.shipments * 1e6:.1f} | {steady(v) / steady(before):.2f}x | {same} |"
        )
    return lines


def explain(s: Setup) -> None:
    """EXPLAIN (ANALYZE, BUFFERS, WAL) of the product's statement on the first chunk, into the
    scratch tables (with the product's indexes), all rolled back."""
    first, last, count = s.ranges[0]
    statement = _retarget(rating.rating_statement(s.currency, s.slots, False))
    with transaction.atomic(), connection.cursor() as cursor:
        _create_tables(cursor, Variant("-", "explain", statement))
        for name, value in PRODUCT_SETTINGS.items():
            cursor.execute(f"SET LOCAL {name} = {value}")
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, WAL) " + statement, s.params(first, last))
        print(f"EXPLAIN of chunk [{first}, {last}] ({count:,} shipments), rolled back:")
        print("\n".join(row[0] for row in cursor.fetchall()))
        transaction.set_rollback(True)


def orchestration(*, workers: int) -> list[str]:
    """A real run of market ZZ (earlier runs removed) with each step timed: planning, per chunk
    the statement against the whole `billing_chunk_rate` (claim, lock, checks, progress row,
    commit), and the posting with its ANALYZE apart."""
    from concurrent.futures import ThreadPoolExecutor

    from . import data

    data.reset_runs()
    statement_s, analyze_s, chunk_s = [], [], []
    rate_chunk, analyze = rating.rate_chunk, services._analyze_written

    def timed_rate_chunk(**kwargs):
        started = time.perf_counter()
        try:
            return rate_chunk(**kwargs)
        finally:
            statement_s.append(time.perf_counter() - started)

    def timed_analyze():
        started = time.perf_counter()
        analyze()
        analyze_s.append(time.perf_counter() - started)

    def one(chunk_id):
        started = time.perf_counter()
        try:
            return services.billing_chunk_rate(chunk_id=chunk_id, post_when_done=False)
        finally:
            chunk_s.append(time.perf_counter() - started)
            connection.close()

    rating.rate_chunk, services._analyze_written = timed_rate_chunk, timed_analyze
    try:
        market = Market.objects.get(pk=MARKET)
        started = time.perf_counter()
        run = services.billing_run_start(
            market=market, business_date=market.local_date() - timedelta(days=1),
            trigger=BillingRun.Trigger.COMMAND, enqueue=False,
        )  # fmt: skip
        planned = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(one, list(run.chunks.order_by("seq").values_list("pk", flat=True))))
        rated = time.perf_counter()
        run = services.billing_run_post(run_id=run.pk)
        posted = time.perf_counter()
    finally:
        rating.rate_chunk, services._analyze_written = rate_chunk, analyze
    overhead = sum(chunk_s) - sum(statement_s)
    return [
        f"run {run.pk}: {run.shipments_rated:,} shipments, {len(chunk_s)} chunks on {workers} workers, "
        f"{posted - started:.2f} s end to end",
        f"  plan (billing_run_start)                 {planned - started:.3f} s",
        f"  rate, wall                               {rated - planned:.3f} s",
        f"    chunk statements (rate_chunk), summed  {sum(statement_s):.3f} s",
        f"    per-chunk overhead, summed             {overhead:.3f} s ({overhead / max(1, len(chunk_s)) * 1000:.0f} ms a "
        "chunk: claim, lock, checks, progress row, commit)",
        f"  post (billing_run_post)                  {posted - rated:.3f} s, of which ANALYZE {sum(analyze_s):.3f} s",
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rating_ideas", description=__doc__.split("\n\n")[0])
    parser.add_argument("--prepare", type=int, default=None, help="generate market ZZ with N shipments first")
    parser.add_argument("--chunks", type=int, default=4, help="chunks of the plan to rate per variant (0: all)")
    parser.add_argument("--reps", type=int, default=3, help="runs of each variant (interleaved)")
    parser.add_argument(
        "--only", default="", help="comma-separated idea letters (a-e) to measure, beside before/product"
    )
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of one chunk")
    parser.add_argument("--orchestration", action="store_true", help="time a real run's steps (2 workers)")
    args = parser.parse_args(argv)
    if args.prepare:
        from . import data

        data.prepare(shipments=args.prepare, vendors=20)
    s = setup(chunks=args.chunks or None)
    if not s.ranges:
        print("No shipments of market ZZ to rate: run with --prepare 200000 first.", file=sys.stderr)
        return 1
    if args.explain:
        explain(s)
    results = [v for v in variants(s) if v.idea == "-" or not args.only or v.idea in args.only.split(",")]
    for rep in range(args.reps):
        for variant in results:
            run_once(variant, s, keep_sums=rep == 0)
        print(f"  round {rep + 1} of {args.reps} done", flush=True)
    print("\n".join(report(results, s)))
    if args.orchestration:
        print("\n".join(orchestration(workers=2)))
    different = [v.name for v in results if v.sums and v.writes and not v.narrow and v.sums != results[1].sums]
    if different:
        print("SUMS DIFFER: " + "; ".join(different), file=sys.stderr)
    return 1 if different else 0


if __name__ == "__main__":
    raise SystemExit(main())
