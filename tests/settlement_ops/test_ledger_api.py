"""The ledger read API: the trial balance as the page shows it, and the journal for IT."""

from datetime import date
from decimal import Decimal

import pytest

from settlement_ops.models import AccountKind, PartyType
from settlement_ops.roles import Role
from settlement_ops.services import PostingLine, account_for, ledger_post
from tests.factories import VendorFactory, market

pytestmark = pytest.mark.django_db


def _post(*, key, code="GB", amount, on, vendor=None, source_type="test", source_id="1"):
    m = market(code)
    cost = account_for(market=m, kind=AccountKind.LOGISTICS_COST)
    if vendor is not None:
        other = account_for(market=m, kind=AccountKind.VENDOR_PAYABLE, party_type=PartyType.VENDOR, party_id=vendor.pk)
    else:
        other = account_for(market=m, kind=AccountKind.ACCRUED_LOGISTICS_COST)
    return ledger_post(
        market=m,
        entry_date=on,
        lines=[PostingLine(cost, Decimal(amount)), PostingLine(other, -Decimal(amount))],
        idempotency_key=key,
        source_type=source_type,
        source_id=source_id,
        description=f"Test {key}",
    )


def test_trial_balance_api_gives_the_page_figures_with_parties_by_code(client_as, api_as):
    vendor = VendorFactory(code="V-TB-01", legal_name="Royal Parcel Ltd")
    _post(key="tb:1", amount="1250.10", on=date(2026, 10, 5), vendor=vendor)
    _post(key="tb:2", amount="49.90", on=date(2026, 10, 20))
    _post(key="tb:3", amount="7.00", on=date(2026, 11, 2))  # after as_of: not in either figure
    _post(key="tb:de", code="DE", amount="99.99", on=date(2026, 10, 5))  # another market

    page = client_as(Role.AUDITOR).get("/ledger/", {"market": "GB", "as_of": "2026-10-31"})
    assert page.status_code == 200
    page_rows = {(r.code, r.currency): (r.debits, r.credits, r.balance, r.side) for r in page.context["rows"]}

    api = api_as(Role.INTEGRATION)
    response = api.get("/api/trial-balance/", {"market": "GB", "as_of": "2026-10-31"})
    assert response.status_code == 200, response.content
    body = response.json()
    api_rows = {
        (a["account_code"], a["currency"]): (
            Decimal(a["debit"]),
            Decimal(a["credit"]),
            Decimal(a["balance"]),
            a["side"],
        )
        for a in body["accounts"]
    }
    assert api_rows == page_rows
    payable = next(a for a in body["accounts"] if a["party_type"] == "vendor")
    assert (payable["party_code"], payable["party_name"]) == ("V-TB-01", "Royal Parcel Ltd")
    assert (Decimal(payable["credit"]), payable["side"]) == (Decimal("1250.10"), "Cr")
    cost = next(a for a in body["accounts"] if a["account_kind"] == AccountKind.LOGISTICS_COST)
    assert (Decimal(cost["debit"]), Decimal(cost["balance"]), cost["side"]) == (
        Decimal("1300.00"),
        Decimal("1300.00"),
        "Dr",
    )
    assert body["totals"] == [{"currency": "GBP", "debit": "1300.0000", "credit": "1300.0000"}]
    assert page.context["totals"]["GBP"] == {"debits": Decimal("1300.00"), "credits": Decimal("1300.00")}

    # Without as_of every posting counts; another currency leaves nothing.
    everything = api.get("/api/trial-balance/", {"market": "GB"}).json()
    assert everything["totals"][0]["debit"] == "1307.0000"
    assert api.get("/api/trial-balance/", {"market": "GB", "currency": "EUR"}).json()["accounts"] == []

    # Bad input names the field; a role without ledger access is refused.
    bad = api.get("/api/trial-balance/", {"market": "XX", "as_of": "31/10/2026"})
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"market", "as_of"}
    assert api.get("/api/trial-balance/").json()["error"]["fields"]["market"]
    assert api_as(Role.SUPPORT_TIER1).get("/api/trial-balance/", {"market": "GB"}).status_code == 403


def test_integration_reads_the_journal_with_postings_sources_and_code_filters(api_as):
    vendor = VendorFactory(code="V-JE-01", legal_name="Line Haul GmbH")
    corrected = _post(key="je:first", code="DE", amount="1.00", on=date(2026, 10, 6))
    # the source is read through the apps' source documents: here the kernel's own adjustments
    charge = _post(
        key="je:charge",
        amount="12.34",
        on=date(2026, 10, 5),
        vendor=vendor,
        source_type="adjustment",
        source_id=str(corrected.pk),
    )
    _post(key="je:other", amount="5.00", on=date(2026, 10, 6), source_type="compensation.audit_run", source_id="7")
    payable_code = account_for(
        market=market("GB"), kind=AccountKind.VENDOR_PAYABLE, party_type=PartyType.VENDOR, party_id=vendor.pk
    ).code

    api = api_as(Role.INTEGRATION)
    listed = api.get("/api/journal-entries/", {"market": "GB", "account": payable_code})
    assert listed.status_code == 200, listed.content
    results = listed.json()["results"]
    assert [e["id"] for e in results] == [charge.pk]
    entry = results[0]
    assert entry["source"] == f"Ledger adjustment of JE{corrected.pk}"
    postings = {p["account_code"]: p for p in entry["postings"]}
    assert postings[payable_code]["amount"] == "-12.3400"
    assert postings[payable_code]["party"] == "V-JE-01 Line Haul GmbH"
    assert sum(Decimal(p["amount"]) for p in entry["postings"]) == 0

    gb = api.get("/api/journal-entries/", {"market": "GB", "date_from": "2026-10-06"}).json()["results"]
    assert [e["source"] for e in gb] == ["Audit run 7"]
    assert api.get("/api/journal-entries/", {"market": "DE"}).json()["count"] == 1
    assert api.get(f"/api/journal-entries/{charge.pk}/").json()["source"] == f"Ledger adjustment of JE{corrected.pk}"
    assert api_as(Role.SUPPORT_TIER1).get("/api/journal-entries/").status_code == 403


def test_ledger_endpoints_are_described_in_the_schema(api_as):
    schema = api_as(Role.INTEGRATION).get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/trial-balance/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"market", "currency", "as_of"}
    assert {"200", "400", "403"} <= set(operation["responses"])
    assert operation["responses"]["200"]["content"]["application/json"]["examples"]
    params = {p["name"] for p in schema["paths"]["/api/journal-entries/"]["get"]["parameters"]}
    assert {"market", "account", "source_type", "date_from", "date_to"} <= params
