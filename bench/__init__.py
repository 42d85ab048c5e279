"""`make bench`: times a full billing run against a one-statement SQL floor (see __main__)."""

MARKET = "ZZ"
# Every market the bench writes (billing ZZ, ar ZA, compensation ZC, desk ZD, seller_health ZH,
# intake ZI): inactive, and nothing but the bench's own rows.
BENCH_MARKETS = ["ZZ", "ZA", "ZC", "ZD", "ZH", "ZI"]
SERVICES = ["standard", "express"]
ZONES = ["Z1", "Z2", "Z3", "Z4", "Z5"]
SELLERS = 200


def use_own_database(*, quick: bool = False) -> str:
    """Point this process, and the servers and workers it starts, at the bench's own database on
    the configured server (DATABASE_URL, else the embedded one): `<name>_bench`, or
    `<name>_bench_quick` for QUICK. Created when missing; `migrate` it after django.setup().

    Bench data then never mixes with the demo's or yours, and QUICK's tenth of the volume never
    starts from a full run's rows (it took 210 s after a full run instead of 96 s: deleting and
    re-reading a full run's tickets, invoices and shipments). BENCH_DATABASE_URL names another.
    Call before django.setup(); returns the URL."""
    import os
    import urllib.parse

    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        from settlement_ops import embedded_db

        base = os.environ.get("DATABASE_URL") or embedded_db.start()
        parts = urllib.parse.urlsplit(base)
        # The bench's own name, once: a second call in the same process finds it set already.
        name = (parts.path.lstrip("/") or "settlement").removesuffix("_bench_quick").removesuffix("_bench")
        url = urllib.parse.urlunsplit(parts._replace(path=f"/{name}_bench{'_quick' if quick else ''}"))
    _create_database(url)
    os.environ["DATABASE_URL"] = url
    return url


def _create_database(url: str) -> None:
    import urllib.parse

    import psycopg2
    from psycopg2 import sql

    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    connection = psycopg2.connect(
        dbname="postgres",
        user=urllib.parse.unquote(parts.username or "") or None,
        password=urllib.parse.unquote(parts.password or "") or None,
        host=query.get("host") or parts.hostname or None,
        port=parts.port,
    )
    connection.autocommit = True
    name = urllib.parse.unquote(parts.path.lstrip("/"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    connection.close()


def open_own_database(*, quick: bool = False) -> None:
    """use_own_database, then Django set up on it and its schema migrated (a no-op when current)."""
    use_own_database(quick=quick)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


# Tables past autovacuum's default thresholds (dead rows, inserts since the last vacuum, rows
# changed since the last analyze): what autovacuum would pick up next.
DUE_FOR_AUTOVACUUM_SQL = """
    SELECT format('%I.%I', s.schemaname, s.relname)
    FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
    WHERE s.n_dead_tup > 50 + 0.2 * GREATEST(c.reltuples, 0)
       OR s.n_ins_since_vacuum > 1000 + 0.2 * GREATEST(c.reltuples, 0)
       OR s.n_mod_since_analyze > 50 + 0.1 * GREATEST(c.reltuples, 0)
    ORDER BY 1
"""


def settle() -> list[str]:
    """Do now the maintenance that earlier writes call for, before a timed step: VACUUM (ANALYZE)
    each table autovacuum would pick up next, then a CHECKPOINT. Otherwise an autovacuum of the
    last section's million rows, or the checkpoint they call for, falls due inside the next timed
    step and takes one of the two cores from it (a night's run measured 2.8 s alone and 3.7 s
    beside history, varying from run to run). Returns the tables vacuumed."""
    import contextlib

    from django.db import DatabaseError, connection

    with connection.cursor() as cursor:
        cursor.execute(DUE_FOR_AUTOVACUUM_SQL)
        tables = [row[0] for row in cursor.fetchall()]
        for table in tables:
            # SKIP_LOCKED: a table another session holds is left to autovacuum.
            cursor.execute(f"VACUUM (ANALYZE, SKIP_LOCKED) {table}")
        # Not allowed for every role: the figures are then noisier, not wrong.
        with contextlib.suppress(DatabaseError):
            cursor.execute("CHECKPOINT")
    return tables
