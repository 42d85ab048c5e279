"""Idempotency-Key on the payables actions (payment mark, holds, invoice actions)."""

import datetime as dt

import pytest

from billing.payables import services
from billing.payables.models import Payment
from settlement_ops.models import IdempotencyRecord
from settlement_ops.roles import Role
from tests.factories import market
from tests.payables.helpers import line, rated, setup_vendor, upload

pytestmark = pytest.mark.django_db


def _exported_payment(approver):
    vendor, rate_line, specialist = setup_vendor()
    cl = rated(vendor, rate_line)
    upload(vendor, specialist, [line(cl.shipment.tracking_number, "4.50", "0.45")], number="INV-1")
    run = services.payment_run_prepare(
        actor=specialist, market=market("GB"), currency="GBP", pay_date=dt.date(2026, 5, 1)
    )
    services.payment_run_approve(actor=approver, run=run)
    services.payment_run_export(actor=specialist, run=run)
    return run.payments.get(), specialist


def test_payment_mark_with_a_reused_key_and_another_body_is_refused_not_run(api_as, approver):
    # given a payment marked paid through the API with an Idempotency-Key
    payment, specialist = _exported_payment(approver)
    client = api_as(Role.FINANCE_SPECIALIST, user=specialist)
    url = f"/api/payments/{payment.pk}/mark/"
    first = client.post(url, {"status": "paid"}, format="json", HTTP_IDEMPOTENCY_KEY="mark-1")
    assert first.status_code == 200
    # when the same key comes back with a rejection
    again = client.post(url, {"status": "rejected", "reason": "Returned"}, format="json", HTTP_IDEMPOTENCY_KEY="mark-1")
    # then it is refused and the payment stays paid, with no reversal
    assert again.status_code == 422
    assert again.json()["error"]["code"] == "idempotency_key_reused"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PAID and payment.reversal_entry_id is None


def test_payment_mark_replay_returns_the_first_bytes(api_as, approver):
    # given
    payment, specialist = _exported_payment(approver)
    client = api_as(Role.FINANCE_SPECIALIST, user=specialist)
    url = f"/api/payments/{payment.pk}/mark/"
    # when
    first = client.post(url, {"status": "paid"}, format="json", HTTP_IDEMPOTENCY_KEY="mark-2")
    again = client.post(url, {"status": "paid"}, format="json", HTTP_IDEMPOTENCY_KEY="mark-2")
    # then
    assert again["Idempotent-Replayed"] == "true"
    assert again.content == first.content and again["Content-Type"] == first["Content-Type"]
    assert IdempotencyRecord.objects.get(key="mark-2").status == IdempotencyRecord.Status.DONE


@pytest.mark.parametrize(
    "viewset",
    ["VendorInvoiceViewSet", "PayableViewSet", "PaymentViewSet", "PaymentRunViewSet", "VendorDeductionViewSet"],
)
def test_every_payables_viewset_with_a_post_is_idempotent(viewset):
    from billing.payables import api
    from settlement_ops.api import IdempotentMixin

    assert issubclass(getattr(api, viewset), IdempotentMixin)
