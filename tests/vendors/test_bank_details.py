"""Bank detail changes: validated per market, approved by a second user, dated on the vendor."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from settlement_ops.models import AuditEvent
from tests.factories import UserFactory, VendorBankAccountFactory, VendorBankChangeRequestFactory, VendorFactory, market
from vendors.models import VendorBankAccount, VendorBankChangeRequest

pytestmark = pytest.mark.django_db


def test_specialist_requests_and_approver_approves_through_pages(client_as, client):
    # given a vendor paid to an old account
    vendor = VendorFactory()
    old = VendorBankAccountFactory(vendor=vendor)
    web = client_as("finance_specialist")
    # when the specialist asks for new details
    response = web.post(
        reverse("vendors:bank_change_request", args=[vendor.pk]),
        {
            "account_holder": "Carrier Ltd",
            "iban": "GB33 BUKB 2020 1555 5555 55",
            "bic": "BUKBGB22",
            "currency": "GBP",
            "reason": "letter",
        },
    )
    # then nothing changes until approval
    assert response.status_code == 302
    change = VendorBankChangeRequest.objects.get(vendor=vendor)
    assert (change.status, change.iban) == ("pending", "GB33BUKB20201555555555")
    vendor.refresh_from_db()
    assert vendor.bank_details_changed_at is None
    # when an approver approves
    approver = client_as("finance_approver")
    response = approver.post(reverse("vendors:bank_change_approve", args=[change.pk]), follow=True)
    # then the new account is active, the old one retired, and the change dated
    assert "Bank details approved" in response.content.decode()
    change.refresh_from_db()
    old.refresh_from_db()
    vendor.refresh_from_db()
    assert change.status == "approved" and change.decided_by == approver.user
    assert old.status == "retired"
    assert vendor.bank_accounts.get(status="active").iban == "GB33BUKB20201555555555"
    assert vendor.bank_details_changed_at == change.decided_at
    assert AuditEvent.objects.filter(
        kind="approval", action="vendor_bank_change_approve", object_id=str(change.pk)
    ).exists()


def test_requester_cannot_approve_own_change(client):
    # given a user who is both specialist and approver
    user = UserFactory(role="finance_specialist")
    user.groups.add(Group.objects.get(name="finance_approver"))
    change = VendorBankChangeRequestFactory(requested_by=user)
    client.force_login(user)
    # when
    response = client.post(reverse("vendors:bank_change_approve", args=[change.pk]), follow=True)
    # then
    assert "Four eyes: the person who prepared this cannot approve it." in response.content.decode()
    change.refresh_from_db()
    assert change.status == "pending"
    assert not VendorBankAccount.objects.filter(vendor=change.vendor).exists()


@pytest.mark.parametrize(
    "market_code, data, field, message",
    [
        (
            "DE",
            {"iban": "DE89370400440532013001"},
            "iban",
            "IBAN &#x27;DE89370400440532013001&#x27; is not valid: Invalid checksum digits",
        ),
        ("DE", {"account_number": "12345678"}, "iban", "An IBAN is required for vendors in this market."),
        (
            "DE",
            {"iban": "DE89370400440532013000", "bic": "BNPAFRPPXXX"},
            "bic",
            "BIC country FR does not match the IBAN country DE.",
        ),
        (
            "GB",
            {"bank_code": "12345", "account_number": "12345678"},
            "bank_code",
            "Sort code must be 6 digits (or give an IBAN).",
        ),
        (
            "ID",
            {"bank_code": "014", "account_number": "12345"},
            "account_number",
            "Indonesian account number must be 10 to 16 digits.",
        ),
        ("VN", {"iban": "DE89370400440532013000"}, "iban", "Vendors in VN are paid to a local account, not an IBAN."),
    ],
)
def test_bad_bank_details_are_refused_with_the_field(client_as, market_code, data, field, message):
    vendor = VendorFactory(market=market(market_code))
    web = client_as("finance_specialist")
    payload = {"account_holder": "X", "currency": vendor.market.currency, **data}
    response = web.post(reverse("vendors:bank_change_request", args=[vendor.pk]), payload)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert response.context["form"].errors[field]
    assert not VendorBankChangeRequest.objects.exists()


def test_local_accounts_for_id_and_vn_are_accepted(api_as):
    api = api_as("finance_specialist")
    for code, bank_code, number in (("ID", "014", "5270012345"), ("VN", "vcb", "1012345678")):
        vendor = VendorFactory(market=market(code))
        response = api.post(
            "/api/vendor-bank-changes/",
            {
                "vendor": vendor.pk,
                "account_holder": "PT X",
                "bank_code": bank_code,
                "account_number": number,
                "currency": vendor.market.currency,
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
        assert response.json()["status"] == "pending"
    assert VendorBankChangeRequest.objects.get(vendor__market="VN").bank_code == "VCB"


def test_api_wrong_currency_second_pending_and_reject(api_as, user_with_role):
    vendor = VendorFactory()
    api = api_as("finance_specialist")
    body = {"vendor": vendor.pk, "account_holder": "X", "iban": "GB29NWBK60161331926819", "currency": "EUR"}
    response = api.post("/api/vendor-bank-changes/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "wrong_currency",
        "message": "Vendors in GB are paid in GBP, not EUR.",
        "field": "currency",
    }
    assert api.post("/api/vendor-bank-changes/", {**body, "currency": "GBP"}, format="json").status_code == 201
    second = api.post("/api/vendor-bank-changes/", {**body, "currency": "GBP"}, format="json")
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "pending_exists"
    change = VendorBankChangeRequest.objects.get()
    # the specialist may not decide; an approver rejects with a reason
    assert api.post(f"/api/vendor-bank-changes/{change.pk}/reject/", {"reason": "no"}, format="json").status_code == 403
    approver = api_as("finance_approver")
    response = approver.post(
        f"/api/vendor-bank-changes/{change.pk}/reject/", {"reason": "Call-back failed"}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["decision_note"]) == ("rejected", "Call-back failed")
    again = approver.post(f"/api/vendor-bank-changes/{change.pk}/approve/")
    assert again.status_code == 409
    assert again.json()["error"]["message"] == "This change request is already rejected."


def test_create_is_idempotent(api_as):
    vendor = VendorFactory()
    api = api_as("finance_specialist")
    body = {"vendor": vendor.pk, "account_holder": "X", "iban": "GB29NWBK60161331926819", "currency": "GBP"}
    first = api.post("/api/vendor-bank-changes/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    retry = api.post("/api/vendor-bank-changes/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert first.json() == retry.json()
    assert VendorBankChangeRequest.objects.count() == 1


def test_vendor_detail_shows_accounts_and_pending_changes(client_as):
    change = VendorBankChangeRequestFactory()
    VendorBankAccountFactory(vendor=change.vendor)
    page = client_as("finance_approver").get(reverse("vendors:vendor_detail", args=[change.vendor.pk])).content.decode()
    assert "GB29NWBK60161331926819" in page and "GB33BUKB20201555555555" in page
    assert "Pending approval" in page and "Approve" in page
    qa_page = (
        client_as("compensation_qa").get(reverse("vendors:vendor_detail", args=[change.vendor.pk])).content.decode()
    )
    assert "GB29NWBK60161331926819" not in qa_page  # no bank details for roles without them


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_approvals_racing_create_one_account():
    from tests.conftest import run_concurrently
    from vendors.services import vendor_bank_change_approve

    change = VendorBankChangeRequestFactory()
    first, second = UserFactory(role="finance_approver"), UserFactory(role="finance_approver")
    results, errors = run_concurrently(
        lambda: vendor_bank_change_approve(actor=first, change_request=change),
        lambda: vendor_bank_change_approve(actor=second, change_request=change),
    )
    assert sum(r is not None for r in results) == 1
    assert [type(e).__name__ for e in errors if e] == ["ConflictError"]
    assert VendorBankAccount.objects.filter(vendor=change.vendor, status="active").count() == 1
