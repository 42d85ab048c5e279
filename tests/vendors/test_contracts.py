"""Contract lifecycle, four eyes, no overlap, amendments, vendor master data."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from settlement_ops.models import AuditEvent
from tests.factories import (
    ActiveContractFactory,
    ContractFactory,
    RateLineFactory,
    UserFactory,
    VendorFactory,
    market,
)
from tests.vendors.helpers import LANE, gb_card, shipment
from vendors.models import Contract, ContractVersion
from vendors.pricing import rate

pytestmark = pytest.mark.django_db


def _draft_with_lines(**kwargs):
    contract = ContractFactory(**kwargs)
    RateLineFactory(version=contract.versions.get(), **LANE)
    return contract


def test_full_lifecycle_through_pages(client_as, client):
    # given a specialist creates a draft
    specialist = client_as("finance_specialist")
    vendor = VendorFactory()
    response = specialist.post(
        reverse("vendors:contract_create"),
        {
            "vendor": vendor.pk,
            "service_level": "Express",
            "valid_from": "2026-02-01",
            "currency": "GBP",
            "volumetric_divisor": 6000,
        },
    )
    contract = Contract.objects.get(vendor=vendor)
    assert response.status_code == 302
    assert (contract.status, contract.service_level, contract.reference) == (
        "draft",
        "express",
        f"C-{vendor.code}-EXPRESS-001",
    )
    # when submitted without rate lines, it is refused
    response = specialist.post(reverse("vendors:contract_submit", args=[contract.pk]), follow=True)
    assert "Add or import rate lines before submitting the contract." in response.content.decode()
    RateLineFactory(version=contract.versions.get(), **LANE)
    specialist.post(reverse("vendors:contract_submit", args=[contract.pk]))
    contract.refresh_from_db()
    assert contract.status == "in_review"
    # when an approver approves
    approver = client_as("finance_approver")
    response = approver.post(reverse("vendors:contract_approve", args=[contract.pk]), follow=True)
    # then
    assert "Contract approved and active." in response.content.decode()
    contract.refresh_from_db()
    version = contract.versions.get()
    assert (contract.status, contract.approved_by, version.status) == ("active", approver.user, "active")
    assert version.activated_at is not None
    assert AuditEvent.objects.filter(kind="approval", action="contract_approve", object_id=str(contract.pk)).exists()
    # and terminating it cuts validity
    response = approver.post(
        reverse("vendors:contract_terminate", args=[contract.pk]),
        {"end_date": "2026-06-30", "reason": "Vendor exit"},
        follow=True,
    )
    contract.refresh_from_db()
    assert (contract.status, contract.valid_to, contract.termination_reason) == (
        "terminated",
        date(2026, 6, 30),
        "Vendor exit",
    )
    assert contract.history.count() >= 4


def test_author_cannot_approve_own_contract(client):
    # given a user with both roles who authored and submitted the contract
    user = UserFactory(role="finance_specialist")
    user.groups.add(Group.objects.get(name="finance_approver"))
    contract = _draft_with_lines(author=user)
    client.force_login(user)
    client.post(reverse("vendors:contract_submit", args=[contract.pk]))
    # when
    response = client.post(reverse("vendors:contract_approve", args=[contract.pk]), follow=True)
    # then
    assert "Four eyes: the person who prepared this cannot approve it." in response.content.decode()
    contract.refresh_from_db()
    assert contract.status == "in_review"


def test_submitter_cannot_approve_either(api_as, user_with_role):
    submitter = UserFactory(role="finance_specialist")
    submitter.groups.add(Group.objects.get(name="finance_approver"))
    contract = _draft_with_lines()
    api = api_as(None, user=submitter)
    assert api.post(f"/api/contracts/{contract.pk}/submit/").status_code == 200
    response = api.post(f"/api/contracts/{contract.pk}/approve/")
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "four_eyes",
        "message": "Four eyes: the person who prepared this cannot approve it.",
    }


def test_wrong_role_cannot_approve(api_as):
    contract = _draft_with_lines(status=Contract.Status.IN_REVIEW)
    for role in ("finance_specialist", "auditor", "integration"):
        assert api_as(role).post(f"/api/contracts/{contract.pk}/approve/").status_code == 403
    contract.refresh_from_db()
    assert contract.status == "in_review"


@pytest.mark.parametrize(
    "valid_from, valid_to, overlaps",
    [
        (date(2026, 6, 30), None, True),  # starts on the last day of the other
        (date(2026, 7, 1), None, False),  # starts the day after
        (date(2025, 1, 1), date(2026, 1, 1), True),  # ends on the first day of the other
        (date(2025, 1, 1), date(2025, 12, 31), False),
    ],
)
def test_two_effective_contracts_may_not_overlap(api_as, valid_from, valid_to, overlaps):
    # given an active contract 2026-01-01 .. 2026-06-30
    existing = ActiveContractFactory(valid_from=date(2026, 1, 1), valid_to=date(2026, 6, 30))
    new = _draft_with_lines(
        vendor=existing.vendor, valid_from=valid_from, valid_to=valid_to, status=Contract.Status.IN_REVIEW
    )
    # when
    response = api_as("finance_approver").post(f"/api/contracts/{new.pk}/approve/")
    # then
    new.refresh_from_db()
    if overlaps:
        assert response.status_code == 409
        assert response.json()["error"]["message"] == (
            f"Overlaps contract {existing.reference} (2026-01-01 to 2026-06-30) for the same vendor, market and service level."
        )
        assert new.status == "in_review"
    else:
        assert response.status_code == 200 and new.status == "active"


def test_other_service_level_may_overlap(api_as):
    existing = ActiveContractFactory()
    new = _draft_with_lines(vendor=existing.vendor, service_level="express", status=Contract.Status.IN_REVIEW)
    assert api_as("finance_approver").post(f"/api/contracts/{new.pk}/approve/").status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_approvals_of_overlapping_contracts_activate_one():
    from tests.conftest import run_concurrently
    from vendors.services import contract_approve

    vendor = VendorFactory()
    a = _draft_with_lines(vendor=vendor, status=Contract.Status.IN_REVIEW)
    b = _draft_with_lines(vendor=vendor, status=Contract.Status.IN_REVIEW, valid_from=date(2026, 3, 1))
    first, second = UserFactory(role="finance_approver"), UserFactory(role="finance_approver")
    results, errors = run_concurrently(
        lambda: contract_approve(actor=first, contract=a), lambda: contract_approve(actor=second, contract=b)
    )
    assert sum(r is not None for r in results) == 1
    assert [e.code for e in errors if e] == ["contract_overlap"]
    assert Contract.objects.filter(vendor=vendor, status="active").count() == 1


@pytest.mark.postgres
def test_database_refuses_overlap_even_without_the_service():
    from django.db import IntegrityError

    existing = ActiveContractFactory()
    with pytest.raises(IntegrityError):
        ActiveContractFactory(vendor=existing.vendor, valid_from=date(2026, 5, 1))


def test_wrong_currency_and_bad_dates_are_refused(api_as):
    vendor = VendorFactory(market=market("DE"))
    api = api_as("finance_specialist")
    response = api.post(
        "/api/contracts/",
        {"vendor": vendor.pk, "service_level": "standard", "valid_from": "2026-01-01", "currency": "GBP"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "wrong_currency",
        "message": "Contracts in DE are in EUR, not GBP.",
        "field": "currency",
    }
    response = api.post(
        "/api/contracts/",
        {"vendor": vendor.pk, "service_level": "standard", "valid_from": "2026-02-01", "valid_to": "2026-01-31"},
        format="json",
    )
    assert response.json()["error"]["message"] == "Valid to must be on or after valid from."
    response = api.post(
        "/api/contracts/", {"vendor": vendor.pk, "service_level": "standard", "valid_from": "2026-02-01"}, format="json"
    )
    assert response.status_code == 201
    assert (response.json()["currency"], response.json()["status"], response.json()["market"]) == ("EUR", "draft", "DE")


def test_reject_sends_back_to_draft_with_reason(client_as):
    contract = _draft_with_lines(status=Contract.Status.IN_REVIEW)
    approver = client_as("finance_approver")
    response = approver.post(reverse("vendors:contract_reject", args=[contract.pk]), {"reason": ""}, follow=True)
    assert "Give a reason for the rejection." in response.content.decode()
    approver.post(reverse("vendors:contract_reject", args=[contract.pk]), {"reason": "Fuel % too high"})
    contract.refresh_from_db()
    assert contract.status == "draft"


def test_retroactive_amendment_through_the_api(api_as):
    # given an active contract whose v1 prices 5 kg at 10.60
    contract, v1, _ = gb_card(surcharges=False)
    specialist, approver = api_as("finance_specialist"), None
    # when a specialist creates v2 from 1 Feb (copying v1), it cannot be approved by its author
    response = specialist.post(
        "/api/contract-versions/",
        {"contract": contract.pk, "effective_from": "2026-02-01", "notes": "2026 review"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    v2 = ContractVersion.objects.get(pk=response.json()["id"])
    assert (v2.number, v2.status, v2.rate_lines.count()) == (2, "draft", 3)
    v2.rate_lines.filter(weight_from_kg=D("1")).update(base_price=D("4.40"))
    assert specialist.post(f"/api/contract-versions/{v2.pk}/submit/").json()["status"] == "in_review"
    # then a shipment of 10 Feb still uses v1 until v2 is approved
    assert rate(shipment(contract, ship_date=date(2026, 2, 10))).contract_version_id == v1.pk
    approver = api_as("finance_approver")
    response = approver.post(f"/api/contract-versions/{v2.pk}/approve/")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["is_retroactive"]) == ("active", True)
    quote = rate(shipment(contract, ship_date=date(2026, 2, 10)))
    assert (quote.contract_version_id, quote.amount_of("freight")) == (v2.pk, D("10.80"))
    assert rate(shipment(contract, ship_date=date(2026, 1, 31))).contract_version_id == v1.pk


def test_vendor_tax_numbers_are_validated(api_as):
    api = api_as("finance_specialist")
    cases = [
        (
            "GB",
            "GB123456789",
            400,
            "UK VAT number 'GB123456789' is not valid: The number's checksum or check digit is invalid.",
        ),
        ("DE", "FR40303265045", 400, "EU VAT number 'FR40303265045' must start with DE for a vendor in DE."),
        (
            "ID",
            "013000667091000",
            400,
            "NPWP '013000667091000' is not valid: The number's checksum or check digit is invalid.",
        ),
        ("VN", "0100233488", 201, None),
        ("ID", "013000666091000", 201, None),
    ]
    for i, (code, vat, expected, message) in enumerate(cases):
        response = api.post(
            "/api/vendors/",
            {"market": code, "code": f"V-NEW-{i}", "legal_name": "New", "vendor_type": "last_mile", "vat_number": vat},
            format="json",
        )
        assert response.status_code == expected, response.json()
        if message:
            assert response.json()["error"]["message"] == message
    assert api.get("/api/vendors/?market=ID").json()["results"][0]["vat_number"] == "01.300.066.6-091.000"


def test_contract_list_filters_and_export(client_as):
    ActiveContractFactory(vendor=VendorFactory(market=market("DE")))
    draft = ContractFactory()
    web = client_as("auditor")
    page = web.get(reverse("vendors:contract_list"), {"status": "draft"})
    assert list(page.context["object_list"]) == [draft]
    export = web.get(reverse("vendors:contract_export"), {"status": "draft"})
    assert export.status_code == 200
    import io

    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(b"".join(export.streaming_content)), read_only=True)
    rows = list(workbook["Contracts"].iter_rows(values_only=True))
    assert rows[2][0] == "Reference" and rows[3][0] == draft.reference and len(rows) == 4
    assert rows[3][6].date() == date(2026, 1, 1)  # a date cell, not text


def test_a_contract_carries_the_carriers_on_time_promise_and_late_refund(client_as):
    # given
    specialist = client_as("finance_specialist")
    vendor = VendorFactory()
    form = {"vendor": vendor.pk, "service_level": "standard", "valid_from": "2026-02-01", "currency": "GBP"}
    # when: an impossible refund is refused with the field named, nothing is created
    response = specialist.post(
        reverse("vendors:contract_create"), {**form, "volumetric_divisor": 5000, "late_refund_percent": "150"}
    )
    assert response.status_code == 400 and "less than or equal to 100" in response.content.decode()
    assert not Contract.objects.filter(vendor=vendor).exists()
    # when: the promise and the refund are given
    specialist.post(
        reverse("vendors:contract_create"),
        {**form, "volumetric_divisor": 5000, "on_time_days": "2", "late_refund_percent": "50"},
    )
    # then
    contract = Contract.objects.get(vendor=vendor)
    assert (contract.on_time_days, contract.late_refund_percent) == (2, D("50.00"))
    page = specialist.get(reverse("vendors:contract_detail", args=[contract.pk])).content.decode()
    assert "2 days from pickup" in page and "50 % of the freight charge" in page
