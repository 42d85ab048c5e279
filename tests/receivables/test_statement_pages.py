"""The statement page (staff and portal) pages through every shipment behind the fees, in ship date
and tracking number order, to the cent; the sorted list is kept per statement until another run
of the period completes. A seller sees only their own statements; the API lists statements in an
order an index serves."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal as D

import pytest
from django.conf import settings
from django.urls import reverse

from billing.receivables import selectors
from billing.receivables.models import Statement
from settlement_ops.roles import Role
from tests.factories import SellerUserFactory
from tests.receivables.helpers import SEP, World

pytestmark = pytest.mark.django_db

FEE_ROW = re.compile(r"<tr><td>[^<]*</td><td>([^<]+)</td><td>[^<]*</td><td>[^<]*</td><td>[^<]*</td>"
                     r'<td class="num">[^<]*</td><td class="num">[^<]*</td><td class="num">([^<]+)</td></tr>')  # fmt: skip


def _fees(client, url):
    """(tracking number, gross) of every fee row and the pagination texts, following Next links."""
    path, rows, texts = url.split("?")[0], [], []
    while url:
        page = client.get(url)
        assert page.status_code == 200, url
        html = page.content.decode()
        shipments = html[html.index("<h2>", html.index("Shipments behind the fees") - 10) :]
        rows += FEE_ROW.findall(shipments)
        texts.append(re.sub(r"\s+", " ", shipments[shipments.find('<div class="pagination">') :][:400]))
        found = re.search(r'<a href="(\?[^"]*)">Next', shipments)
        url = path + found.group(1).replace("&amp;", "&") if found else None
    return rows, texts


@pytest.fixture
def statement(monkeypatch):
    """A seller's October statement over four parcels (1 kg: 5.99 gross, 3 kg: 7.61) shipped on two
    days, and another seller's; pages of two fee lines."""
    monkeypatch.setattr(selectors, "FEE_PAGE_SIZE", 2)
    w = World()
    mine, theirs = w.seller(), w.seller()
    late = w.ship(mine, "1.000", "3.000", ship_date=date(2026, 10, 20))
    early = w.ship(mine, "3.000", "1.000", ship_date=date(2026, 10, 5))
    w.ship(theirs, "3.000")
    w.rate()
    w.state()
    return w, mine, theirs, early + late


def test_staff_page_pages_through_every_fee_line_in_order(client_as, statement):
    # given
    w, mine, _, shipments = statement
    own = Statement.objects.get(seller=mine)
    client = client_as(Role.FINANCE_SPECIALIST)

    # when
    rows, texts = _fees(client, reverse("receivables:statement_detail", args=[own.pk]))

    # then: by ship date, then tracking number; the amounts to the cent; an exact count
    by_day = sorted(shipments, key=lambda s: (s.ship_date, s.tracking_number))
    gross = {"1.000": "5.99", "3.000": "7.61"}
    assert rows == [(s.tracking_number, gross[f"{s.actual_weight_kg:.3f}"]) for s in by_day]
    assert "Page 1 of 2 · 4 rows" in texts[0] and "Page 2 of 2" in texts[1]
    # a whole row: short date, service, kind, the invoice that billed it, net, VAT and gross
    first, invoice = by_day[0], own.invoices.get()
    assert first.actual_weight_kg == 3 and first.ship_date == date(2026, 10, 5)
    assert (
        f"<tr><td>2026-10-05</td><td>{first.tracking_number}</td><td>STD</td><td>Original</td><td>{invoice.number}</td>"
        '<td class="num">6.34</td><td class="num">1.27</td><td class="num">7.61</td></tr>'
    ) in client.get(reverse("receivables:statement_detail", args=[own.pk])).content.decode()
    # a page past the end shows the last one; a bad number the first
    url = reverse("receivables:statement_detail", args=[own.pk])
    assert [t for t, _ in _fees(client, url + "?page=9")[0]] == [s.tracking_number for s in by_day[2:]]
    assert [t for t, _ in _fees(client, url + "?page=x")[0]][:2] == [s.tracking_number for s in by_day[:2]]


def test_entries_show_each_ledger_entry_with_its_running_balance(client, statement):
    # given: the seller's October statement, with a payment received in October from a payer whose
    # name the bank file wrote with HTML's special characters
    w, mine, _, _ = statement
    w.receive("20.00", seller=mine, value_date=date(2026, 10, 20), payer_name="Smith & <Sons>")
    own = Statement.objects.get(seller=mine)
    client.force_login(SellerUserFactory(seller=mine).user)

    # when
    html = client.get(reverse("portal:statement_detail", args=[own.pk])).content.decode()

    # then: the opening balance, then each entry with its amount and running balance, to the
    # cent, every cell escaped
    entries = html[html.index("Entries") : html.index("Shipments behind the fees")]
    assert '<tr><td>2026-10-01</td><td>Opening balance</td><td></td><td></td><td class="num">0.00</td></tr>' in entries
    lines = selectors.statement_lines(own)
    assert [(line["amount"], line["running"]) for line in lines] == [(D("-20"), D("-20")), (D("27.20"), D("7.20"))]
    receipt_line, invoice_line = lines
    assert (
        f"<tr><td>{invoice_line['date']:%Y-%m-%d}</td><td>{invoice_line['label']}</td>"
        f'<td>{invoice_line["description"]}</td><td class="num">27.20</td><td class="num">7.20</td></tr>'
    ) in entries
    assert "Smith &amp; &lt;Sons&gt;" in entries and "<Sons>" not in entries
    assert (
        f"<tr><td>2026-10-20</td><td>{receipt_line['label']}</td>"
        f"<td>{receipt_line['description'].replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')}</td>"
        '<td class="num">-20.00</td><td class="num">-20.00</td></tr>'
    ) in entries
    assert (receipt_line["label"], invoice_line["label"]) == ("Payment received", "Logistics fees")
    # in the reader's language: the seller chose Bahasa Indonesia
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "id"
    in_indonesian = client.get(reverse("portal:statement_detail", args=[own.pk])).content.decode().split("<h2>")[1]
    assert "<td>2026-10-20</td>" not in in_indonesian  # Indonesian dates: 20/10/2026
    assert "<td>20/10/2026</td><td>Pembayaran diterima</td>" in in_indonesian
    assert "<td>Biaya logistik</td>" in in_indonesian


def test_portal_page_shows_the_sellers_own_fee_lines_only(client, statement):
    # given
    w, mine, theirs, shipments = statement
    own, other = Statement.objects.get(seller=mine), Statement.objects.get(seller=theirs)
    client.force_login(SellerUserFactory(seller=mine).user)

    # when
    rows, texts = _fees(client, reverse("portal:statement_detail", args=[own.pk]))

    # then
    assert sorted(t for t, _ in rows) == sorted(s.tracking_number for s in shipments)
    assert "4" in texts[0]
    assert client.get(reverse("portal:statement_detail", args=[other.pk])).status_code == 404
    assert client.get(reverse("portal:statement_detail", args=[other.pk]) + "?page=2").status_code == 404


def test_a_run_completed_later_in_the_period_shows_up_on_the_page(client_as, statement):
    # given: the page seen once (its sorted lines kept)
    w, mine, _, shipments = statement
    own = Statement.objects.get(seller=mine)
    client = client_as(Role.FINANCE_SPECIALIST)
    url = reverse("receivables:statement_detail", args=[own.pk])
    assert len(_fees(client, url)[0]) == 4

    # when: a parcel shipped in the period is rated by a later run of the period
    [extra] = w.ship(mine, "1.000", ship_date=date(2026, 10, 25))
    w.rate()

    # then
    rows, texts = _fees(client, url)
    assert len(rows) == 5 and rows[-1] == (extra.tracking_number, "5.99") and "5 rows" in texts[0]


def test_statements_api_lists_latest_period_first_then_by_seller(api_as, statement):
    # given: September statements too
    w, mine, theirs, _ = statement
    w.ship(mine, "1.000", ship_date=date(2026, 9, 5))
    w.rate(business_date=SEP[1])
    w.state(period=SEP)

    # when
    listed = api_as(Role.FINANCE_SPECIALIST).get("/api/receivables/statements/").json()["results"]

    # then: every statement, October's before September's, each period by seller
    keys = [(date.fromisoformat(row["period_end"]), row["seller"]) for row in listed]
    assert len(keys) == Statement.objects.count() == 3  # the other seller had nothing in September
    assert keys == sorted(keys, key=lambda key: (-key[0].toordinal(), key[1]))


def test_a_page_without_fees_says_so_in_the_readers_language():
    from django.utils import translation

    from billing.receivables.templatetags.statement_rows import statement_fee_rows

    with translation.override("id"):
        html = statement_fee_rows([], "IDR")
    assert html == '<tr><td colspan="8" class="muted">Tidak ada biaya pada periode ini.</td></tr>'
