"""A seller user sees only their own seller's statements, invoices, PDFs, exports and payments —
in pages, API and files; another seller's object answers like a missing one (404)."""

import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from billing.receivables import selectors
from billing.receivables.models import Invoice, Statement
from tests.factories import SellerUserFactory
from tests.receivables.helpers import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_sellers():
    w = World()
    mine, theirs = w.seller(), w.seller()
    w.ship(mine, "1.000")
    w.ship(theirs, "3.000")
    w.rate()
    w.state()
    w.receive("5.99", seller=mine)
    w.receive("7.61", seller=theirs)
    user = SellerUserFactory(seller=mine).user
    return w, mine, theirs, user


def test_portal_pages_show_only_the_sellers_own_rows(client, two_sellers):
    w, mine, theirs, user = two_sellers
    client.force_login(user)
    own_invoice, other_invoice = Invoice.objects.get(seller=mine), Invoice.objects.get(seller=theirs)
    own_statement, other_statement = Statement.objects.get(seller=mine), Statement.objects.get(seller=theirs)
    for name in ("portal:invoices", "portal:statements", "portal:payments"):
        page = client.get(reverse(name)).content.decode()
        assert theirs.code not in page and other_invoice.number not in page
    assert own_invoice.number in client.get(reverse("portal:invoices")).content.decode()
    assert "7.61" not in client.get(reverse("portal:payments")).content.decode()
    for name, own, other in (
        ("portal:invoice_detail", own_invoice, other_invoice),
        ("portal:invoice_pdf", own_invoice, other_invoice),
        ("portal:statement_detail", own_statement, other_statement),
        ("portal:statement_export", own_statement, other_statement),
    ):
        assert client.get(reverse(name, args=[own.pk])).status_code == 200, name
        assert client.get(reverse(name, args=[other.pk])).status_code == 404, name
        assert client.get(reverse(name, args=[999999])).status_code == 404, name


def test_portal_files_hold_the_sellers_own_figures(client, two_sellers):
    w, mine, theirs, user = two_sellers
    client.force_login(user)
    statement = Statement.objects.get(seller=mine)
    response = client.get(reverse("portal:statement_export", args=[statement.pk]))
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    shipments = list(workbook["Shipments"].iter_rows(values_only=True))
    assert shipments[-1][-1] == 5.99 and len(shipments) == 4  # title, blank, header, one shipment
    pdf = client.get(reverse("portal:invoice_pdf", args=[Invoice.objects.get(seller=mine).pk]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def test_api_scopes_every_list_and_object_to_the_callers_seller(api_as, two_sellers):
    w, mine, theirs, user = two_sellers
    client = api_as("seller_user", user=user)
    other_invoice = Invoice.objects.get(seller=theirs)
    for path in ("invoices", "statements", "receipts", "payout-deductions"):
        rows = client.get(f"/api/receivables/{path}/").json()["results"]
        assert all(row["seller"] == mine.pk for row in rows), path
    assert len(client.get("/api/receivables/invoices/").json()["results"]) == 1
    assert client.get(f"/api/receivables/invoices/{other_invoice.pk}/").status_code == 404
    assert client.get(f"/api/receivables/invoices/{other_invoice.pk}/pdf/").status_code == 404
    assert client.get(f"/api/receivables/statements/{Statement.objects.get(seller=theirs).pk}/").status_code == 404
    own = client.get(f"/api/receivables/invoices/{Invoice.objects.get(seller=mine).pk}/pdf/")
    assert own.status_code == 200 and own.content.startswith(b"%PDF")
    assert client.post("/api/receivables/receipts/", {}, format="json").status_code == 403
    # staff see both
    staff = api_as("finance_specialist")
    assert len(staff.get("/api/receivables/invoices/").json()["results"]) == 2


@pytest.mark.parametrize(
    "selector, model, portal_name, api_path",
    [
        ("statements_for", Statement, "portal:statement_detail", "/api/receivables/statements/{}/"),
        ("invoices_for", Invoice, "portal:invoice_detail", "/api/receivables/invoices/{}/"),
        ("invoices_for", Invoice, "portal:invoice_pdf", "/api/receivables/invoices/{}/pdf/"),
    ],
)
def test_portal_and_api_scope_through_the_same_selector(
    client, api_as, two_sellers, monkeypatch, selector, model, portal_name, api_path
):
    # given: the receivables selector both doors should use, watched (it still does the real work)
    w, mine, theirs, user = two_sellers
    own, other = model.objects.get(seller=mine), model.objects.get(seller=theirs)
    callers = []
    real = getattr(selectors, selector)
    monkeypatch.setattr(selectors, selector, lambda caller: callers.append(caller.pk) or real(caller))
    client.force_login(user)
    api = api_as("seller_user", user=user)
    # when
    answers = [
        (client.get(reverse(portal_name, args=[obj.pk])).status_code, api.get(api_path.format(obj.pk)).status_code)
        for obj in (own, other)
    ]
    # then: own object 200 and another seller's 404 through both doors, each scoped by that selector
    assert answers == [(200, 200), (404, 404)]
    assert callers == [user.pk] * 4


def test_seller_users_cannot_open_staff_pages_or_exports(client, two_sellers):
    w, mine, theirs, user = two_sellers
    client.force_login(user)
    statement = Statement.objects.get(seller=mine)
    for url in (
        reverse("receivables:invoice_list"),
        reverse("receivables:statement_export", args=[statement.pk]),
        reverse("receivables:receipts_export"),
        reverse("receivables:aging") + "?format=xlsx",
    ):
        assert client.get(url).status_code == 403, url


def test_staff_statement_page_generates_and_shows_ledger_lines(client_as):
    w = World()
    seller = w.seller()
    w.ship(seller, "1.000", "3.000")
    w.rate()
    client = client_as("finance_specialist")
    bad = client.post(
        reverse("receivables:statement_list"),
        {"market": "GB", "period_start": "2026-10-31", "period_end": "2026-10-01"},
    )
    assert bad.status_code == 400 and "The period ends before it starts." in bad.content.decode()
    response = client.post(
        reverse("receivables:statement_list"),
        {"market": "GB", "period_start": "2026-10-01", "period_end": "2026-10-31"},
    )
    assert response.status_code == 302
    statement = Statement.objects.get(seller=seller)
    page = client.get(reverse("receivables:statement_detail", args=[statement.pk])).content.decode()
    assert "13.60" in page and "Logistics fees" in page
    invoice = statement.invoices.get()
    pdf = client.get(reverse("receivables:invoice_pdf", args=[invoice.pk]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    auditor = client_as("auditor")
    export = auditor.get(reverse("receivables:statement_export", args=[statement.pk]))
    workbook = load_workbook(io.BytesIO(b"".join(export.streaming_content)), read_only=True)
    summary = {row[0]: row[1] for row in workbook["Summary"].iter_rows(values_only=True) if row and row[0]}
    assert summary["Closing balance"] == 13.6
    assert auditor.post(reverse("receivables:statement_list"), {"market": "GB"}).status_code == 403


def test_vietnamese_invoice_pdf_embeds_the_unicode_font():
    from billing.receivables.documents import invoice_pdf

    w = World()
    seller = w.seller(legal_name="Công ty TNHH Hà Nội Đà Nẵng")
    invoice = w.invoice(seller, "1.000")
    Invoice.objects.filter(pk=invoice.pk).update(language="vi")
    invoice.refresh_from_db()
    data = invoice_pdf(invoice)
    assert data.startswith(b"%PDF") and b"DejaVuSans" in data
