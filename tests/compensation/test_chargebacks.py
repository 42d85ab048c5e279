"""Chargebacks to carriers (payables deductions) and sellers (charge invoices), posted once;
disputes through the staff pages and the portal; reversal with four eyes; the override in history."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from billing.payables.models import Payable, VendorDeduction
from billing.receivables.models import Invoice
from billing.receivables.services import balance_problems
from compensation import services
from compensation.models import Chargeback, CompensationRequest, Dispute
from settlement_ops.errors import ConflictError, PermissionDeniedError
from settlement_ops.models import AccountKind, JournalEntry
from settlement_ops.roles import Role
from settlement_ops.selectors import unbalanced_entries
from tests.compensation.helpers import SHIP, World, carrier_chargeback
from tests.factories import SellerUserFactory, UserFactory

pytestmark = pytest.mark.django_db
D = Decimal


def _lines(entry) -> dict:
    return {(p.account.kind, p.party_type): p.amount for p in entry.postings.select_related("account")}


def _seller_chargeback(world: World, **record):
    shipment = world.shipment(("picked_up", SHIP), ("delivered", SHIP + timedelta(days=1)))
    data = world.record(tracking_number=shipment.tracking_number, reason="wrong_item", evidence=["photo-1"], **record)
    world.intake(data)
    world.audit()
    request = CompensationRequest.objects.get(external_id=data["external_id"])
    return services.chargeback_post(actor=world.qa, request=request)


def test_a_carrier_chargeback_is_a_deduction_on_its_payables_posted_once():
    # given
    chargeback = carrier_chargeback()
    entries = JournalEntry.objects.count()
    # when
    again = services.chargeback_post(actor=chargeback.created_by, request=chargeback.request)
    # then
    assert again == chargeback and JournalEntry.objects.count() == entries
    deduction = chargeback.deduction
    assert (deduction.amount, deduction.source_type) == (D("20.00"), "compensation_chargeback")
    payable = Payable.objects.get(deduction=deduction)
    assert (payable.amount, payable.status) == (D("-20.00"), Payable.Status.OPEN)
    assert payable.reference.startswith(f"Deduction {deduction.pk}: Chargeback GB-")
    assert _lines(deduction.entry) == {
        (AccountKind.VENDOR_PAYABLE, "vendor"): D("20.00"),
        (AccountKind.COMPENSATION_EXPENSE, ""): D("-20.00"),
    }
    assert not unbalanced_entries()


def test_a_seller_chargeback_is_an_invoice_with_vat_where_the_policy_says_so():
    # given
    world = World(seller_charge_vat=True)
    # when
    chargeback = _seller_chargeback(world)
    # then
    invoice = chargeback.invoice
    assert (invoice.net_total, invoice.vat_total, invoice.gross_total, invoice.amount_open) == (
        D("20.00"),
        D("4.00"),
        D("24.00"),
        D("24.00"),
    )
    assert invoice.number.startswith("GB-INV-") and invoice.seller == world.seller
    assert _lines(invoice.entry) == {
        (AccountKind.SELLER_RECEIVABLE, "seller"): D("24.00"),
        (AccountKind.COMPENSATION_EXPENSE, ""): D("-20.00"),
        (AccountKind.VAT_OUTPUT, ""): D("-4.00"),
    }
    assert balance_problems() == [] and not unbalanced_entries()
    assert services.chargeback_post(actor=world.qa, request=chargeback.request) == chargeback
    assert Invoice.objects.filter(seller=world.seller).count() == 1


def test_a_non_compliant_or_platform_request_is_not_charged_back():
    world = World()
    record = world.record(amount="500.00")  # over every cap
    world.intake(record)
    world.audit()
    request = CompensationRequest.objects.get(external_id=record["external_id"])
    with pytest.raises(ConflictError, match="only a compliant compensation"):
        services.chargeback_post(actor=world.qa, request=request)


def test_a_seller_user_cannot_see_another_seller_s_chargeback(client, api_as):
    # given
    chargeback = _seller_chargeback(World())
    stranger = SellerUserFactory().user
    own = SellerUserFactory(seller=chargeback.seller).user
    # when / then
    client.force_login(stranger)
    assert client.get(reverse("portal:chargeback_detail", args=[chargeback.pk])).status_code == 404
    response = client.post(reverse("portal:chargeback_dispute", args=[chargeback.pk]), {"reason": "not mine"})
    assert response.status_code == 404 and not Dispute.objects.exists()
    assert (
        api_as(Role.SELLER_USER, user=stranger).get(f"/api/compensation-chargebacks/{chargeback.pk}/").status_code
        == 404
    )
    client.force_login(own)
    page = client.get(reverse("portal:chargebacks"))
    assert page.status_code == 200 and chargeback.request.order_number in page.content.decode()


def test_seller_disputes_in_the_portal_and_an_accepted_dispute_is_reversed_with_four_eyes(client):
    # given
    world = World()
    chargeback = _seller_chargeback(world)
    client.force_login(SellerUserFactory(seller=chargeback.seller).user)
    # when: the seller disputes, QA accepts
    client.post(reverse("portal:chargeback_dispute", args=[chargeback.pk]), {"reason": "We shipped the right item"})
    dispute = Dispute.objects.get()
    assert (dispute.raised_via, dispute.status) == ("portal", Dispute.Status.OPEN)
    client.force_login(world.qa)
    client.post(
        reverse("compensation:dispute_decide", args=[dispute.pk]), {"decision": "accept", "note": "photo shows it"}
    )
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.ACCEPTED
    # then: the one who accepted cannot approve; finance can
    with pytest.raises(PermissionDeniedError):
        services.dispute_approve(actor=world.qa, dispute=dispute)
    approver = UserFactory(role=Role.FINANCE_APPROVER)
    client.force_login(approver)
    client.post(reverse("compensation:dispute_approve", args=[dispute.pk]))
    chargeback.refresh_from_db()
    dispute.refresh_from_db()
    assert (chargeback.status, dispute.status, dispute.approved_by) == (
        Chargeback.Status.REVERSED,
        Dispute.Status.REVERSED,
        approver,
    )
    invoice = Invoice.objects.get(pk=chargeback.invoice_id)
    assert (invoice.amount_open, invoice.status) == (D("0"), Invoice.Status.CREDITED)
    assert chargeback.reversal_entry.reverses == invoice.entry
    assert balance_problems() == [] and not unbalanced_entries()
    assert chargeback.request.__class__.objects.get(pk=chargeback.request_id).liable_party == "platform"


def test_vendor_dispute_through_staff_pages_withdraws_the_open_deduction(client):
    # given
    chargeback = carrier_chargeback()
    specialist = UserFactory(role=Role.FINANCE_SPECIALIST)
    qa = UserFactory(role=Role.COMPENSATION_QA)
    client.force_login(specialist)
    client.post(reverse("compensation:chargeback_dispute", args=[chargeback.pk]), {"reason": "Delivered, see POD"})
    dispute = Dispute.objects.get()
    services.dispute_decide(actor=qa, dispute=dispute, accept=True)
    # when
    services.dispute_approve(actor=UserFactory(role=Role.FINANCE_APPROVER), dispute=dispute)
    # then
    assert not Payable.objects.filter(deduction_id=chargeback.deduction_id).exists()
    deduction = VendorDeduction.objects.get(pk=chargeback.deduction_id)
    assert JournalEntry.objects.filter(reverses=deduction.entry).count() == 1
    assert not unbalanced_entries()


def test_a_rejected_dispute_keeps_the_chargeback_and_needs_a_reason():
    chargeback = carrier_chargeback()
    qa = UserFactory(role=Role.COMPENSATION_QA)
    dispute = services.dispute_open(actor=qa, chargeback=chargeback, reason="vendor says no")
    with pytest.raises(ConflictError):
        services.dispute_open(actor=qa, chargeback=chargeback, reason="again")
    from settlement_ops.errors import DomainError

    with pytest.raises(DomainError):
        services.dispute_decide(actor=qa, dispute=dispute, accept=False)
    services.dispute_decide(actor=qa, dispute=dispute, accept=False, note="custody scan is clear")
    chargeback.refresh_from_db()
    assert chargeback.status == Chargeback.Status.POSTED


def test_qa_overrides_the_liable_party_with_a_reason_kept_in_history(client):
    # given
    world = World()
    shipment = world.shipment(("picked_up", SHIP), ("delivered", SHIP + timedelta(days=1)))
    record = world.record(tracking_number=shipment.tracking_number, reason="other")
    world.intake(record)
    world.audit()
    request = CompensationRequest.objects.get(external_id=record["external_id"])
    assert request.liable_party == "platform"
    client.force_login(world.qa)
    # when
    client.post(
        reverse("compensation:request_override", args=[request.pk]),
        {"party": "seller", "reason": "Seller confirmed it mislabelled the parcel"},
    )
    # then
    request.refresh_from_db()
    assert (request.liable_party, request.liable_overridden) == ("seller", True)
    last = request.history.first()
    assert last.liable_party == "seller" and last.history_change_reason.startswith("Seller confirmed")
    assert last.history_user is None or last.liable_basis.startswith("Decided by QA")
    page = client.get(reverse("compensation:request_detail", args=[request.pk]))
    assert page.status_code == 200 and "Decided by QA" in page.content.decode()
