"""Each role's home shows its own work queue with counts and amounts to the cent, links that
open the same rows, no item prepared by the viewer among those awaiting their approval, and
bank and ledger figures only for roles that read the ledger."""

import re
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from billing.models import RatingException
from billing.payables.models import Payable, PaymentRun, VendorInvoice
from billing.receivables.models import Invoice, WriteOff
from risk.models import Case
from settlement_ops.models import AccountingPeriod
from settlement_ops.roles import Role
from tests.factories import (
    ContractFactory,
    SellerFactory,
    ShipmentFactory,
    UserFactory,
    VendorBankChangeRequestFactory,
    VendorFactory,
    _billing_run,
    market,
)

pytestmark = pytest.mark.django_db


def work_item(html: str, label: str) -> tuple[int, str]:
    """(count, amount text) of the home's work item `label`."""
    match = re.search(
        rf'data-label="{re.escape(label)}" data-count="(\d+)">.*?<td class="num">\d+</td>\s*<td class="num">(.*?)</td>',
        html,
        re.S,
    )
    assert match, f"no work item {label!r}"
    return int(match.group(1)), re.sub(r"<[^>]+>", " ", match.group(2)).split()


def item_link(html: str, label: str) -> str:
    match = re.search(rf'data-label="{re.escape(label)}"[^>]*>\s*<td><a href="([^"]+)">', html)
    assert match, f"no link for {label!r}"
    return match.group(1).replace("&amp;", "&")


def vendor_invoice(vendor, number, *, gross, status=VendorInvoice.Status.IN_REVIEW, disputed="0"):
    gross = D(gross)
    return VendorInvoice.objects.create(
        vendor=vendor,
        market=vendor.market,
        number=number,
        invoice_date=timezone.localdate(),
        currency="GBP",
        net_total=gross,
        vat_total=D(0),
        gross_total=gross,
        status=status,
        line_count=1,
        pending_count=1,
        disputed_total=D(disputed),
    )


def seller_invoice(seller, number, *, gross, due_days_ago, **kwargs):
    today = timezone.localdate()
    return Invoice.objects.create(
        market=seller.market,
        seller=seller,
        number=number,
        issue_date=today - timedelta(days=due_days_ago + 30),
        due_date=today - timedelta(days=due_days_ago),
        currency="GBP",
        language="en",
        net_total=D(gross),
        vat_total=D(0),
        gross_total=D(gross),
        amount_open=D(gross),
        **kwargs,
    )


def test_approver_sees_what_waits_for_them_and_never_their_own(client):
    approver = UserFactory(role=Role.FINANCE_APPROVER)
    specialist = UserFactory(role=Role.FINANCE_SPECIALIST)
    gb = market("GB")
    today = timezone.localdate()
    for number, preparer, total in (
        ("PR-1", specialist, "1234.56"),
        ("PR-2", specialist, "10.04"),
        ("PR-3", approver, "99.00"),
    ):
        PaymentRun.objects.create(
            number=number, market=gb, currency="GBP", pay_date=today, prepared_by=preparer, total_amount=D(total)
        )
    PaymentRun.objects.create(
        number="PR-4",
        market=gb,
        currency="GBP",
        pay_date=today,
        prepared_by=specialist,
        approved_by=approver,
        approved_at=timezone.now(),
        status=PaymentRun.Status.APPROVED,
        total_amount=D("500.00"),
    )
    change = VendorBankChangeRequestFactory(requested_by=specialist)
    VendorBankChangeRequestFactory(requested_by=approver)
    ContractFactory(status="in_review", author=specialist, submitted_by=specialist)
    ContractFactory(status="in_review", author=approver, submitted_by=approver)
    from billing.models import SellerFeeSchedule

    for maker in (specialist, approver):
        SellerFeeSchedule.objects.create(
            market=gb,
            service_level=f"by-{maker.username}",
            name="Next year",
            currency="GBP",
            valid_from=today + timedelta(days=30),
            vat_rate=D("20"),
            created_by=maker,
        )
    seller = SellerFactory()
    inv = seller_invoice(seller, "GB-2026-900001", gross="80.00", due_days_ago=120)
    WriteOff.objects.create(
        invoice=inv, currency="GBP", amount=D("12.34"), reason="Small balance", proposed_by=specialist
    )
    mine = seller_invoice(seller, "GB-2026-900002", gross="8.00", due_days_ago=120)
    WriteOff.objects.create(invoice=mine, currency="GBP", amount=D("1.00"), reason="Mine", proposed_by=approver)

    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    for code, closer in (("DE", specialist), ("FR", approver)):
        AccountingPeriod.objects.create(
            market=market(code),
            month=last_month,
            status=AccountingPeriod.Status.SOFT_CLOSED,
            soft_closed_by=closer,
            soft_closed_at=timezone.now(),
        )

    client.force_login(approver)
    html = client.get("/").content.decode()

    assert work_item(html, "Payment runs") == (2, ["GBP", "1,244.60"])
    assert work_item(html, "Periods to close or reopen")[0] == 1
    assert f"DE {last_month:%Y-%m}: soft-closed" in html and f"FR {last_month:%Y-%m}" not in html
    assert work_item(html, "Write-offs") == (1, ["GBP", "12.34"])
    assert work_item(html, "Bank-detail changes")[0] == 1
    assert f"/vendors/{change.vendor_id}/" in html
    assert work_item(html, "New contracts")[0] == 1
    assert work_item(html, "Seller fee schedules")[0] == 1
    drafts = client.get(item_link(html, "Seller fee schedules")).content.decode()
    assert f"by-{specialist.username}" in drafts
    # The specialist's queue is not the approver's.
    assert 'data-label="Vendor invoices to audit"' not in html
    assert 'data-label="Unmatched receipts"' not in html
    # The link opens the runs waiting for approval (its filter exists and works).
    runs = client.get(item_link(html, "Payment runs")).content.decode()
    assert "PR-1" in runs and "PR-2" in runs and "PR-4" not in runs
    write_offs = client.get(item_link(html, "Write-offs")).content.decode()
    assert "Small balance" in write_offs


def test_specialist_sees_audits_disputes_payables_receipts_dunning_and_exceptions(client):
    from billing.receivables.cash import receipt_record

    specialist = UserFactory(role=Role.FINANCE_SPECIALIST)
    today = timezone.localdate()
    vendor = VendorFactory()
    vendor_invoice(vendor, "VI-AUDIT-1", gross="100.10")
    vendor_invoice(vendor, "VI-AUDIT-2", gross="200.20", disputed="15.25")
    for number, due in (("VI-P1", -3), ("VI-P2", -1), ("VI-P3", 2), ("VI-P4", 20)):
        invoice = vendor_invoice(vendor, number, gross="50.00", status=VendorInvoice.Status.IN_REVIEW)
        Payable.objects.create(
            vendor=vendor,
            market=vendor.market,
            currency="GBP",
            kind="invoice",
            invoice=invoice,
            amount=D("50.00") + abs(due),
            due_date=today + timedelta(days=due),
        )
    receipt_record(
        actor=specialist,
        market=market("GB"),
        amount=D("321.09"),
        currency="GBP",
        value_date=today,
        bank_reference="BANK-HOME-1",
        reference="unknown payer",
    )
    seller = SellerFactory()
    seller_invoice(seller, "GB-2026-900010", gross="70.00", due_days_ago=40)
    seller_invoice(seller, "GB-2026-900011", gross="5.00", due_days_ago=0)
    run = _billing_run(market("GB"))
    for days in (1, 10):
        shipment = ShipmentFactory(
            vendor=vendor, ship_date=today - timedelta(days=days), delivered_date=None, status="in_transit"
        )
        RatingException.objects.create(
            run=run,
            chunk=run.chunks.first(),
            shipment=shipment,
            vendor=vendor,
            code=RatingException.Code.NO_CONTRACT,
            created_at=timezone.now(),
        )

    client.force_login(specialist)
    html = client.get("/").content.decode()

    # In review: the two audit invoices and the four behind the payables.
    assert work_item(html, "Vendor invoices to audit") == (6, ["GBP", "500.30"])
    assert work_item(html, "Disputes open with vendors") == (1, ["GBP", "15.25"])
    assert work_item(html, "Payables overdue") == (2, ["GBP", "104.00"])
    assert work_item(html, "Payables due this week") == (1, ["GBP", "52.00"])
    assert work_item(html, "Unmatched receipts") == (1, ["GBP", "321.09"])
    assert work_item(html, "Invoices due for a dunning letter") == (1, ["GBP", "70.00"])
    assert work_item(html, "Rating exceptions up to 2 days old")[0] == 1
    assert work_item(html, "Rating exceptions older than 7 days")[0] == 1
    assert work_item(html, "Rating exceptions 3 to 7 days old")[0] == 0
    assert 'data-label="Payment runs"' not in html  # approvals are not the specialist's

    overdue = client.get(item_link(html, "Payables overdue")).content.decode()
    assert "VI-P1" in overdue and "VI-P2" in overdue and "VI-P3" not in overdue and "VI-P4" not in overdue
    week = client.get(item_link(html, "Payables due this week")).content.decode()
    assert "VI-P3" in week and "VI-P1" not in week
    disputed = client.get(item_link(html, "Disputes open with vendors")).content.decode()
    assert "VI-AUDIT-2" in disputed and "VI-AUDIT-1" not in disputed
    audits = client.get(item_link(html, "Vendor invoices to audit")).content.decode()
    assert "VI-AUDIT-1" in audits
    old = client.get(item_link(html, "Rating exceptions older than 7 days")).content.decode()
    young = client.get(item_link(html, "Rating exceptions up to 2 days old")).content.decode()
    old_tracking = RatingException.objects.get(shipment__ship_date=today - timedelta(days=10)).shipment.tracking_number
    assert old_tracking in old and old_tracking not in young
    assert "Position by market" in html  # the specialist reads the ledger


def test_support_auditor_and_risk_each_see_their_own(client):
    specialist, approver = UserFactory(role=Role.FINANCE_SPECIALIST), UserFactory(role=Role.FINANCE_APPROVER)
    gb = market("GB")
    AccountingPeriod.objects.create(
        market=gb,
        month=(timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1),
        status=AccountingPeriod.Status.CLOSED,
        soft_closed_by=specialist,
        soft_closed_at=timezone.now(),
        closed_by=approver,
        closed_at=timezone.now(),
    )
    analyst = UserFactory(role=Role.RISK_ANALYST)
    Case.objects.create(
        number="RC-1",
        market=gb,
        title="Duplicate billing",
        owner=analyst,
        created_by=analyst,
        currency="GBP",
        money_at_risk=D("250.50"),
    )
    PaymentRun.objects.create(
        number="PR-9",
        market=gb,
        currency="GBP",
        pay_date=timezone.localdate(),
        prepared_by=specialist,
        total_amount=D("1.00"),
    )

    from sellers.models import Ticket

    seller, now = SellerFactory(), timezone.now()
    for number, due in (("T-1", now - timedelta(hours=2)), ("T-2", now + timedelta(hours=5))):
        Ticket.objects.create(
            number=number,
            seller=seller,
            market=gb,
            category="charge",
            subject="Why this fee?",
            created_by=specialist,
            created_at=now - timedelta(hours=6),
            first_response_due_at=due,
            resolution_due_at=due + timedelta(days=2),
        )
    client.force_login(UserFactory(role=Role.SUPPORT_TIER1))
    support = client.get("/")
    assert support.status_code == 200
    html = support.content.decode()
    assert "Position by market" not in html  # no bank or ledger figures for support
    assert work_item(html, "Open questions")[0] == 2 and work_item(html, "Past their SLA")[0] == 1
    breached = client.get(item_link(html, "Past their SLA")).content.decode()
    assert "T-1" in breached and "T-2" not in breached
    assert 'data-label="Payment runs"' not in html and 'data-label="Unmatched receipts"' not in html

    client.force_login(UserFactory(role=Role.AUDITOR))
    html = client.get("/").content.decode()
    assert work_item(html, "Closed periods")[0] == 1
    assert 'data-label="Payment runs"' not in html
    assert client.get(item_link(html, "Closed periods")).status_code == 200

    client.force_login(analyst)
    html = client.get("/").content.decode()
    assert work_item(html, "Open cases") == (1, ["GBP", "250.50"])
    assert "RC-1" in client.get(item_link(html, "Open cases")).content.decode()
    assert 'data-label="Payment runs"' not in html
