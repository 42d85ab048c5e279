"""The finance overview: each chart's numbers (under the chart, one click away) equal sums worked
out by hand from the rows behind them; roles without ledger access are refused."""

import re
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from billing.models import BillingRun, BillingRunChunk, ChargeLineTotal
from billing.payables.models import Payment, PaymentRun, VendorInvoice
from billing.receivables.models import Invoice
from settlement_ops.models import AccountKind
from settlement_ops.roles import Role
from settlement_ops.services import PostingLine, account_for, ledger_post
from tests.factories import SellerFactory, UserFactory, VendorFactory, market

pytestmark = pytest.mark.django_db


def chart_rows(html: str, key: str) -> dict[str, list[str]]:
    table = re.search(rf'<table class="data" data-chart="{key}">(.*?)</table>', html, re.S)
    assert table, f"no numbers for chart {key}"
    rows = {}
    for row in re.findall(r"<tr><td>(.*?)</tr>", table.group(1), re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", "<td>" + row)
        rows[cells[0]] = cells[1:]
    return rows


def test_overview_numbers_equal_hand_computed_sums(client):
    gb = market("GB")
    today = gb.local_date()
    vendor, seller = VendorFactory(), SellerFactory()
    # Two runs: billed cost against seller fees per day.
    for days, lines in ((1, [("10.00", "20.00"), ("5.50", "7.25")]), (2, [("30.00", "25.00")])):
        run = BillingRun.objects.create(
            market=gb, business_date=today - timedelta(days=days), status="completed", currency="GBP"
        )
        chunk = BillingRunChunk.objects.create(run=run, seq=1, first_shipment_id=1, last_shipment_id=10, status="done")
        for cost, fee in lines:
            ChargeLineTotal.objects.create(
                run=run,
                chunk=chunk,
                vendor=vendor,
                seller=seller,
                service_level="standard",
                line_count=1,
                vendor_net=D(cost),
                vendor_vat=D(0),
                seller_net=D(fee),
                seller_vat=D(0),
            )
    # Invoiced (approved net) and paid (gross) this month.
    VendorInvoice.objects.create(
        vendor=vendor,
        market=gb,
        number="VI-OV-1",
        invoice_date=today,
        currency="GBP",
        net_total=D("12.00"),
        vat_total=D("2.40"),
        gross_total=D("14.40"),
        status="approved",
        approved_net=D("12.00"),
        approved_vat=D("2.40"),
        approved_total=D("14.40"),
        approved_at=timezone.now(),
    )
    specialist, approver = UserFactory(role=Role.FINANCE_SPECIALIST), UserFactory(role=Role.FINANCE_APPROVER)
    pay_run = PaymentRun.objects.create(
        number="PR-OV-1",
        market=gb,
        currency="GBP",
        pay_date=today,
        prepared_by=specialist,
        status="exported",
        approved_by=approver,
        approved_at=timezone.now(),
        total_amount=D("40.00"),
    )
    receivable = account_for(market=gb, kind=AccountKind.SELLER_RECEIVABLE, party_type="seller", party_id=seller.pk)
    revenue = account_for(market=gb, kind=AccountKind.LOGISTICS_REVENUE)
    # The seller receivable: 50.00 charged 40 days ago, 100.00 today, 30.00 received today.
    bank = account_for(market=gb, kind=AccountKind.BANK)
    for key, days, lines in (
        ("old", 40, [PostingLine(receivable, D("50.00")), PostingLine(revenue, D("-50.00"))]),
        ("paid", 0, [PostingLine(bank, D("30.00")), PostingLine(receivable, D("-30.00"))]),
        ("new", 0, [PostingLine(receivable, D("100.00")), PostingLine(revenue, D("-100.00"))]),
    ):
        entry = ledger_post(
            market=gb,
            entry_date=today - timedelta(days=days),
            lines=lines,
            idempotency_key=f"test:overview:{key}",
            source_type="test",
            source_id=key,
            description="Fees",
        )
    Payment.objects.create(
        run=pay_run,
        vendor=vendor,
        currency="GBP",
        amount=D("40.00"),
        end_to_end_id="E2E-OV-1",
        account_holder="Carrier",
        status="paid",
        confirmed_at=timezone.now(),
        entry=entry,
    )
    # AR: one invoice not yet due, one 45 days past due; both issued in the last 90 days.
    for number, issued, due, gross in (("GB-OV-1", 10, -20, "30.00"), ("GB-OV-2", 75, 45, "20.00")):
        Invoice.objects.create(
            market=gb,
            seller=seller,
            number=number,
            issue_date=today - timedelta(days=issued),
            due_date=today - timedelta(days=due),
            currency="GBP",
            language="en",
            net_total=D(gross),
            vat_total=D(0),
            gross_total=D(gross),
            amount_open=D(gross),
        )

    client.force_login(UserFactory(role=Role.FINANCE_APPROVER))
    response = client.get("/overview/?market=GB")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<svg") >= 4 and "<script" not in html.split("<main", 1)[-1]

    margin = chart_rows(html, "margin")
    day1, day2 = (today - timedelta(days=1)).isoformat(), (today - timedelta(days=2)).isoformat()
    assert margin[day1] == ["15.50", "27.25", "11.75", "43.1"]
    assert margin[day2] == ["30.00", "25.00", "-5.00", "-20.0"]

    month = chart_rows(html, "accrued_invoiced_paid")[today.strftime("%Y-%m")]
    accrued = D("15.50") + D("30.00") if (today - timedelta(days=2)).month == today.month else None
    if accrued is not None:
        assert month == ["45.50", "12.00", "40.00"]
    else:
        assert month[1:] == ["12.00", "40.00"]

    aging = chart_rows(html, "aging")
    assert aging["Current"] == ["30.00"] and aging["31–60"] == ["20.00"] and aging["Total"] == ["50.00"]

    dso = chart_rows(html, "dso")[today.isoformat()]
    assert dso == ["120.00", "150.00", "72.0"]  # 120.00 owed / 150.00 charged in 90 days x 90 days


def test_overview_only_for_roles_that_read_the_ledger(client):
    client.force_login(UserFactory(role=Role.SUPPORT_TIER1))
    assert client.get("/overview/").status_code == 403
    home = client.get("/").content.decode()
    assert "/overview/" not in home
