"""Database helpers: retry on serialization failures and deadlocks, COPY of many rows, index drops."""

import functools
import io
import random
import time
from datetime import date, datetime
from decimal import Decimal

from django.db import OperationalError

RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization_failure, deadlock_detected


def _sqlstate(exc: BaseException) -> str | None:
    cause = exc.__cause__ or exc
    return getattr(cause, "pgcode", None)


def retry_on_conflict(func=None, *, attempts: int = 5, base_delay: float = 0.05):
    """Re-run a whole transactional function when PostgreSQL aborts it with 40001/40P01.

    Wrap the outermost (durable) transaction only: retrying inside a transaction cannot work.
    """

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            for attempt in range(1, attempts + 1):
                try:
                    return fn(*args, **kwargs)
                except OperationalError as exc:
                    if _sqlstate(exc) not in RETRYABLE_SQLSTATES or attempt == attempts:
                        raise
                    time.sleep(base_delay * attempt + random.random() * base_delay)
            raise AssertionError("unreachable")

        return wrapper

    return decorator(func) if func else decorator


def drop_indexes_concurrently(indexes: list[tuple[str, str]]) -> list:
    """Migration operations dropping each `(name, "table (columns)")` index CONCURRENTLY (and
    recreating it on the way back), for a migration with `atomic = False`: writes to the table go
    on while it runs."""
    from django.db import migrations

    return [
        migrations.RunSQL(
            sql=f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"',
            reverse_sql=f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON {target}',
        )
        for name, target in indexes
    ]


# --- COPY (text format) --------------------------------------------------------------------------

NULL = "\\N"


def copy_escaped(text: str) -> str:
    """Text in COPY's text format: backslash, tab and line breaks escaped."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def copy_text(value) -> str:
    """One value in COPY's text format."""
    if value is None:
        return NULL
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, float):
        raise TypeError("binary floats are not sent to the database as money")
    return copy_escaped(value.isoformat() if isinstance(value, (date, datetime)) else str(value))


def copy_lines(cursor, table: str, columns: list[str], lines: list[str]) -> None:
    """COPY lines already in text format (each ending in a newline) into `table`'s `columns`.
    `cursor` is Django's: a failure is raised as Django's IntegrityError, DataError..."""
    with cursor.db.wrap_database_errors:
        cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", io.StringIO("".join(lines)))


def copy_rows(cursor, table: str, columns: list[str], rows) -> None:
    """COPY rows (tuples of Python values in `columns`' order) into `table`: the fastest way
    PostgreSQL takes many rows, with every constraint and trigger of an INSERT."""
    texts = [_column_texts(values) for values in zip(*rows, strict=True)]
    copy_lines(cursor, table, columns, ["\t".join(row) + "\n" for row in zip(*texts, strict=True)])


def _column_texts(values: tuple) -> list[str]:
    """The COPY texts of one column's values; a column of one plain kind is spelled in one pass."""
    kinds = set(map(type, values))
    if kinds <= {int, Decimal, date}:
        return list(map(str, values))
    if kinds == {str}:
        joined = "".join(values)
        if "\\" not in joined and "\t" not in joined and "\n" not in joined and "\r" not in joined:
            return list(values)
    spelled = {value: copy_text(value) for value in set(values)}
    return list(map(spelled.__getitem__, values))


# --- Composite keys built without stopping writes ---------------------------------------------------


def unique_key_concurrently(table: str, name: str, columns: str) -> list:
    """Migration operations (`atomic = False`) adding UNIQUE `name` on `table` (`columns`, e.g.
    "id, market_id"): its index built CONCURRENTLY, then taken over by the constraint."""
    from django.db import migrations

    return [
        migrations.RunSQL(
            sql=f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} ({columns})",
            reverse_sql=f"DROP INDEX CONCURRENTLY IF EXISTS {name}",
        ),
        migrations.RunSQL(
            sql=f"ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE USING INDEX {name}",
            reverse_sql=f"ALTER TABLE {table} DROP CONSTRAINT {name}",
        ),
    ]


def foreign_key_validated(table: str, name: str, columns: str, target: str) -> list:
    """Migration operations adding the (composite) foreign key `name` from `table` (`columns`) to
    `target` ("table (columns)"), deferred like Django's: added NOT VALID, so writes go on, then
    validated, which takes a lock that lets them."""
    from django.db import migrations

    return [
        migrations.RunSQL(
            sql=f"""ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({columns}) REFERENCES {target}
                    DEFERRABLE INITIALLY DEFERRED NOT VALID""",
            reverse_sql=f"ALTER TABLE {table} DROP CONSTRAINT {name}",
        ),
        migrations.RunSQL(sql=f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}", reverse_sql=""),
    ]


# --- Statistics after bulk writes -------------------------------------------------------------------


# The statistics target of a refresh after a bulk write (`analyze_written(..., sample=...)`): a
# sample of 300 x 30 = 9,000 rows instead of 30,000. ANALYZE reads its sample at random across the
# whole table, so on a table of millions its cost follows the sample: on 5.2M charge lines, 0.44 s
# at the default 100, 0.18 s at 30 (measured). A night's run or an invoice of 10,000 lines and more
# still shows in such a sample many times over, which is what the refresh is for: the planner
# seeing the new run or invoice, not finer histograms of the old ones (autovacuum keeps those).
WRITTEN_SAMPLE_TARGET = 30


def analyze_written(targets: str, *, sample: int | None = None, wait: bool = False) -> None:
    """ANALYZE `targets` ("table (col, ...), table") after a bulk write: the planner's statistics of
    what was just written, which autovacuum may refresh hours late (or never, when it is off).
    `sample`: a statistics target for this refresh (WRITTEN_SAMPLE_TARGET), smaller than the
    default for key columns of tables of millions; None keeps the server's. The target is set for
    this ANALYZE alone and put back after it, so a caller's transaction keeps its own.

    SKIP_LOCKED: a table that autovacuum (or another session's ANALYZE) is working on right now is
    left to it. Waiting would not wait for it to finish: after deadlock_timeout (1 s) PostgreSQL
    cancels the autovacuum task, so every such ANALYZE cost a second and threw the vacuum's work
    away. Autovacuum is on such a table because its changes passed a threshold, which for analyze
    is the lower one, so it analyzes the table after vacuuming it.

    `wait`: for a caller whose next statement is planned on these statistics and cannot wait for
    autovacuum's analyze (it comes after the vacuum, seconds to minutes later). The ANALYZE waits
    for the lock, which cancels an autovacuum task holding it after deadlock_timeout."""
    from django.db import connection, transaction

    analyze = "ANALYZE" if wait else "ANALYZE (SKIP_LOCKED)"
    with transaction.atomic(), connection.cursor() as cursor:
        if sample is None:
            cursor.execute(f"{analyze} {targets}")
            return
        cursor.execute(
            "SELECT current_setting('default_statistics_target'), set_config('default_statistics_target', %s, true)",
            [str(int(sample))],
        )
        previous = cursor.fetchone()[0]
        cursor.execute(f"{analyze} {targets}")
        cursor.execute("SELECT set_config('default_statistics_target', %s, true)", [previous])
