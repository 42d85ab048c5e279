"""AR aging, collections (dunning letters sent and due, promises to pay) and write-offs with four eyes
through the API, with the staff pages' figures; codes in filters; no seller user gets in."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.contrib.auth.models import Group

from billing.receivables.dunning import dunning_run
from billing.receivables.models import CollectionNote, DunningNotice, Invoice, WriteOff
from settlement_ops.models import AccountKind
from settlement_ops.roles import Role
from settlement_ops.selectors import balance
from tests.factories import SellerUserFactory, UserFactory, market
from tests.receivables.helpers import SEP, World, owed

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_as():
    """api_as(role, user=None) -> a client of its own, by token, so several callers can take turns."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    def make(role: str, user=None):
        user = user or UserFactory(role=role)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
        client.user = user
        return client

    return make


AGING = "/api/receivables/aging/"
DUE = "/api/receivables/dunning-notices/due/"
NOTICES = "/api/receivables/dunning-notices/"
PROMISES = "/api/receivables/promises-to-pay/"
WRITE_OFFS = "/api/receivables/write-offs/"


def test_aging_per_seller_and_totals_are_the_staff_pages_figures(api_as, client_as):
    # given: one seller a month overdue (5.99), one current (7.61, due 2026-11-30)
    w = World()
    late, current = w.seller(), w.seller()
    w.invoice(late, "1.000", period=SEP)  # due 2026-10-30
    w.invoice(current, "3.000")
    as_of = "2026-11-20"
    client = api_as(Role.INTEGRATION)
    # when
    report = client.get(AGING, {"as_of": as_of, "market": "gb"}).json()
    # then
    rows = {row["seller_code"]: row for row in report["rows"]}
    assert (D(rows[late.code]["d1_30"]), D(rows[late.code]["total"]), D(rows[late.code]["current"])) == (
        D("5.99"),
        D("5.99"),
        D("0"),
    )
    assert (D(rows[current.code]["current"]), D(rows[current.code]["total"])) == (D("7.61"), D("7.61"))
    assert report["totals"] == [
        {
            "currency": "GBP",
            "current": "7.6100",
            "d1_30": "5.9900",
            "d31_60": "0.0000",
            "d61_90": "0.0000",
            "d90_plus": "0.0000",
            "total": "13.6000",
        }
    ]
    page = client_as(Role.FINANCE_SPECIALIST).get("/receivables/aging/", {"as_of": as_of, "market": "GB"})
    assert {r["seller__code"]: r["total"] for r in page.context["report"]["rows"]} == {
        code: D(row["total"]) for code, row in rows.items()
    }
    # filters take the seller's code; unknown codes and bad dates are named
    only = client.get(AGING, {"as_of": as_of, "seller": late.code}).json()
    assert [r["seller_code"] for r in only["rows"]] == [late.code] and only["totals"][0]["total"] == "5.9900"
    assert client.get(AGING, {"market": "XX"}).json()["error"]["field"] == "market"
    assert client.get(AGING, {"seller": "S-NOPE"}).json()["error"]["field"] == "seller"
    assert client.get(AGING, {"as_of": "31/12/2026"}).status_code == 400
    # a seller user reads their own invoices in the portal, never the staff aging
    seller_user = SellerUserFactory(seller=late).user
    assert api_as(Role.SELLER_USER, user=seller_user).get(AGING).status_code == 403


def test_letters_due_and_sent_and_promises_to_pay(api_as):
    # given: two sellers' October invoices, due 2026-11-30; level 1 is due three days later
    w = World()
    promising, silent = w.seller(), w.seller()
    promised_invoice = w.invoice(promising, "1.000")
    w.invoice(silent, "1.000")
    day = date(2026, 12, 3)
    reader = api_as(Role.INTEGRATION)
    due = reader.get(DUE, {"on": day.isoformat(), "market": "GB"}).json()
    assert sorted((r["seller_code"], r["level"], r["days_overdue"], r["amount_open"]) for r in due) == sorted(
        [(promising.code, 1, 3, "5.9900"), (silent.code, 1, 3, "5.9900")]
    )
    assert reader.get(DUE, {"on": "2026-12-02", "market": "GB"}).json() == []
    # when: a collector records a promise to pay by API, retried with the same key
    collector = api_as(Role.FINANCE_SPECIALIST)
    promised_date = max(day, market("GB").local_date()) + timedelta(days=7)
    body = {
        "seller": promising.code,
        "invoice": promised_invoice.number,
        "promised_amount": "5.99",
        "promised_date": promised_date.isoformat(),
        "text": "Pays next week",
    }
    first = collector.post(PROMISES, body, format="json", HTTP_IDEMPOTENCY_KEY="promise-1")
    again = collector.post(PROMISES, body, format="json", HTTP_IDEMPOTENCY_KEY="promise-1")
    assert first.status_code == 201, first.content
    assert again.content == first.content and CollectionNote.objects.count() == 1
    assert (first.json()["seller_code"], first.json()["promised_amount"], first.json()["currency"]) == (
        promising.code,
        "5.9900",
        "GBP",
    )
    # then: the promise holds its invoice's letter; the nightly run sends the other and it is listed as sent
    assert [r["seller_code"] for r in reader.get(DUE, {"on": day.isoformat(), "market": "GB"}).json()] == [silent.code]
    assert dunning_run(on=day, markets=[market("GB")]) == {"GB": 1}
    assert reader.get(DUE, {"on": day.isoformat()}).json() == []
    sent = reader.get(NOTICES, {"seller": silent.code, "market": "GB"}).json()["results"]
    notice = DunningNotice.objects.get()
    assert [(n["invoice_number"], n["level"], n["sent_on"]) for n in sent] == [(notice.invoice.number, 1, "2026-12-03")]
    assert reader.get(NOTICES, {"seller": promising.code}).json()["results"] == []
    promises = reader.get(PROMISES, {"seller": promising.code, "active": "true"}).json()["results"]
    assert [p["invoice_number"] for p in promises] == [promised_invoice.number]
    # bad promises are refused naming the field, and nothing is stored
    cases = [
        ({"promised_date": "2020-01-01"}, "promised_date"),
        ({"promised_amount": "5.999"}, "promised_amount"),
        ({"invoice": notice.invoice.number}, "invoice"),
        ({"seller": "S-NOPE"}, "seller"),
    ]
    for change, field in cases:
        refused = collector.post(PROMISES, {**body, **change}, format="json")
        assert refused.status_code == 400, (change, refused.content)
        error = refused.json()["error"]
        assert error.get("field") == field or field in error.get("fields", {}), (change, error)
    assert CollectionNote.objects.count() == 1
    # reading only for the integration; nothing for a seller user
    assert reader.post(PROMISES, body, format="json").status_code == 403
    seller_client = api_as(Role.SELLER_USER, user=SellerUserFactory(seller=promising).user)
    assert seller_client.get(PROMISES).status_code == 403 and seller_client.get(NOTICES).status_code == 403


def test_write_off_proposed_and_approved_by_another_person_never_the_proposer(api_as):
    # given: an invoice of 13.60 and a user who both proposes and approves write-offs
    w = World()
    seller = w.seller()
    invoice = w.invoice(seller, "1.000", "3.000")
    both = UserFactory(role=Role.FINANCE_SPECIALIST)
    both.groups.add(Group.objects.get(name=Role.FINANCE_APPROVER))
    proposer = api_as(Role.FINANCE_SPECIALIST, user=both)
    # when: a write-off of 13.60 is proposed, the request retried
    body = {"invoice": invoice.number, "amount": "13.60", "reason": "Seller insolvent"}
    first = proposer.post(WRITE_OFFS, body, format="json", HTTP_IDEMPOTENCY_KEY="wo-1")
    again = proposer.post(WRITE_OFFS, body, format="json", HTTP_IDEMPOTENCY_KEY="wo-1")
    assert first.status_code == 201, first.content
    assert again.content == first.content and WriteOff.objects.count() == 1
    proposed = first.json()
    assert (proposed["status"], proposed["amount"], proposed["seller_code"], proposed["entry"]) == (
        "proposed",
        "13.6000",
        seller.code,
        None,
    )
    assert (
        proposer.post(WRITE_OFFS, {**body, "amount": "1"}, format="json", HTTP_IDEMPOTENCY_KEY="wo-1").status_code
        == 422
    )
    # then: the proposer may not approve or reject it, and nothing is posted
    url = f"{WRITE_OFFS}{proposed['id']}/"
    for decision in ("approve", "reject"):
        refused = proposer.post(f"{url}{decision}/", {}, format="json")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "four_eyes"
        assert "cannot approve" in refused.json()["error"]["message"]
    assert owed(seller) == D("13.60") and WriteOff.objects.get().status == WriteOff.Status.PROPOSED
    # the integration reads but does not decide; a specialist may not decide either
    assert api_as(Role.INTEGRATION).post(f"{url}approve/", {}, format="json").status_code == 403
    assert api_as(Role.FINANCE_SPECIALIST).post(f"{url}approve/", {}, format="json").status_code == 403
    # when: another approver approves
    approver = api_as(Role.FINANCE_APPROVER)
    approved = approver.post(f"{url}approve/", {"note": "Liquidator's letter on file"}, format="json")
    # then: posted once, to the cent
    assert approved.status_code == 200, approved.content
    assert (approved.json()["status"], approved.json()["decided_by"]) == ("approved", approver.user.username)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.WRITTEN_OFF and invoice.amount_open == 0 and owed(seller) == 0
    assert balance(kind=AccountKind.BAD_DEBT_EXPENSE, market=w.market) == {"GBP": D("13.60")}
    twice = approver.post(f"{url}approve/", {}, format="json")
    assert twice.status_code == 409
    assert balance(kind=AccountKind.BAD_DEBT_EXPENSE, market=w.market) == {"GBP": D("13.60")}
    # listed by seller and market code
    listed = api_as(Role.INTEGRATION).get(WRITE_OFFS, {"seller": seller.code, "market": "GB", "status": "approved"})
    assert [row["invoice_number"] for row in listed.json()["results"]] == [invoice.number]
    # bad proposals name the field
    other = w.invoice(w.seller(), "1.000")
    assert approver.post(WRITE_OFFS, {**body, "invoice": other.number}, format="json").status_code == 403
    specialist = api_as(Role.FINANCE_SPECIALIST)
    too_much = specialist.post(WRITE_OFFS, {**body, "invoice": other.number}, format="json")
    assert (too_much.status_code, too_much.json()["error"]["field"]) == (400, "amount")
    unknown = specialist.post(WRITE_OFFS, {**body, "invoice": "GB-NOPE"}, format="json")
    assert (unknown.status_code, unknown.json()["error"]["field"]) == (400, "invoice")
    assert WriteOff.objects.count() == 1
