"""The invoice audit page pages through a carrier invoice without counting its lines: unfiltered it
shows the line count the import stored, filtered it counts up to the exact limit and estimates
past it ("~"), and following its Next links reaches every line once, in file order."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.payables.views import InvoiceDetailView
from settlement_ops import pagination
from settlement_ops.roles import Role
from tests.payables.helpers import line, rated, setup_vendor, upload

pytestmark = pytest.mark.django_db

ROW = re.compile(r"<tr>\s*<td>(?:<input[^>]*>)?</td>\s*<td>(\d+)</td><td>([^<]+)</td>")


def _walk(client, url):
    """(line numbers, tracking numbers, pagination texts) following the page's Next links."""
    path = url.split("?")[0]
    numbers, tracking, texts = [], [], []
    while url:
        page = client.get(url)
        assert page.status_code == 200, url
        html = page.content.decode()
        rows = ROW.findall(html)
        numbers += [int(n) for n, _ in rows]
        tracking += [t for _, t in rows]
        texts.append(re.sub(r"\s+", " ", html[html.find('<div class="pagination">') :][:600]))
        found = re.search(r'<a href="(\?[^"]*)">Next', html)
        url = path + found.group(1).replace("&amp;", "&") if found else None
    return numbers, tracking, texts


@pytest.fixture
def invoice_of_seven(monkeypatch):
    """An audited invoice of 7 lines: 5 rated shipments billed as rated, 2 unknown tracking numbers;
    pages of 3 lines, counts exact up to 2 rows."""
    vendor, rate_line, specialist = setup_vendor()
    known = [rated(vendor, rate_line, tracking=f"TRK-PAGE-{n}") for n in range(5)]
    rows = [line(cl.shipment.tracking_number, "4.50", "0.45") for cl in known]
    rows += [line("UNKNOWN-1", "3.00"), line("UNKNOWN-2", "3.00")]
    monkeypatch.setattr(InvoiceDetailView, "paginate_by", 3)
    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 2)
    return upload(vendor, specialist, rows).invoice


def test_unfiltered_pages_use_the_stored_line_count_and_reach_every_line(client_as, invoice_of_seven):
    # given
    client = client_as(Role.FINANCE_SPECIALIST)
    url = reverse("payables:invoice_detail", args=[invoice_of_seven.pk])

    # when
    with CaptureQueriesContext(connection) as queries:
        first = client.get(url)
    # (read before the next request: each request starts a new query log)
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"] and "vendorinvoiceline" in q["sql"]]
    numbers, tracking, texts = _walk(client, url)

    # then: every line once, in file order, on three pages, counted from the invoice row
    assert first.status_code == 200 and invoice_of_seven.line_count == 7
    assert numbers == sorted(numbers) and len(numbers) == len(set(numbers)) == 7
    assert tracking[-2:] == ["UNKNOWN-1", "UNKNOWN-2"]
    assert "Page 1 of 3 · 7 rows" in texts[0] and "~" not in texts[0]
    assert counts and all("LIMIT 3" in sql for sql in counts), counts  # at most EXACT_COUNT_LIMIT + 1 rows
    # a page past the end is a 404; a bad number too
    assert client.get(url + "?page=4").status_code == 404
    assert client.get(url + "?page=abc").status_code == 404


def test_filters_still_apply_and_a_long_filtered_list_is_estimated(client_as, invoice_of_seven):
    client = client_as(Role.FINANCE_SPECIALIST)
    url = reverse("payables:invoice_detail", args=[invoice_of_seven.pk])

    # when: two unknown lines (within the exact limit), and the five matched ones (past it)
    unknown, unknown_tracking, unknown_texts = _walk(client, url + "?flag=unknown_tracking")
    matched, matched_tracking, matched_texts = _walk(client, url + "?tracking_number=TRK-PAGE")

    # then
    assert unknown_tracking == ["UNKNOWN-1", "UNKNOWN-2"] and "2 rows" in unknown_texts[0]
    assert matched_tracking == [f"TRK-PAGE-{n}" for n in range(5)] and matched == sorted(matched)
    assert "~" in matched_texts[0]  # the planner's estimate, marked; Next still reaches every line
    assert "&flag=" not in "".join(matched_texts)  # Next links keep the filter they were given


def test_audit_page_is_refused_to_roles_without_the_permission(client_as, invoice_of_seven):
    url = reverse("payables:invoice_detail", args=[invoice_of_seven.pk])
    assert client_as(Role.SELLER_USER).get(url).status_code == 403
    assert client_as(Role.SUPPORT_TIER1).get(url).status_code == 403


def test_each_line_shows_its_amounts_flags_and_decision(client_as, invoice_of_seven, monkeypatch):
    # given: the last unknown line disputed by the specialist
    from django.utils import timezone

    from billing.payables.models import VendorInvoiceLine

    monkeypatch.setattr(InvoiceDetailView, "paginate_by", 50)
    client = client_as(Role.FINANCE_SPECIALIST)
    lines = list(VendorInvoiceLine.objects.filter(invoice=invoice_of_seven).order_by("line_no"))
    matched, pending, disputed = lines[0], lines[-2], lines[-1]
    decide = reverse("payables:invoice_decide", args=[invoice_of_seven.pk])
    assert (
        client.post(decide, {"lines": [disputed.pk], "decision": "disputed", "reason": "Not ours"}).status_code == 302
    )

    # when
    html = re.sub(
        r"\s*\n\s*", "", client.get(reverse("payables:invoice_detail", args=[invoice_of_seven.pk])).content.decode()
    )

    # then: a line the audit approved offers no checkbox; an unknown one shows no expected charge
    assert (
        f'<tr><td></td><td>{matched.line_no}</td><td>TRK-PAGE-0</td><td class="num">2.000 / 2.000</td>'
        '<td class="num">4.95</td><td class="num">4.95</td><td class="num">5.94</td><td class="num">5.94</td>'
        '<td></td><td><span class="badge ok">Approved (within tolerance)</span></td><td></td></tr>'
    ) in html
    assert (
        f'<tr><td><input type="checkbox" name="lines" value="{pending.pk}" aria-label="Select row {pending.line_no}">'
        f'</td><td>{pending.line_no}</td><td>UNKNOWN-1</td><td class="num">2.000 / —</td>'
        '<td class="num">3.00</td><td class="num">—</td><td class="num">3.60</td><td class="num">0.00</td>'
        '<td><span class="badge bad">Unknown tracking number</span> </td>'
        '<td><span class="badge warn">Waiting for review</span></td><td></td></tr>'
    ) in html
    disputed.refresh_from_db()
    decided_at = timezone.localtime(disputed.decided_at).strftime("%Y-%m-%d %H:%M")
    assert (
        '<td><span class="badge bad">Disputed</span></td>'
        f'<td>Not ours <span class="muted">— {client.user.username} {decided_at}</span></td></tr>'
    ) in html
