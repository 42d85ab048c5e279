"""End to end through the doors users use: a lost parcel from the buyer's compensation to a
deduction netted in a paid payment run (and on the remittance advice), and a wrong item to a
seller charge invoice paid by a bank receipt — the ledger balanced and the sub-ledgers tied after
every step.

    GB carrier invoice INV-1: 4.50 + fuel 0.45 = 4.95 net, VAT 0.99, gross 5.94 (payable)
    lost parcel (carrier custody)  compensation GBP 3.00 -> carrier deduction 3.00
    payment run: 5.94 - 3.00 = 2.94 paid
    wrong item                     compensation GBP 7.50 -> seller charge invoice 7.50 (no VAT)
    bank receipt quoting the invoice number 7.50 -> invoice paid
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from billing.models import ShipmentEvent
from billing.payables.exports import remittance_rows
from billing.payables.models import Payable, Payment, PaymentRun
from billing.receivables.models import Invoice, Receipt
from billing.receivables.services import balance_problems, statement_figures
from compensation.models import Chargeback, CompensationRequest, Verdict
from settlement_ops.models import AccountKind
from settlement_ops.roles import Role
from settlement_ops.selectors import balance, unbalanced_entries
from settlement_ops.services import ledger_check
from tests.compensation.helpers import active_policy
from tests.factories import ShipmentFactory, UserFactory
from tests.payables.helpers import line, rated, setup_vendor, upload

pytestmark = pytest.mark.django_db
D = Decimal


def _page(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def _books_balanced() -> None:
    assert not unbalanced_entries()
    assert balance_problems() == []
    # The carrier's rated line comes from the payables test factory, which writes charge lines
    # without the billing run's posting; every other check of the nightly ledger check must hold.
    problems = [p for p in ledger_check()["problems"] if not p.startswith("Billing run")]
    assert problems == []


def _events(shipment, *events):
    ShipmentEvent.objects.bulk_create(
        ShipmentEvent(shipment=shipment, status=s, occurred_at=datetime(d.year, d.month, d.day, 9, tzinfo=UTC))
        for s, d in events
    )


def test_lost_parcel_to_paid_deduction_and_wrong_item_to_paid_seller_invoice(django_capture_on_commit_callbacks):
    # --- the world: a carrier with a contract, an approved invoice, a seller, an active policy -----
    vendor, rate_line, specialist = setup_vendor()
    contract = vendor.contracts.get()
    contract.on_time_days, contract.late_refund_percent = 2, D("100")
    contract.save(update_fields=["on_time_days", "late_refund_percent"])
    charged = rated(vendor, rate_line)
    job = upload(vendor, specialist, [line(charged.shipment.tracking_number, "4.50", "0.45")])
    invoice_payable = job.invoice.payable
    assert invoice_payable.amount == D("5.94")
    lost = ShipmentFactory(vendor=vendor, status="lost")
    _events(lost, ("picked_up", date(2026, 3, 2)), ("lost", date(2026, 3, 4)))
    wrong = ShipmentFactory(vendor=vendor)
    _events(wrong, ("picked_up", date(2026, 3, 2)), ("delivered", date(2026, 3, 3)))
    qa, qa2 = UserFactory(role=Role.COMPENSATION_QA), UserFactory(role=Role.COMPENSATION_QA)
    approver = UserFactory(role=Role.FINANCE_APPROVER)
    active_policy(vendor.market, qa, qa2)
    integration = UserFactory(role=Role.INTEGRATION)
    _books_balanced()

    # --- 1. the integration pushes the day's compensations (API) ----------------------------------
    common = {"market": "GB", "currency": "GBP", "agent": "agent-7", "buyer_reference": "B-e2e-01"}
    records = [
        {
            **common,
            "external_id": "CS-1001",
            "order_number": "O-1",
            "tracking_number": lost.tracking_number,
            "instrument": "refund",
            "reason": "lost",
            "amount": "3.00",
            "item_value": "10.00",
            "issued_at": "2026-03-06T10:00:00Z",
        },
        {
            **common,
            "external_id": "CS-1002",
            "order_number": "O-2",
            "tracking_number": wrong.tracking_number,
            "instrument": "voucher",
            "reason": "wrong_item",
            "amount": "7.50",
            "item_value": "12.00",
            "issued_at": "2026-03-06T11:00:00Z",
            "evidence": ["photo-77"],
        },
    ]
    response = _api(integration).post("/api/compensation-requests/bulk/", records, format="json")
    assert response.status_code == 200 and response.json()["created"] == 2, response.content
    _books_balanced()

    # --- 2. QA runs the audit (page): both compliant, chargebacks posted ---------------------------
    qa_page = _page(qa)
    response = qa_page.post(reverse("compensation:audit_run_start"), {"market": "GB"})
    assert response.status_code == 302
    lost_request = CompensationRequest.objects.get(external_id="CS-1001")
    wrong_request = CompensationRequest.objects.get(external_id="CS-1002")
    assert (lost_request.verdict, lost_request.liable_party) == (Verdict.COMPLIANT, "carrier")
    assert (wrong_request.verdict, wrong_request.liable_party) == (Verdict.COMPLIANT, "seller")
    carrier_cb = Chargeback.objects.get(request=lost_request)
    seller_cb = Chargeback.objects.get(request=wrong_request)
    # Audit: Dr compensation expense 10.50 / Cr clearing; recoveries: Cr compensation expense 3.00 + 7.50
    assert balance(market=vendor.market, kind=AccountKind.COMPENSATION_EXPENSE) == {"GBP": D("0.00")}
    _books_balanced()

    # --- 3. a chargeback posted twice posts once (page) -------------------------------------------
    qa_page.post(reverse("compensation:request_chargeback", args=[lost_request.pk]))
    assert Chargeback.objects.count() == 2
    deduction_payable = Payable.objects.get(deduction=carrier_cb.deduction)
    assert deduction_payable.amount == D("-3.00")
    _books_balanced()

    # --- 4. the next payment run nets the deduction; paid; the remittance lists it -----------------
    paymaster = _page(specialist)
    pay_date = invoice_payable.due_date
    response = paymaster.post(
        reverse("payables:run_prepare"), {"market": "GB", "pay_date": pay_date.isoformat(), "bank_change_days": "0"}
    )
    run = PaymentRun.objects.get()
    assert response.status_code == 302 and run.total_amount == D("2.94")
    response = _page(approver).post(reverse("payables:run_approve", args=[run.pk]))
    assert response.status_code == 302
    paymaster.post(reverse("payables:run_export", args=[run.pk]))
    payment = Payment.objects.get(run=run)
    with django_capture_on_commit_callbacks(execute=True):
        paymaster.post(reverse("payables:payment_mark", args=[payment.pk]), {"status": "paid"})
    deduction_payable.refresh_from_db()
    run.refresh_from_db()
    assert (run.status, deduction_payable.status, payment.amount) == (
        PaymentRun.Status.COMPLETED,
        Payable.Status.PAID,
        D("2.94"),
    )
    rows = [(kind, ref, amount) for kind, ref, _, amount in remittance_rows(payment)]
    assert ("Invoice", "INV-1", D("5.94")) in rows
    deduction_row = next(r for r in rows if r[0] == "Deduction")
    assert deduction_row[1].startswith(f"Deduction {carrier_cb.deduction_id}: Chargeback GB-CS-1001 lost")
    assert deduction_row[2] == D("-3.00")
    assert _page(approver).get(reverse("payables:remittance", args=[payment.pk])).status_code == 200
    assert balance(market=vendor.market, kind=AccountKind.VENDOR_PAYABLE, party_type="vendor", party_id=vendor.pk) == {
        "GBP": D("0.00")
    }
    _books_balanced()

    # --- 5. the seller's charge invoice, seen in the portal, paid by a bank receipt ---------------
    invoice = seller_cb.invoice
    assert (invoice.gross_total, invoice.amount_open, invoice.status) == (D("7.50"), D("7.50"), Invoice.Status.OPEN)
    today = date.today() - timedelta(days=1)
    bank_csv = (
        "value_date,amount,currency,reference,payer_name,bank_reference\n"
        f"{today.isoformat()},7.50,GBP,Paying {invoice.number},Seller Ltd,BANK-CMP-1\n"
    )
    with TestCase.captureOnCommitCallbacks(execute=True):  # the import job runs after commit
        response = paymaster.post(
            reverse("receivables:receipt_list"),
            {"action": "import", "market": "GB", "file": SimpleUploadedFile("bank.csv", bank_csv.encode())},
        )
    assert response.status_code == 302
    receipt = Receipt.objects.get(bank_reference="BANK-CMP-1")
    invoice.refresh_from_db()
    assert (receipt.status, invoice.amount_open, invoice.status) == (
        Receipt.Status.APPLIED,
        D("0"),
        Invoice.Status.PAID,
    )
    _books_balanced()

    # --- 6. the seller's statement figures show the chargeback among its charges, then its payment
    # From the month of the earlier of the invoice and the payment (dated yesterday: on the 1st of
    # a month, the month before the invoice's).
    month = min(invoice.issue_date, today).replace(day=1)
    figures = statement_figures(
        market=invoice.market, period_start=month, period_end=date.today(), seller_ids=[invoice.seller_id]
    )[invoice.seller_id]
    assert (figures["charges"], figures["adjustments"]) == (D("7.50"), D("0"))
    assert (figures["payments"], figures["closing"]) == (D("-7.50"), D("0"))
