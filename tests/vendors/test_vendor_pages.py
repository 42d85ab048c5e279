"""Vendor master data through the staff pages: create, edit, validation, history, roles."""

import pytest

from settlement_ops.models import AuditEvent
from settlement_ops.roles import Role
from tests.factories import VendorFactory, market
from vendors.models import Vendor

pytestmark = pytest.mark.django_db

NEW = {
    "market": "DE",
    "code": "V-DE-77",
    "legal_name": "Blitz Kurier GmbH",
    "vendor_type": "last_mile",
    "vat_number": "DE136695976",
    "contact_email": "ap@blitz.example",
    "payment_terms_days": "",
}


def test_specialist_creates_a_vendor_with_a_checked_vat_number(client_as):
    client = client_as(Role.FINANCE_SPECIALIST)
    response = client.post("/vendors/new/", NEW)
    vendor = Vendor.objects.get(code="V-DE-77")
    assert response.status_code == 302 and response["Location"] == f"/vendors/{vendor.pk}/"
    assert (vendor.market_id, vendor.vat_number, vendor.payment_terms_days) == (
        "DE",
        "DE136695976",
        market("DE").payment_terms_days,
    )
    assert AuditEvent.objects.filter(action="vendor_create", object_id=str(vendor.pk)).exists()


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"vat_number": "DE136695977"}, "vat_number", "check digit"),
        ({"code": "V-DUP"}, "code", "already used"),
        ({"contact_email": "not-an-email"}, "contact_email", "Enter a valid email address."),
    ],
)
def test_bad_vendor_data_is_shown_on_its_field_and_nothing_is_saved(client_as, changes, field, message):
    VendorFactory(code="V-DUP")
    before = Vendor.objects.count()
    response = client_as(Role.FINANCE_SPECIALIST).post("/vendors/new/", {**NEW, **changes})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors and message.lower() in " ".join(errors[field]).lower()
    assert Vendor.objects.count() == before


def test_edit_keeps_market_and_code_and_records_history(client_as):
    vendor = VendorFactory(market=market("GB"), legal_name="Old Name Ltd")
    client = client_as(Role.FINANCE_SPECIALIST)
    response = client.post(
        f"/vendors/{vendor.pk}/edit/",
        {
            "legal_name": "New Name Ltd",
            "vendor_type": vendor.vendor_type,
            "vat_number": "GB980780684",
            "payment_terms_days": "45",
            "status": "blocked",
            "market": "DE",
            "code": "HACK",
        },
    )
    assert response.status_code == 302
    vendor.refresh_from_db()
    assert (vendor.legal_name, vendor.payment_terms_days, vendor.status, vendor.market_id) == (
        "New Name Ltd",
        45,
        "blocked",
        "GB",
    )
    assert vendor.code != "HACK"
    history = client_as(Role.AUDITOR).get(f"/history/vendors/vendor/{vendor.pk}/").context["changes"]
    changed = {f["field"]: (f["before"], f["after"]) for f in history[0]["fields"]}
    assert changed["legal_name"] == ("Old Name Ltd", "New Name Ltd")
    assert changed["status"] == ("active", "blocked")


def test_approvers_and_auditors_cannot_create_or_edit_vendors(client_as):
    vendor = VendorFactory()
    for role in (Role.FINANCE_APPROVER, Role.AUDITOR):
        client = client_as(role)
        assert client.post("/vendors/new/", NEW).status_code == 403
        assert client.post(f"/vendors/{vendor.pk}/edit/", {"legal_name": "x"}).status_code == 403
    assert not Vendor.objects.filter(code="V-DE-77").exists()
