"""The vendor page: what we owe now (and how much is overdue) to the cent, invoices in audit, open
disputes, the last payments and the contract in force; roles without payables access see the
vendor without the payables figures."""

import re
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from billing.payables.models import Payable, Payment, PaymentRun, VendorDeduction, VendorInvoice
from settlement_ops.models import AccountKind
from settlement_ops.roles import Role
from settlement_ops.services import PostingLine, account_for, ledger_post
from tests.factories import ActiveContractFactory, UserFactory, VendorFactory, market

pytestmark = pytest.mark.django_db


def vendor_invoice(vendor, number, gross, **kwargs):
    return VendorInvoice.objects.create(
        vendor=vendor,
        market=vendor.market,
        number=number,
        invoice_date=timezone.localdate(),
        currency="GBP",
        net_total=D(gross),
        vat_total=D(0),
        gross_total=D(gross),
        line_count=1,
        **kwargs,
    )


def test_vendor_page_shows_what_we_owe_audits_disputes_payments_and_contract(client):
    contract = ActiveContractFactory()
    vendor = contract.vendor
    today = vendor.market.local_date()
    for number, due, amount in (("VI-1", -4, "50.00"), ("VI-2", 10, "30.25")):
        Payable.objects.create(
            vendor=vendor,
            market=vendor.market,
            currency="GBP",
            kind="invoice",
            amount=D(amount),
            invoice=vendor_invoice(vendor, number, amount, status="in_review", pending_count=1),
            due_date=today + timedelta(days=due),
        )
    deduction = VendorDeduction.objects.create(
        vendor=vendor,
        market=vendor.market,
        currency="GBP",
        amount=D("5.25"),
        reason="Chargeback",
        source_type="manual",
        source_id="1",
    )
    Payable.objects.create(
        vendor=vendor,
        market=vendor.market,
        currency="GBP",
        kind="deduction",
        deduction=deduction,
        amount=D("-5.25"),
        due_date=today + timedelta(days=30),
    )
    vendor_invoice(vendor, "VI-DISPUTED", "80.00", status="in_review", pending_count=0, disputed_total=D("12.50"))
    specialist, approver = UserFactory(role=Role.FINANCE_SPECIALIST), UserFactory(role=Role.FINANCE_APPROVER)
    run = PaymentRun.objects.create(
        number="PR-V-1",
        market=market("GB"),
        currency="GBP",
        pay_date=today,
        prepared_by=specialist,
        status="exported",
        approved_by=approver,
        approved_at=timezone.now(),
        total_amount=D("77.70"),
    )
    entry = ledger_post(
        market=market("GB"),
        entry_date=today,
        idempotency_key="test:vendor-page",
        source_type="test",
        source_id="1",
        description="Paid",
        lines=[
            PostingLine(account_for(market=market("GB"), kind=AccountKind.LOGISTICS_COST), D("77.70")),
            PostingLine(account_for(market=market("GB"), kind=AccountKind.ACCRUED_LOGISTICS_COST), D("-77.70")),
        ],
    )
    Payment.objects.create(
        run=run,
        vendor=vendor,
        currency="GBP",
        amount=D("77.70"),
        end_to_end_id="E2E-V-1",
        account_holder="x",
        status="paid",
        confirmed_at=timezone.now(),
        entry=entry,
    )
    other = VendorFactory()
    Payable.objects.create(
        vendor=other,
        market=other.market,
        currency="GBP",
        kind="invoice",
        amount=D("999.00"),
        invoice=vendor_invoice(other, "VI-OTHER", "999.00"),
        due_date=today,
    )

    client.force_login(specialist)
    html = client.get(f"/vendors/{vendor.pk}/").content.decode()
    invoices = re.search(r'data-invoices="GBP"><a href="([^"]+)">([^<]+)</a>', html)
    owed = re.search(r'data-owed="GBP"><a href="([^"]+)">([^<]+)</a>', html)
    assert invoices.group(2) == "80.25" and owed.group(2) == "75.00"  # less the 5.25 deduction
    assert "-5.25" in html
    overdue = re.search(r'data-overdue="GBP"><a href="([^"]+)">([^<]+)</a>', html)
    assert overdue.group(2) == "50.00"
    listed = client.get(overdue.group(1).replace("&amp;", "&")).content.decode()
    assert "VI-1" in listed and "VI-2" not in listed and "VI-OTHER" not in listed
    audit = html.split('id="invoices-in-audit"')[1].split("</table>")[0]
    assert "VI-1" in audit and "VI-2" in audit and "VI-OTHER" not in audit
    disputes = html.split('id="open-disputes"')[1].split("</table>")[0]
    assert "VI-DISPUTED" in disputes and "12.50" in disputes and "VI-1" not in disputes
    payments = html.split('id="last-payments"')[1].split("</table>")[0]
    assert "PR-V-1" in payments and "77.70" in payments
    in_force = html.split('id="contracts-in-force"')[1].split("</table>")[0]
    assert contract.reference in in_force and "Version 1" in in_force

    client.force_login(UserFactory(role=Role.COMPENSATION_QA))
    response = client.get(f"/vendors/{vendor.pk}/")
    assert response.status_code == 200
    assert 'id="owed"' not in response.content.decode()
