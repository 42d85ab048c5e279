"""Sellers API: create (market by code, unique codes, VAT checked for the market) and update, with
history and audit; retries replay; wrong roles and bad input are refused with the field named."""

import pytest

from sellers.models import Seller
from settlement_ops.models import AuditEvent
from tests.factories import SellerFactory


def _seller(**extra):
    return {
        "code": "S-GB-900",
        "name": "Tea & Co",
        "legal_name": "Tea and Co Ltd",
        "market": "GB",
        "vat_number": "GB 980 7806 84",
        "email": "finance@tea.example",
        **extra,
    }


@pytest.mark.django_db
def test_integration_creates_and_updates_a_seller_once_with_history(api_as):
    api = api_as("integration")
    # when
    created = api.post("/api/sellers/", _seller(), format="json", HTTP_IDEMPOTENCY_KEY="s-1")
    retry = api.post("/api/sellers/", _seller(), format="json", HTTP_IDEMPOTENCY_KEY="s-1")
    # then: one seller, its VAT number normalised, the retry answered with the first result
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["code"], body["market"], body["vat_number"], body["status"], body["net_from_payout"]) == (
        "S-GB-900",
        "GB",
        "GB980780684",
        "active",
        False,
    )
    assert retry.content == created.content and Seller.objects.filter(code="S-GB-900").count() == 1
    # when: updated (name, payout netting, status); market and code stay
    changed = api.patch(
        f"/api/sellers/{body['id']}/",
        {"name": "Tea and Co", "net_from_payout": True, "status": "suspended", "market": "DE", "code": "X"},
        format="json",
    )
    # then
    assert changed.status_code == 200, changed.content
    assert {k: changed.json()[k] for k in ("name", "net_from_payout", "status", "market", "code")} == {
        "name": "Tea and Co",
        "net_from_payout": True,
        "status": "suspended",
        "market": "GB",
        "code": "S-GB-900",
    }
    seller = Seller.objects.get(pk=body["id"])
    assert [h.history_type for h in seller.history.order_by("history_date")] == ["+", "~"]
    update = AuditEvent.objects.get(action="seller_update", object_id=str(seller.pk))
    assert update.detail["changed"]["status"] == ["active", "suspended"]
    assert update.actor == api.user
    listed = api.get("/api/sellers/?market=GB&code=s-gb-900").json()["results"]
    assert [row["id"] for row in listed] == [seller.pk]


@pytest.mark.django_db
def test_bad_sellers_are_refused_naming_the_field(api_as):
    SellerFactory(code="S-TAKEN")
    api = api_as("finance_specialist")
    cases = [
        (_seller(code="s-taken"), "code"),  # already used, whatever the case
        (_seller(code="bad code!"), "code"),
        (_seller(market="XX"), "market"),
        (_seller(vat_number="GB123"), "vat_number"),
        (_seller(vat_number="DE136695976", market="ID"), "vat_number"),
        (_seller(email="not-an-email"), "email"),
        (_seller(name="   "), "name"),
        (_seller(status="gone"), "status"),
    ]
    for body, field in cases:
        response = api.post("/api/sellers/", body, format="json")
        assert response.status_code == 400, (body, response.content)
        error = response.json()["error"]
        assert error.get("field") == field or field in error.get("fields", {}), (field, error)
    assert not Seller.objects.filter(name="Tea & Co").exists()
    # wrong roles: an auditor reads but cannot create or change; a seller user cannot even read
    seller = SellerFactory()
    assert api_as("auditor").post("/api/sellers/", _seller(), format="json").status_code == 403
    assert api_as("auditor").patch(f"/api/sellers/{seller.pk}/", {"name": "x"}, format="json").status_code == 403
    assert api_as("seller_user").get("/api/sellers/").status_code == 403
    assert api_as("integration").patch("/api/sellers/999999/", {"name": "x"}, format="json").status_code == 404
    # an update with a bad VAT number changes nothing
    api = api_as("integration")
    assert api.patch(f"/api/sellers/{seller.pk}/", {"vat_number": "GB1"}, format="json").status_code == 400
    seller.refresh_from_db()
    assert seller.vat_number == ""
