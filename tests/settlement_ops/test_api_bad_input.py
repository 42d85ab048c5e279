"""Inputs that once answered 500: each now gets a 4xx naming the field (or a per-record rejection)."""

import pytest

from settlement_ops.roles import Role
from tests.factories import SellerFactory, VendorFactory, market

pytestmark = pytest.mark.django_db


@pytest.fixture
def integration(api_as):
    client = api_as(Role.INTEGRATION)
    client.raise_request_exception = False
    return client


@pytest.mark.parametrize(("amount", "fmt"), [("", "json"), (None, "json"), ("", "multipart"), (" ", "multipart")])
def test_vendor_deduction_with_an_empty_amount_is_a_field_error(api_as, amount, fmt):
    # given
    client = api_as(Role.FINANCE_SPECIALIST)
    client.raise_request_exception = False
    vendor = VendorFactory()
    body = {"vendor": vendor.code, "amount": amount, "reason": "lost parcel", "source_type": "manual", "source_id": "1"}
    # when
    response = client.post("/api/vendor-deductions/", body, format=fmt)
    # then
    assert response.status_code == 400, response.content
    assert "amount" in response.json()["error"]["fields"]


@pytest.mark.parametrize("pk", ["abc", "1.5", "99999999999999999999999"])
def test_payout_deduction_confirm_with_a_non_integer_id_is_404(integration, pk):
    response = integration.post(f"/api/receivables/payout-deductions/{pk}/confirm/", {}, format="json")
    assert response.status_code == 404


def test_period_workbook_download_with_a_non_integer_id_is_404(api_as):
    client = api_as(Role.FINANCE_SPECIALIST)
    client.raise_request_exception = False
    assert client.get("/api/period-workbooks/%C2%A4x/download/").status_code == 404


def test_bulk_shipments_with_a_nul_character_reject_that_record_only(integration):
    # given one good record and records with NUL in a value, in an event and in a code
    vendor = VendorFactory(market=market("GB"))
    seller = SellerFactory(market=market("GB"))
    good = {
        "tracking_number": "T-GOOD",
        "vendor": vendor.code,
        "seller": seller.code,
        "service": "STD",
        "origin_zone": "LDN",
        "destination_zone": "LDN",
        "actual_weight_kg": "1.200",
        "ship_date": "2026-11-02",
    }
    records = [
        good,
        {**good, "tracking_number": "T-\x00"},
        {**good, "tracking_number": "T-2", "vendor": "V\x00"},
        {**good, "tracking_number": "T-3", "events": [{"status": "delivered\x00", "at": "2026-11-03T10:00:00Z"}]},
    ]
    # when
    response = integration.post("/api/shipments/bulk/", records, format="json")
    # then
    assert response.status_code == 200, response.content
    rejected = {r["index"]: r for r in response.json()["rejected"]}
    assert set(rejected) == {1, 2, 3}
    assert rejected[1]["field"] == "tracking_number" and "NUL" in rejected[1]["reason"]
    assert rejected[2]["field"] == "vendor"
    assert rejected[3]["field"] == "events[0].status"


def test_fields_that_can_be_null_are_nullable_and_always_present_in_the_schema():
    from drf_spectacular.generators import SchemaGenerator

    components = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    for component, name in [
        ("Contract", "approved_by"),
        ("VendorInvoice", "credited_invoice"),
        ("Receipt", "seller_code"),
        ("Payable", "held_by"),
    ]:
        assert components[component]["properties"][name].get("nullable") is True, (component, name)
        assert name in components[component]["required"], (component, name)
    assert "currency" in components["VendorInvoice"]["required"]
    # every operation documents its error answers
    operation = SchemaGenerator().get_schema(request=None, public=True)["paths"]["/api/payments/{id}/mark/"]["post"]
    assert {"200", "400", "401", "403", "404", "409", "422", "429"} <= set(operation["responses"])
