"""Pages and API lists under load: signed-in users against gunicorn with 2 workers.

Run alone:  python -m bench.pages [--users 20] [--requests 200] [--seconds 30] [--invoice-lines 200000]
            python -m bench.pages --profile   (each page alone, in process: time, queries, slowest SQL)
Or from `make bench`: `from bench import pages; results.update(pages.measure())` after the billing
bench (it reads the billing bench's data: market ZZ, its last run, its sellers and invoices).

Per page, first one user alone (`solo_ms`: the service time, requests one after another), then
`users` users at once (p50/p95). A closed loop of N users without think time on W workers is a
queue: each request waits for the N/W - 1 requests ahead of it on its worker, so p95 is about
N/W x the service time (`predicted_ms`), whatever the page does. Below 200 ms at 20 users on 2
workers therefore needs a service time of about 20 ms. Then the same 20 users as people use pages:
each reads what it got for about THINK_S seconds (0.5-1.5x, seeded) before the next request
(`paced_p95_ms`): what the queue adds when the users are not a saturating closed loop.

For the run it makes what the billing bench does not: a vendor invoice of `--invoice-lines` lines
(the vendor's rated shipments, repeated past their count as duplicates), audited, and a statement
of one benchmark seller over the run's period (figures from the ledger, no invoice issued); both
are deleted again at the end.

Also holds the bench's loopback server (`gunicorn_server`) and bounded load script (`load`): a
request count and a time limit per page, Python threads with one keep-alive connection each,
127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settlement_ops.settings.base")

ROOT = Path(__file__).resolve().parent.parent
# A user's pause between two requests in the paced measurement (seconds, 0.5-1.5x of it at random),
# and its answers per page (a p95 of 60, ~4 s a page: the full bench stays under 20 minutes).
THINK_S = 1.0
PACED_ANSWERS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn_server(*, workers: int = 2):
    """gunicorn serving the project on a loopback port (the current DATABASE_URL, DEBUG off);
    yields its base URL and stops it (SIGTERM to its own process) on exit."""
    port = _free_port()
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="settlement_ops.settings.base", DEBUG="False")
    # The load is one client's, on purpose: keep the per-user API throttle out of the figures.
    env.setdefault("API_THROTTLE_USER", "1000000/minute")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [
            str(gunicorn),
            "settlement_ops.wsgi",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--timeout",
            "300",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/accounts/login/", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def load(*, base: str, path: str, cookies: list[str], requests: int, seconds: float, think_s: float = 0.0) -> dict:
    """Bounded load on one page: len(cookies) users (threads, one keep-alive connection and one
    signed-in session each) request `path` until `requests` answers or `seconds` have passed; with
    `think_s` each user pauses 0.5-1.5x that long after every answer (seeded, so users drift apart).
    Returns {"n", "p50_ms", "p95_ms", "max_ms", "errors"}."""
    import random

    host = urllib.parse.urlsplit(base)
    assert host.hostname == "127.0.0.1", "the load script only talks to loopback"
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    issued = [0]

    def user(number: int, cookie: str):
        pauses = random.Random(number)
        connection = http.client.HTTPConnection(host.hostname, host.port, timeout=max(seconds, 30))
        if think_s:
            time.sleep(pauses.uniform(0, think_s))  # users arrive spread out, not all at once
        while time.monotonic() < deadline:
            with lock:
                if issued[0] >= requests:
                    break
                issued[0] += 1
            started = time.perf_counter()
            try:
                connection.request("GET", path, headers={"Cookie": cookie, "Accept": "text/html,application/json"})
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                connection = http.client.HTTPConnection(host.hostname, host.port, timeout=max(seconds, 30))
                status = repr(exc)
            elapsed = time.perf_counter() - started
            with lock:
                if status == 200:
                    latencies.append(elapsed)
                else:
                    errors.append(str(status))
            if think_s:
                time.sleep(pauses.uniform(0.5, 1.5) * think_s)
        connection.close()

    threads = [threading.Thread(target=user, args=(n, cookie)) for n, cookie in enumerate(cookies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()

    def quantile(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 1) if latencies else 0.0

    return {
        "n": len(latencies),
        "p50_ms": quantile(0.50),
        "p95_ms": quantile(0.95),
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else 0.0,
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
    }


def _session_cookie(user) -> str:
    """A signed-in session for `user`, as the sign-in page would store it."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    # The backend a sign-in stores: the first that loads users (django-axes' comes before it).
    store[BACKEND_SESSION_KEY] = next(path for path in settings.AUTHENTICATION_BACKENDS if "Axes" not in path)
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def _users(count: int, seller_ids: list[int], statement_seller_id: int | None) -> dict[str, list[str]]:
    """Signed-in sessions by who opens a page: `count` finance specialists ("staff"), `count`
    seller users spread over `seller_ids` ("seller") and `count` users of the statement's seller
    ("statement seller")."""
    from django.contrib.auth.models import Group, User

    from sellers.models import SellerUser
    from settlement_ops.roles import Role

    staff_group = Group.objects.get(name=Role.FINANCE_SPECIALIST)
    seller_group = Group.objects.get(name=Role.SELLER_USER)

    def seller_user(name: str, seller_id: int) -> str:
        user, _ = User.objects.get_or_create(username=name)
        user.groups.add(seller_group)
        SellerUser.objects.update_or_create(user=user, defaults={"seller_id": seller_id})
        return _session_cookie(user)

    cookies: dict[str, list[str]] = {"staff": [], "seller": [], "statement seller": []}
    for n in range(count):
        user, _ = User.objects.get_or_create(username=f"bench-pages-staff-{n:02d}")
        user.groups.add(staff_group)
        cookies["staff"].append(_session_cookie(user))
        if seller_ids:
            cookies["seller"].append(seller_user(f"bench-pages-seller-{n:02d}", seller_ids[n % len(seller_ids)]))
        if statement_seller_id:
            cookies["statement seller"].append(seller_user(f"bench-pages-statement-{n:02d}", statement_seller_id))
    return cookies


PAGES_INVOICE = "BENCH-PAGES"
PAGES_USER = "bench-pages"


def _audited_invoice(lines: int, *, reuse: bool = False):
    """A vendor invoice of `lines` lines for the invoice audit page: every rated shipment of one
    benchmark vendor (market ZZ), repeated past their count (the repeats are duplicates the audit
    flags, as in a carrier file that bills a shipment twice), audited. Deleted again at the end
    (`_drop_invoice`); `reuse` keeps one an earlier `--keep` run left. None without charge lines."""
    from datetime import date

    from django.db import connection, transaction

    from bench import MARKET
    from bench.payables_audit import _invoice_lines_sql
    from billing.models import ChargeLine
    from billing.payables.models import VendorInvoice, VendorInvoiceLine
    from billing.payables.services.audit import invoice_audit
    from vendors.models import Vendor

    if reuse:
        kept = VendorInvoice.objects.filter(number=PAGES_INVOICE, line_count=lines).first()
        if kept is not None:
            return kept
    _drop_invoice()
    line = ChargeLine.objects.filter(market_id=MARKET).order_by("-run_id").only("vendor_id").first()
    if line is None:
        return None
    vendor = Vendor.objects.select_related("market").get(pk=line.vendor_id)
    table = VendorInvoiceLine._meta.db_table
    copied = ", ".join(
        f.column for f in VendorInvoiceLine._meta.concrete_fields if f.column not in ("id", "invoice_id", "line_no")
    )
    with transaction.atomic():
        invoice = VendorInvoice.objects.create(
            vendor=vendor,
            market_id=MARKET,
            number=PAGES_INVOICE,
            invoice_date=date.today(),
            currency=vendor.market.currency,
        )
        with connection.cursor() as cursor:
            cursor.execute(_invoice_lines_sql(invoice.pk, vendor.pk))
            count = first = cursor.rowcount
            if count > lines:  # a vendor with more rated shipments than the invoice holds: its first ones
                # (line numbers are file rows: the first line is row 2, after the header)
                cursor.execute(f"DELETE FROM {table} WHERE invoice_id = %s AND line_no > %s", [invoice.pk, lines + 1])
                count = first = lines
            cursor.execute(f"SELECT COALESCE(MAX(line_no), 0) FROM {table} WHERE invoice_id = %s", [invoice.pk])
            last_original = last = cursor.fetchone()[0]
            while first and count < lines:
                cursor.execute(
                    f"INSERT INTO {table} (invoice_id, line_no, {copied}) SELECT invoice_id, line_no + %s, {copied} "
                    f"FROM {table} WHERE invoice_id = %s AND line_no <= %s ORDER BY line_no LIMIT %s",
                    [last, invoice.pk, last_original, min(first, lines - count)],
                )
                count += cursor.rowcount
                last += last_original
            cursor.execute(f"ANALYZE {table}")
        VendorInvoice.objects.filter(pk=invoice.pk).update(line_count=count)
    invoice = invoice_audit(invoice_id=invoice.pk)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")  # the flags and decisions the audit wrote
    return invoice


def _drop_invoice() -> None:
    from django.db import connection

    from billing.payables.models import VendorInvoice, VendorInvoiceLine

    if VendorInvoice.objects.filter(number=PAGES_INVOICE).delete()[0]:
        # Reclaim the deleted lines now (autovacuum may be behind): every run starts the same.
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM {VendorInvoiceLine._meta.db_table}")


def _bench_statement(run, *, reuse: bool = False):
    """A statement of account of the run's seller with the most charge lines, over the four weeks
    up to the run's business date: its figures from the ledger (as `statements_generate` takes
    them), but no invoice issued, so nothing is posted and `_drop_statement` can delete it."""
    from datetime import timedelta

    from django.contrib.auth.models import User
    from django.db.models import Sum

    from billing.models import ChargeLineTotal
    from billing.receivables.models import Statement
    from billing.receivables.services import statement_figures

    if reuse:
        kept = Statement.objects.filter(created_by__username=PAGES_USER).order_by("-id").first()
        if kept is not None:
            return kept
    _drop_statement()
    top = (
        ChargeLineTotal.objects.filter(run=run)
        .values("seller_id")
        .annotate(n=Sum("line_count"))
        .order_by("-n", "seller_id")
        .first()
    )
    if top is None:
        return None
    seller_id, end = top["seller_id"], run.business_date
    start = end - timedelta(days=27)
    existing = Statement.objects.filter(seller_id=seller_id, period_start=start, period_end=end).first()
    if existing is not None:  # one the services wrote: show it as it is
        return existing
    figures = statement_figures(market=run.market, period_start=start, period_end=end, seller_ids=[seller_id])
    row = figures.get(seller_id, {})
    author, _ = User.objects.get_or_create(username=PAGES_USER)
    return Statement.objects.create(
        market=run.market,
        seller_id=seller_id,
        period_start=start,
        period_end=end,
        currency=run.currency,
        opening_balance=row.get("opening", 0),
        charges_total=row.get("charges", 0),
        credits_total=row.get("credits", 0),
        payments_total=row.get("payments", 0),
        adjustments_total=row.get("adjustments", 0),
        closing_balance=row.get("closing", 0),
        created_by=author,
    )


def _drop_statement() -> None:
    from billing.receivables.models import Statement

    Statement.objects.filter(created_by__username=PAGES_USER, invoices__isnull=True).delete()


def _run():
    from billing.models import BillingRun

    return BillingRun.objects.filter(status="completed").order_by("-shipments_rated", "-id").first()


def _targets(run, statement) -> tuple[list[tuple[str, str, str]], list[int], int | None, list[str]]:
    """(name, path, who) of each page with data behind it, the sellers for portal users, the
    statement's seller, and the pages left out for lack of data."""
    from django.db.models import Count

    from billing.payables.models import VendorInvoice
    from billing.receivables.models import Statement
    from sellers.models import Seller

    pages, missing = [], []
    if run:
        pages.append(("run detail", f"/billing/runs/{run.pk}/", "staff"))
    else:
        missing.append("run detail (no completed billing run)")
    invoice = VendorInvoice.objects.filter(number=PAGES_INVOICE).first() or (
        VendorInvoice.objects.annotate(n=Count("lines")).order_by("-n", "-id").first()
    )
    if invoice:
        pages.append(("invoice audit", f"/payables/invoices/{invoice.pk}/", "staff"))
        pages.append(("vendor statement", f"/payables/vendors/{invoice.vendor_id}/statement/", "staff"))
    else:
        missing.append("invoice audit and vendor statement (no vendor invoice)")
    statement = statement or Statement.objects.order_by("-id").first()
    statement_seller = None
    if statement:
        statement_seller = statement.seller_id
        pages.append(("seller statement", f"/receivables/statements/{statement.pk}/", "staff"))
        pages.append(("portal statement", f"/portal/statements/{statement.pk}/", "statement seller"))
    else:
        missing.append("seller statement (no statement)")
    sellers = Seller.objects.filter(market_id=run.market_id) if run else Seller.objects.all()
    seller_ids = list(sellers.order_by("id").values_list("id", flat=True)[:20])
    if seller_ids:
        pages.append(("portal home", "/portal/", "seller"))
    else:
        missing.append("portal home (no seller)")
    pages.append(("API shipments", "/api/shipments/", "staff"))
    pages.append(("API billing runs", "/api/billing-runs/", "staff"))
    if run:
        pages.append(("API charge lines of the run", f"/api/charge-lines/?run={run.pk}", "staff"))
    pages.append(("API vendor invoices", "/api/vendor-invoices/", "staff"))
    pages.append(("API seller invoices", "/api/receivables/invoices/", "staff"))
    pages.append(("API schema", "/api/schema/", "staff"))
    return pages, seller_ids, statement_seller, missing


def _prepare(*, users: int, invoice_lines: int, reuse: bool = False):
    """The invoice and statement of this run, the pages and signed-in users: (pages, cookies,
    missing, invoice)."""
    run = _run()
    invoice = _audited_invoice(invoice_lines, reuse=reuse)
    statement = _bench_statement(run, reuse=reuse) if run else None
    pages, seller_ids, statement_seller, missing = _targets(run, statement)
    cookies = _users(users, seller_ids, statement_seller)
    return pages, cookies, missing, invoice


def _cleanup() -> None:
    _drop_invoice()
    _drop_statement()


WORKERS = 2


def measure(
    *,
    users: int = 20,
    requests: int = 200,
    seconds: float = 30.0,
    solo_requests: int = 20,
    invoice_lines: int = 200_000,
    keep: bool = False,
) -> dict:
    """Every page and API list on gunicorn (2 workers): first one user alone (`solo_requests`
    answers: the service time), then `users` concurrent signed-in users (`requests` answers or
    `seconds` per page); returns p50/p95 per page, the service time, the p95 the queue predicts
    (users / workers x service time) and the slowest page. `keep`: as for `profile`."""
    import django

    django.setup()
    from django.db import connection

    from billing.models import ChargeLine, Shipment
    from sellers.models import Seller

    try:
        pages, cookies, missing, invoice = _prepare(users=users, invoice_lines=invoice_lines, reuse=keep)
        connection.close()
        per_page = {}
        with gunicorn_server(workers=WORKERS) as base:
            for name, path, who in pages:
                page_cookies = cookies[who]
                # One warm-up request per worker (first imports, the schema's one build), not counted.
                load(base=base, path=path, cookies=page_cookies[:2], requests=2, seconds=120)
                solo = load(base=base, path=path, cookies=page_cookies[:1], requests=solo_requests, seconds=seconds)
                loaded = load(base=base, path=path, cookies=page_cookies, requests=requests, seconds=seconds)
                paced = load(
                    base=base,
                    path=path,
                    cookies=page_cookies,
                    requests=min(requests, PACED_ANSWERS),
                    seconds=seconds,
                    think_s=THINK_S,
                )
                per_page[name] = {
                    "path": path,
                    **loaded,
                    "errors": loaded["errors"] + solo["errors"] + paced["errors"],
                    "first_error": loaded["first_error"] or solo["first_error"] or paced["first_error"],
                    "paced_n": paced["n"],
                    "paced_p95_ms": paced["p95_ms"],
                    "solo_ms": solo["p50_ms"],
                    "predicted_ms": round(len(page_cookies) / WORKERS * solo["p50_ms"], 1),
                }
        invoice_lines = invoice.line_count if invoice else 0
    finally:
        if not keep:
            _cleanup()
    slowest = max(per_page, key=lambda n: per_page[n]["p95_ms"]) if per_page else ""
    slowest_solo = max(per_page, key=lambda n: per_page[n]["solo_ms"]) if per_page else ""
    slowest_paced = max(per_page, key=lambda n: per_page[n]["paced_p95_ms"]) if per_page else ""
    return {
        "pages_users": users,
        "pages_workers": WORKERS,
        "pages_shipments": Shipment.objects.count(),
        "pages_sellers": Seller.objects.count(),
        "pages_charge_lines": ChargeLine.objects.count(),
        "pages_invoice_lines": invoice_lines,
        "pages_p95_ms": per_page[slowest]["p95_ms"] if slowest else 0,
        "pages_slowest": slowest,
        "pages_solo_ms": per_page[slowest_solo]["solo_ms"] if slowest_solo else 0,
        "pages_slowest_solo": slowest_solo,
        "pages_think_s": THINK_S,
        "pages_paced_p95_ms": per_page[slowest_paced]["paced_p95_ms"] if slowest_paced else 0,
        "pages_slowest_paced": slowest_paced,
        "pages_errors": sum(p["errors"] for p in per_page.values()),
        "pages_missing": missing,
        "pages": per_page,
    }


def profile(*, repeat: int = 5, invoice_lines: int = 200_000, keep: bool = False) -> dict:
    """Each page alone, in process through Django's test client (no HTTP, no gunicorn): the
    median server time of `repeat` requests after a warm-up, the queries of the last one, their
    time, and the slowest three. For finding what a page spends its time on. `keep` leaves the
    invoice and statement for the next `keep` run (and reuses them)."""
    import statistics

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    results = {}
    try:
        pages, cookies, missing, _ = _prepare(users=1, invoice_lines=invoice_lines, reuse=keep)
        for name, path, who in pages:
            client = Client(HTTP_HOST="127.0.0.1", HTTP_ACCEPT="text/html,application/json")
            key, value = cookies[who][0].split("=", 1)
            client.cookies[key] = value
            client.get(path)
            times, cpu = [], []
            for _ in range(repeat):
                with CaptureQueriesContext(connection) as captured:
                    started, started_cpu = time.perf_counter(), time.process_time()
                    response = client.get(path)
                    times.append(time.perf_counter() - started)
                    cpu.append(time.process_time() - started_cpu)
                assert response.status_code == 200, (path, response.status_code)
            queries = captured.captured_queries
            results[name] = {
                "path": path,
                "ms": round(statistics.median(times) * 1000, 1),
                # This process's own CPU time: what the page costs a worker, less noisy than the
                # wall time on a busy machine.
                "cpu_ms": round(statistics.median(cpu) * 1000, 1),
                "queries": len(queries),
                "sql_ms": round(sum(float(q["time"]) for q in queries) * 1000, 1),
                "bytes": len(response.content),
                "slowest": [
                    (round(float(q["time"]) * 1000, 1), " ".join(q["sql"].split())[:220])
                    for q in sorted(queries, key=lambda q: -float(q["time"]))[:3]
                ],
            }
    finally:
        if not keep:
            _cleanup()
    return {"profile": results, "pages_missing": missing}


def report_lines(r: dict) -> list[str]:
    lines = [
        f"  {'page':<30}{'1 user':>8}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'N/W x 1 user':>14}"
        f"{'paced p95':>11}{'errors':>8}"
    ]
    for name, p in r["pages"].items():
        lines.append(
            f"  {name:<30}{p['solo_ms']:>8}{p['n']:>6}{p['p50_ms']:>9}{p['p95_ms']:>9}{p['max_ms']:>9}"
            f"{p['predicted_ms']:>14}{p.get('paced_p95_ms', ''):>11}{p['errors']:>8}"
        )
    lines.append(
        f"  {r['pages_users']} users on {r['pages_workers']} workers, {r['pages_shipments']:,} shipments, "
        f"{r['pages_sellers']:,} sellers, {r['pages_charge_lines']:,} charge lines, an invoice of "
        f"{r['pages_invoice_lines']:,} lines: slowest p95 {r['pages_p95_ms']} ms ({r['pages_slowest']}; goal < 200 ms); "
        f"slowest alone {r['pages_solo_ms']} ms ({r['pages_slowest_solo']})"
    )
    if "pages_paced_p95_ms" in r:
        lines.append(
            f"  paced ({r['pages_users']} users, each pausing ~{r['pages_think_s']:g} s between requests): slowest p95 "
            f"{r['pages_paced_p95_ms']} ms ({r['pages_slowest_paced']})"
        )
    for item in r["pages_missing"]:
        lines.append(f"  left out: {item}")
    return lines


def profile_lines(r: dict) -> list[str]:
    lines = [f"  {'page':<30}{'ms':>8}{'CPU ms':>8}{'queries':>9}{'SQL ms':>9}{'KB':>7}"]
    for name, p in r["profile"].items():
        lines.append(
            f"  {name:<30}{p['ms']:>8}{p['cpu_ms']:>8}{p['queries']:>9}{p['sql_ms']:>9}{p['bytes'] // 1024:>7}"
        )
        for ms, sql in p["slowest"]:
            lines.append(f"      {ms:>7} ms  {sql}")
    for item in r["pages_missing"]:
        lines.append(f"  left out: {item}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pages")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200, help="answers per page under load")
    parser.add_argument("--seconds", type=float, default=30.0, help="time limit per page")
    parser.add_argument("--solo-requests", type=int, default=20, help="answers per page for one user alone")
    parser.add_argument("--invoice-lines", type=int, default=200_000, help="lines of the audited vendor invoice")
    parser.add_argument("--profile", action="store_true", help="each page alone in process: time, queries, SQL")
    parser.add_argument("--keep", action="store_true", help="keep the invoice and statement for the next run")
    args = parser.parse_args(argv)
    from bench import open_own_database

    open_own_database()
    if args.profile:
        for line in profile_lines(profile(invoice_lines=args.invoice_lines, keep=args.keep)):
            print(line)
        return 0
    result = measure(
        users=args.users,
        requests=args.requests,
        seconds=args.seconds,
        solo_requests=args.solo_requests,
        invoice_lines=args.invoice_lines,
        keep=args.keep,
    )
    for line in report_lines(result):
        print(line)
    for key, value in result.items():
        if not isinstance(value, dict):
            print(f"{key}={value}")
    return 0 if not result["pages_errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
