"""The seller-invoice list loads only what it shows of the rows it joins (the seller's code, the
credited invoice's number): a page of many invoices costs the same queries as a page of one, and a
seller user still lists only their own."""

from __future__ import annotations

import json

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.receivables.api import InvoiceSerializer
from billing.receivables.models import Invoice
from billing.receivables.services import credit_note_issue
from settlement_ops.pagination import with_tiebreaker
from settlement_ops.roles import Role
from tests.factories import SellerUserFactory
from tests.receivables.helpers import World

pytestmark = pytest.mark.django_db


def _list(api):
    with CaptureQueriesContext(connection) as queries:
        response = api.get("/api/receivables/invoices/")
    assert response.status_code == 200, response.content
    return response.json()["results"], len(queries.captured_queries)


def test_invoice_list_shows_codes_and_numbers_with_queries_that_do_not_grow_with_rows(api_as):
    # given: one invoice listed, then two more documents (another seller's invoice, a credit note)
    w = World()
    mine, theirs = w.seller(), w.seller()
    invoice = w.invoice(mine, "1.000")
    api = api_as(Role.FINANCE_SPECIALIST)
    one, queries_for_one = _list(api)
    w.ship(theirs, "3.000")
    w.rate()
    w.state(seller_ids=[theirs.pk])
    credit = credit_note_issue(actor=w.clerk, invoice=invoice, reason="Parcel never collected")

    # when
    three, queries_for_three = _list(api)

    # then
    assert [(r["number"], r["seller_code"], r["gross_total"]) for r in one] == [(invoice.number, mine.code, "5.9900")]
    by_number = {r["number"]: r for r in three}
    assert len(three) == 3 and by_number[credit.number]["credited_invoice"] == invoice.number
    assert by_number[Invoice.objects.get(seller=theirs).number]["seller_code"] == theirs.code
    assert queries_for_three == queries_for_one


def _two_sellers_invoiced():
    """A seller with an invoice of a 1 kg parcel, and another whose 3 kg parcel is stated."""
    w = World()
    mine, theirs = w.seller(), w.seller()
    own = w.invoice(mine, "1.000")
    w.ship(theirs, "3.000")
    w.rate()
    w.state(seller_ids=[theirs.pk])
    return w, mine, own


def test_a_seller_user_lists_only_their_own_invoices(api_as):
    _, mine, own = _two_sellers_invoiced()
    api = api_as(Role.SELLER_USER, user=SellerUserFactory(seller=mine).user)

    listed, _ = _list(api)

    assert [r["number"] for r in listed] == [own.number]


def test_the_list_rows_are_what_the_serializer_renders_from_the_invoices(api_as):
    # The list reads .values() rows (settlement_ops.api.ValuesListMixin); a row must be exactly
    # what InvoiceSerializer renders from the model instance, a null credited invoice included.
    w, _, invoice = _two_sellers_invoiced()
    credit_note_issue(actor=w.clerk, invoice=invoice, reason="Parcel never collected")
    api = api_as(Role.FINANCE_SPECIALIST)

    page = api.get("/api/receivables/invoices/", {"page_size": 2}).json()
    rows = page["results"] + api.get(page["next"]).json()["results"]

    instances = with_tiebreaker(Invoice.objects.order_by("-issue_date", "-id"))
    expected = json.loads(json.dumps(InvoiceSerializer(instances, many=True).data, cls=DjangoJSONEncoder))
    assert len(rows) == 3 and rows == expected
    assert sorted(str(row["credited_invoice"]) for row in rows) == sorted(["None", "None", invoice.number])
