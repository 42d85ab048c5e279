"""Shipment intake over HTTP against COPY of the same rows.

Run alone:  python -m bench.intake [--shipments 200000] [--batch 5000] [--clients 2]
Or from `make bench`: `from bench import intake; results.update(intake.measure(shipments=N))`.

1. Data: market "ZI" (inactive, GBP) of its own with 10 vendors and 200 sellers (ORM, once); its
   earlier shipments are deleted first. The records are built in Python as JSON bodies of
   `--batch` records before the clock starts (what an integration sends).
2. Intake: gunicorn with 2 workers on a loopback port (settlement_ops.settings.base, DEBUG off);
   `--clients` threads POST the batches to /api/shipments/bulk/ with an integration token and an
   Idempotency-Key each, from the first request to the last response (`intake_shipments_per_s`).
   Every response must accept its whole batch.
3. Floor: the same rows COPYed (text format, one COPY per batch, in one session) into a table
   `LIKE` the shipment table INCLUDING ALL (its indexes and constraints), so the floor pays for
   the same index maintenance (`intake_copy_per_s`, `intake_vs_copy_ratio` = intake / COPY time).
4. Check: the shipment table holds each record once (`intake_stored_once`), and a replay of the
   first batch with its key creates nothing.
5. Where a request's time goes: the mean client-side time of a request (`intake_request_ms`) and
   the server's phases from each response's Server-Timing header (`intake_parse_ms`: JSON parse,
   `intake_validate_ms`, `intake_write_ms`: COPY/INSERT with index maintenance, `intake_commit_ms`:
   the deferred foreign-key checks and the commit, `intake_analyze_ms`: ANALYZE after a tenth of the
   table was written, averaged over all requests); the rest is HTTP, authentication, the
   idempotency record and the response.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import threading
import time
import urllib.request
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settlement_ops.settings.base")

MARKET = "ZI"
VENDORS = 10
SELLERS = 200
SERVICES = ["standard", "express"]
ZONES = ["Z1", "Z2", "Z3", "Z4", "Z5"]
D = Decimal


def _masters():
    """Market ZI, its vendors and sellers, and an integration user with a token (ORM, idempotent)."""
    from django.contrib.auth.models import Group, User
    from rest_framework.authtoken.models import Token

    from sellers.models import Seller
    from settlement_ops.models import Market
    from settlement_ops.roles import Role
    from vendors.models import Vendor

    market, _ = Market.objects.get_or_create(
        code=MARKET,
        defaults=dict(
            name="Intake benchmark",
            currency="GBP",
            vat_standard_rate=D("20.00"),
            timezone="UTC",
            language="en",
            invoice_prefix="ZI",
            is_active=False,
        ),
    )
    vendors = [
        Vendor.objects.get_or_create(
            code=f"V-ZI-{n:02d}",
            defaults=dict(market=market, legal_name=f"Intake Carrier {n}", vendor_type=Vendor.Type.LAST_MILE),
        )[0].code
        for n in range(VENDORS)
    ]
    existing = set(Seller.objects.filter(market=market).values_list("code", flat=True))
    Seller.objects.bulk_create(
        [
            Seller(code=f"S-ZI-{n:04d}", market=market, name=f"Intake Seller {n}", legal_name=f"Intake Seller {n} Ltd")
            for n in range(SELLERS)
            if f"S-ZI-{n:04d}" not in existing
        ]
    )
    sellers = [f"S-ZI-{n:04d}" for n in range(SELLERS)]
    user, _ = User.objects.get_or_create(username="bench-intake")
    user.groups.add(Group.objects.get(name=Role.INTEGRATION))
    token, _ = Token.objects.get_or_create(user=user)
    return market, vendors, sellers, token.key


def _reset() -> None:
    from django.db import connection

    from billing.models import Shipment, ShipmentEvent
    from settlement_ops.models import IdempotencyRecord

    shipment, event = Shipment._meta.db_table, ShipmentEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {event} WHERE shipment_id IN (SELECT id FROM {shipment} WHERE market_id = %s)", [MARKET]
        )
        cursor.execute(f"DELETE FROM {shipment} WHERE market_id = %s", [MARKET])
        if cursor.rowcount:
            # Clear the dead rows so that each run writes into the same table (autovacuum may be
            # off or late; the floor's table is new each run).
            cursor.execute(f"VACUUM {shipment}, {event}")
    IdempotencyRecord.objects.filter(key__startswith="bench-intake-").delete()


def _records(n: int, vendors, sellers, *, run: str) -> list[dict]:
    ship_date = date.today() - timedelta(days=2)
    return [
        {
            "tracking_number": f"ZI{run}{i:09d}",
            "vendor": vendors[i % len(vendors)],
            "seller": sellers[(i * 7) % len(sellers)],
            "service": SERVICES[i % 2],
            "origin_zone": ZONES[i % 5],
            "destination_zone": ZONES[(i // 5) % 5],
            "actual_weight_kg": f"{(i % 300 + 1) / 100:.3f}",
            "length_cm": f"{10 + i % 40}.0",
            "width_cm": "20.0",
            "height_cm": "10.0",
            "cod_amount": "12.50" if i % 9 == 0 else "0",
            "ship_date": ship_date.isoformat(),
            "events": [{"status": "picked_up", "at": f"{ship_date.isoformat()}T09:{i % 60:02d}:00Z"}],
        }
        for i in range(n)
    ]


def _server_timing(header: str | None) -> dict:
    """`parse;dur=12.3, validate;dur=40.1` -> {"parse": 12.3, "validate": 40.1} (ms)."""
    phases = {}
    for part in (header or "").split(","):
        name, _, duration = part.strip().partition(";dur=")
        if name and duration:
            phases[name] = float(duration)
    return phases


def _post(url: str, body: bytes, token: str, key: str, timings: list | None = None) -> dict:
    started = time.perf_counter()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}", "Idempotency-Key": key},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        answer = json.loads(response.read())
        if timings is not None:
            phases = _server_timing(response.headers.get("Server-Timing"))
            timings.append({"request": (time.perf_counter() - started) * 1000, **phases})
        return answer


def _copy_floor(batches: list[list[dict]], vendor_ids: dict, seller_ids: dict) -> float:
    """The same rows COPYed into a table LIKE the shipment table (its indexes and constraints)."""
    from django.db import connection

    from billing.models import Shipment

    columns = [
        "market_id",
        "vendor_id",
        "seller_id",
        "tracking_number",
        "service_level",
        "origin_zone",
        "destination_zone",
        "actual_weight_kg",
        "length_cm",
        "width_cm",
        "height_cm",
        "cod_amount",
        "ship_date",
        "status",
        "is_return",
        "revision",
        "created_at",
        "updated_at",
    ]
    bodies = []
    now = "2026-01-01 00:00:00+00"
    for batch in batches:
        out = io.StringIO()
        for r in batch:
            row = [
                MARKET,
                str(vendor_ids[r["vendor"]]),
                str(seller_ids[r["seller"]]),
                r["tracking_number"],
                r["service"],
                r["origin_zone"],
                r["destination_zone"],
                r["actual_weight_kg"],
                r["length_cm"],
                r["width_cm"],
                r["height_cm"],
                r["cod_amount"],
                r["ship_date"],
                "picked_up",
                "f",
                "1",
                now,
                now,
            ]
            out.write("\t".join(row) + "\n")
        bodies.append(out.getvalue())
    table = Shipment._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_intake_floor")
        cursor.execute(f"CREATE TABLE bench_intake_floor (LIKE {table} INCLUDING ALL)")
        started = time.perf_counter()
        for body in bodies:
            cursor.copy_expert(f"COPY bench_intake_floor ({', '.join(columns)}) FROM STDIN", io.StringIO(body))
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_intake_floor")
    return seconds


def measure(*, shipments: int = 200_000, batch: int = 5_000, clients: int = 2) -> dict:
    """Time intake over HTTP (gunicorn, 2 workers) against COPY of the same rows; returns the figures."""
    import django

    django.setup()
    from billing.models import Shipment
    from sellers.models import Seller
    from vendors.models import Vendor

    from .pages import gunicorn_server

    _market, vendors, sellers, token = _masters()
    _reset()
    run = str(int(time.time()) % 100000).zfill(5)
    records = _records(shipments, vendors, sellers, run=run)
    batches = [records[i : i + batch] for i in range(0, len(records), batch)]
    bodies = [json.dumps(b).encode() for b in batches]
    results: list = [None] * len(bodies)
    errors: list = []
    timings: list = []
    with gunicorn_server() as base_url:
        url = f"{base_url}/api/shipments/bulk/"
        # One small warm-up request per worker (imports, connections), not timed.
        for n in range(2):
            _post(
                url, json.dumps(_records(1, vendors, sellers, run=f"W{n}")).encode(), token, f"bench-intake-w{run}{n}"
            )
        next_batch = iter(range(len(bodies)))
        lock = threading.Lock()

        def client():
            while True:
                with lock:
                    index = next(next_batch, None)
                if index is None:
                    return
                try:
                    results[index] = _post(url, bodies[index], token, f"bench-intake-{run}-{index}", timings)
                except Exception as exc:  # noqa: BLE001 - reported below
                    errors.append(f"batch {index}: {exc}")

        threads = [threading.Thread(target=client) for _ in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        replay = _post(url, bodies[0], token, f"bench-intake-{run}-0")
    accepted = sum(r["accepted"] for r in results if r)
    created = sum(r["created"] for r in results if r)
    stored = Shipment.objects.filter(market_id=MARKET, tracking_number__startswith=f"ZI{run}").count()
    vendor_ids = dict(Vendor.objects.filter(code__in=vendors).values_list("code", "id"))
    seller_ids = dict(Seller.objects.filter(code__in=sellers).values_list("code", "id"))
    copy_seconds = _copy_floor(batches, vendor_ids, seller_ids)
    _reset()
    phases = ("request", "parse", "validate", "write", "commit", "analyze")
    mean_ms = {p: round(sum(t.get(p, 0.0) for t in timings) / len(timings), 1) if timings else 0.0 for p in phases}
    return {
        "intake_shipments": shipments,
        "intake_batch": batch,
        "intake_clients": clients,
        "intake_s": round(seconds, 3),
        "intake_shipments_per_s": round(shipments / seconds) if seconds else 0,
        "intake_copy_s": round(copy_seconds, 3),
        "intake_copy_per_s": round(shipments / copy_seconds) if copy_seconds else 0,
        "intake_vs_copy_ratio": round(seconds / copy_seconds, 2) if copy_seconds else 0,
        "intake_stored_once": not errors and accepted == created == stored == shipments and replay == results[0],
        "intake_errors": errors[:3],
        **{f"intake_{phase}_ms": ms for phase, ms in mean_ms.items()},
    }


def report_lines(r: dict) -> list[str]:
    server = ("intake_parse_ms", "intake_validate_ms", "intake_write_ms", "intake_commit_ms", "intake_analyze_ms")
    rest = r["intake_request_ms"] - sum(r[key] for key in server)
    return [
        f"  intake over HTTP: {r['intake_shipments']:,} shipments in {r['intake_s']:.2f}s = "
        f"{r['intake_shipments_per_s']:,}/s ({r['intake_batch']:,} per request, {r['intake_clients']} clients, "
        f"gunicorn 2 workers; goal >= 20,000/s)",
        f"  COPY of the same rows into a table like the shipment table: {r['intake_copy_s']:.2f}s = "
        f"{r['intake_copy_per_s']:,}/s; intake / COPY = {r['intake_vs_copy_ratio']}x (goal <= 5)",
        f"  stored once, replay identical: {r['intake_stored_once']}"
        + (f"  errors: {r['intake_errors']}" if r["intake_errors"] else ""),
        f"  a request (mean, client side): {r['intake_request_ms']:.0f} ms; in the server: parse "
        f"{r['intake_parse_ms']:.0f}, validate {r['intake_validate_ms']:.0f}, write {r['intake_write_ms']:.0f}, "
        f"commit (deferred FK checks) {r['intake_commit_ms']:.0f}, "
        f"ANALYZE after growth {r['intake_analyze_ms']:.0f} ms; the rest {rest:.0f} ms "
        f"(HTTP, sign-in, idempotency record, response; {r['intake_clients']} requests at a time)",
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.intake")
    parser.add_argument("--shipments", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args(argv)
    from bench import open_own_database

    open_own_database()
    result = measure(shipments=args.shipments, batch=args.batch, clients=args.clients)
    for line in report_lines(result):
        print(line)
    for key, value in result.items():
        print(f"{key}={value}")
    return 0 if result["intake_stored_once"] else 1


if __name__ == "__main__":
    sys.exit(main())
