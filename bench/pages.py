"""Pages and API lists under load: signed-in users against gunicorn with 2 workers.

Run alone:  python -m bench.pages [--users 20] [--requests 100] [--seconds 30]
Or from `make bench`: `from bench import pages; results.update(pages.measure())` after the billing
bench (it reads the billing bench's data: market ZZ, its last run, its sellers and invoices).

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


def load(*, base: str, path: str, cookies: list[str], requests: int, seconds: float) -> dict:
    """Bounded load on one page: len(cookies) users (threads, one keep-alive connection and one
    signed-in session each) request `path` until `requests` answers or `seconds` have passed.
    Returns {"n", "p50_ms", "p95_ms", "max_ms", "errors"}."""
    host = urllib.parse.urlsplit(base)
    assert host.hostname == "127.0.0.1", "the load script only talks to loopback"
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    issued = [0]

    def user(cookie: str):
        connection = http.client.HTTPConnection(host.hostname, host.port, timeout=max(seconds, 30))
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
        connection.close()

    threads = [threading.Thread(target=user, args=(cookie,)) for cookie in cookies]
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
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def _users(count: int, seller_ids: list[int]) -> tuple[list[str], list[str]]:
    """`count` finance specialists and `count` seller users (of the given sellers), signed in."""
    from django.contrib.auth.models import Group, User

    from sellers.models import SellerUser
    from settlement_ops.roles import Role

    staff_group = Group.objects.get(name=Role.FINANCE_SPECIALIST)
    seller_group = Group.objects.get(name=Role.SELLER_USER)
    staff, sellers = [], []
    for n in range(count):
        user, _ = User.objects.get_or_create(username=f"bench-pages-staff-{n:02d}")
        user.groups.add(staff_group)
        staff.append(_session_cookie(user))
        seller_user, _ = User.objects.get_or_create(username=f"bench-pages-seller-{n:02d}")
        seller_user.groups.add(seller_group)
        SellerUser.objects.update_or_create(user=seller_user, defaults={"seller_id": seller_ids[n % len(seller_ids)]})
        sellers.append(_session_cookie(seller_user))
    return staff, sellers


PAGES_INVOICE = "BENCH-PAGES"


def _audited_invoice():
    """A vendor invoice billing every charge line of one benchmark vendor (market ZZ), audited, for
    the invoice audit page; deleted again at the end (`_drop_invoice`). None without charge lines."""
    from datetime import date

    from django.db import connection, transaction

    from bench import MARKET
    from bench.payables_audit import _invoice_lines_sql
    from billing.models import ChargeLine
    from billing.payables.models import VendorInvoice
    from billing.payables.services.audit import invoice_audit
    from vendors.models import Vendor

    _drop_invoice()
    line = ChargeLine.objects.filter(market_id=MARKET).order_by("-run_id").only("vendor_id").first()
    if line is None:
        return None
    vendor = Vendor.objects.select_related("market").get(pk=line.vendor_id)
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
            VendorInvoice.objects.filter(pk=invoice.pk).update(line_count=cursor.rowcount)
    return invoice_audit(invoice_id=invoice.pk)


def _drop_invoice() -> None:
    from billing.payables.models import VendorInvoice

    VendorInvoice.objects.filter(number=PAGES_INVOICE).delete()


def _targets() -> tuple[list[tuple[str, str, str]], list[int], list[str]]:
    """(name, path, who) of each page with data behind it, the sellers for portal users, and the
    pages left out for lack of data."""
    from django.db.models import Count

    from billing.models import BillingRun
    from billing.payables.models import VendorInvoice
    from billing.receivables.models import Statement
    from sellers.models import Seller

    pages, missing = [], []
    run = BillingRun.objects.filter(status="completed").order_by("-shipments_rated", "-id").first()
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
    statement = Statement.objects.order_by("-id").first()
    if statement:
        pages.append(("seller statement", f"/receivables/statements/{statement.pk}/", "staff"))
        seller_ids = [statement.seller_id]
    else:
        missing.append("seller statement (no statement)")
        seller_ids = []
    if run:
        seller_ids += list(
            Seller.objects.filter(market_id=run.market_id).order_by("id").values_list("id", flat=True)[:20]
        )
    if not seller_ids:
        seller_ids = list(Seller.objects.order_by("id").values_list("id", flat=True)[:20])
    pages.append(("portal home", "/portal/", "seller"))
    pages.append(("API shipments", "/api/shipments/", "staff"))
    pages.append(("API billing runs", "/api/billing-runs/", "staff"))
    if run:
        pages.append(("API charge lines of the run", f"/api/charge-lines/?run={run.pk}", "staff"))
    pages.append(("API vendor invoices", "/api/vendor-invoices/", "staff"))
    pages.append(("API seller invoices", "/api/receivables/invoices/", "staff"))
    pages.append(("API schema", "/api/schema/", "staff"))
    return pages, seller_ids, missing


def measure(*, users: int = 20, requests: int = 200, seconds: float = 30.0) -> dict:
    """Every page and API list under `users` concurrent signed-in users on gunicorn (2 workers),
    `requests` answers or `seconds` per page; returns p50/p95 per page and the slowest page."""
    import django

    django.setup()
    from django.db import connection

    from billing.models import ChargeLine, Shipment
    from sellers.models import Seller

    invoice = _audited_invoice()
    pages, seller_ids, missing = _targets()
    staff, sellers = _users(users, seller_ids)
    connection.close()
    per_page = {}
    with gunicorn_server() as base:
        for name, path, who in pages:
            cookies = staff if who == "staff" else sellers
            # One warm-up request per worker (first imports, the schema's one build), not counted.
            load(base=base, path=path, cookies=cookies[:2], requests=2, seconds=120)
            per_page[name] = {
                "path": path,
                **load(base=base, path=path, cookies=cookies, requests=requests, seconds=seconds),
            }
    invoice_lines = invoice.line_count if invoice else 0
    _drop_invoice()
    slowest = max(per_page, key=lambda n: per_page[n]["p95_ms"]) if per_page else ""
    return {
        "pages_users": users,
        "pages_shipments": Shipment.objects.count(),
        "pages_sellers": Seller.objects.count(),
        "pages_charge_lines": ChargeLine.objects.count(),
        "pages_invoice_lines": invoice_lines,
        "pages_p95_ms": per_page[slowest]["p95_ms"] if slowest else 0,
        "pages_slowest": slowest,
        "pages_errors": sum(p["errors"] for p in per_page.values()),
        "pages_missing": missing,
        "pages": per_page,
    }


def report_lines(r: dict) -> list[str]:
    lines = [f"  {'page':<30}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}{'errors':>8}"]
    for name, p in r["pages"].items():
        lines.append(f"  {name:<30}{p['n']:>6}{p['p50_ms']:>10}{p['p95_ms']:>10}{p['max_ms']:>10}{p['errors']:>8}")
    lines.append(
        f"  {r['pages_users']} users, {r['pages_shipments']:,} shipments, {r['pages_sellers']:,} sellers, "
        f"{r['pages_charge_lines']:,} charge lines, an invoice of {r['pages_invoice_lines']:,} lines: slowest p95 {r['pages_p95_ms']} ms ({r['pages_slowest']}; goal < 200 ms)"
    )
    for item in r["pages_missing"]:
        lines.append(f"  left out: {item}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pages")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200, help="answers per page")
    parser.add_argument("--seconds", type=float, default=30.0, help="time limit per page")
    args = parser.parse_args(argv)
    result = measure(users=args.users, requests=args.requests, seconds=args.seconds)
    for line in report_lines(result):
        print(line)
    for key, value in result.items():
        if not isinstance(value, dict):
            print(f"{key}={value}")
    return 0 if not result["pages_errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
