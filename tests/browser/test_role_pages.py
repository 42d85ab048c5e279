"""Every role in a real browser: Chromium (headless, through Playwright) signs in as each demo user,
opens that role's home and the pages its navigation offers, and fails on any 4xx/5xx response, any
console or page error, or any money cell that breaks its currency's format. A screenshot of each
role's home is written to TEST_ARTIFACTS (default var/test-artifacts/screenshots).

Runs when a Chromium is present (CHROMIUM, or chromium on PATH); CI installs one and sets
REQUIRE_BROWSER=1, so there a missing browser fails instead of skipping."""

import os
import re
import shutil
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
from django.core.management import call_command

from settlement_ops.demo import DEMO_PASSWORD, DEMO_USERS
from settlement_ops.roles import Role

BROWSER = os.environ.get("CHROMIUM") or next(
    (path for name in ("chromium", "chromium-browser", "google-chrome") if (path := shutil.which(name))), None
)
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # the requirements install it; a stripped venv skips with the reason
    sync_playwright = None

_missing = (
    "Playwright is not installed"
    if sync_playwright is None
    else None
    if BROWSER
    else "no Chromium found (set CHROMIUM or install Debian's chromium)"
)
if _missing and os.environ.get("REQUIRE_BROWSER"):
    raise RuntimeError(f"REQUIRE_BROWSER is set but {_missing}")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(bool(_missing), reason=_missing or ""),
]

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", "var/test-artifacts")) / "screenshots"
# Pages that download files or act: not opened as pages.
SKIP_PATH = re.compile(r"(/export|\.xlsx|\.csv|\.pdf|/pdf/|/bank-file/|/logout|/admin/|/api/)")
PAGES_PER_ROLE = 12
NO_MINOR_UNITS = ("IDR", "VND")

# A money or count cell: digits grouped by the viewer's locale ("1,234.50", "1.234,50", "12.500"),
# optionally signed, with a currency code, a percent sign or a Dr/Cr marker around it. An integer
# part of five or more digits without a separator is ungrouped; fractions (FX rates) are not.
UNGROUPED = re.compile(r"(?<![.,\d])\d{5,}")
DECIMAL_PART = re.compile(r"\d[.,]\d{2}(?!\d)")
# Columns that hold rates, percentages, weights or counts, not amounts of a currency.
NOT_MONEY_HEADER = re.compile(r"%|rate|weight|kg|divisor|days|count|version|step|csat|score|dso", re.IGNORECASE)


def money_cell_problems(page, url: str) -> list[str]:
    """Right-aligned number cells that print money the way the issue forbids: long digit runs
    without thousands separators, and decimals on IDR/VND amounts."""
    cells = page.eval_on_selector_all(
        "td.num",
        """cells => cells.map(c => {
            const table = c.closest('table');
            const head = table ? table.querySelectorAll('thead th')[c.cellIndex] : null;
            return {text: c.innerText.trim(), row: (c.closest('tr') || c).innerText,
                    header: head ? head.innerText : ''};
        })""",
    )
    problems = []
    for cell in cells:
        text = cell["text"]
        if not text or not any(ch.isdigit() for ch in text):
            continue
        # Identifiers and dates are not amounts.
        if re.fullmatch(r"[A-Z]{2,}-[\w-]+|\d{4}-\d{2}-\d{2}.*", text):
            continue
        if UNGROUPED.search(text.replace(" ", "")):
            problems.append(f"{url}: ungrouped number {text!r} ({cell['header']})")
        if NOT_MONEY_HEADER.search(cell["header"]) or text.endswith("%"):
            continue
        context = cell["row"] + " " + cell["header"]
        in_whole_units = any(code in context for code in NO_MINOR_UNITS) and not any(
            code in context for code in ("GBP", "EUR", "USD")
        )
        if in_whole_units and DECIMAL_PART.search(text):
            problems.append(f"{url}: minor units on a {'/'.join(NO_MINOR_UNITS)} amount {text!r} ({cell['header']})")
    return problems


def internal_links(page, base: str) -> list[str]:
    hrefs = page.eval_on_selector_all("nav a[href], aside a[href], .side a[href]", "as => as.map(a => a.href)")
    links = []
    for href in hrefs:
        url = urlparse(urljoin(base, href))
        if url.netloc != urlparse(base).netloc or SKIP_PATH.search(url.path):
            continue
        path = url.path + (f"?{url.query}" if url.query else "")
        if path not in links:
            links.append(path)
    return links


@pytest.fixture
def demo_world(live_server):
    # A small demo (every role, three markets, a rated and invoiced month) played through the services.
    call_command("seed_demo", shipments=150, sellers=2, vendors=2, verbosity=0)
    call_command("run_nightly", verbosity=0)
    from sellers.models import SellerUser

    portal_users = list(
        SellerUser.objects.select_related("seller__market").order_by("seller__market__code", "seller__code")
    )
    # One portal user per market: each language and currency is seen once.
    sellers = {}
    for link in portal_users:
        sellers.setdefault(link.seller.market.code, link.user.username)
    # The integration account signs in with API tokens only (settlement_ops.forms.SignInForm).
    staff = [username for username, _name, role in DEMO_USERS if role != Role.INTEGRATION] + ["admin"]
    return live_server.url, staff, list(sellers.values())


def _watch(page, username: str, base: str, problems: list[str]) -> None:
    """Collect console errors, uncaught page errors and 4xx/5xx answers of our own server."""

    def on_console(message):
        if message.type == "error":
            problems.append(f"{username}: console error: {message.text}")

    def on_response(response):
        if response.status >= 400 and response.url.startswith(base):
            problems.append(f"{username}: {response.status} {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(f"{username}: page error: {exc}"))
    page.on("response", on_response)


def test_every_role_in_a_real_browser(demo_world):
    base, staff_users, seller_users = demo_world
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    visited = 0
    # Each page is opened once, by the first role whose navigation offers it; every role's home is
    # opened (the link-follow test of tests/test_access_matrix.py checks each role's links answer).
    seen: set[str] = set()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=BROWSER, args=["--no-sandbox"])
        try:
            for username in staff_users + seller_users:
                context = browser.new_context(viewport={"width": 1366, "height": 900})
                page = context.new_page()
                _watch(page, username, base, problems)
                page.goto(f"{base}/accounts/login/")
                page.fill("input[name=username]", username)
                page.fill("input[name=password]", DEMO_PASSWORD)
                page.click("form:has(input[name=password]) button[type=submit]")
                page.wait_for_load_state("domcontentloaded")
                if "/accounts/login/" in page.url:
                    problems.append(f"{username}: could not sign in")
                    context.close()
                    continue
                home = page.url
                page.screenshot(path=str(ARTIFACTS / f"{username}-home.png"), full_page=True)
                problems.extend(money_cell_problems(page, f"{username} {home}"))
                for path in [p for p in internal_links(page, base) if p not in seen][:PAGES_PER_ROLE]:
                    seen.add(path)
                    page.goto(urljoin(base, path))
                    visited += 1
                    problems.extend(money_cell_problems(page, f"{username} {path}"))
                context.close()
        finally:
            browser.close()
    assert visited >= len(staff_users), "the roles' navigation offered almost no pages"
    assert not problems, "\n".join(problems[:50])
