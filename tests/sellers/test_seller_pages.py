"""The staff seller page and the seller's portal home show one account summary: balance due and
overdue to the cent, open invoices, the last statement, the fee schedule in force, recent
payments and payout deductions; a seller sees only their own."""

import re
from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from billing.models import SellerFeeLine
from billing.receivables.cash import receipt_record
from billing.receivables.models import Invoice, PayoutDeduction, Statement
from settlement_ops.roles import Role
from tests.factories import SellerFactory, SellerUserFactory, UserFactory, _seller_schedule, market

pytestmark = pytest.mark.django_db


def cell(html: str, attr: str, currency: str = "GBP") -> str:
    match = re.search(rf'{attr}="{currency}">(.*?)(?:<| <)', html)
    assert match, f"no {attr} cell"
    return match.group(1).strip()


def invoice(seller, number, *, gross, due_in_days):
    today = seller.market.local_date()
    return Invoice.objects.create(
        market=seller.market,
        seller=seller,
        number=number,
        issue_date=today - timedelta(days=40),
        due_date=today + timedelta(days=due_in_days),
        currency="GBP",
        language="en",
        net_total=D(gross),
        vat_total=D(0),
        gross_total=D(gross),
        amount_open=D(gross),
    )


def account(seller):
    """Two open invoices (70.00 overdue 12 days, 30.00 not due), a receipt of 25.00 that pays
    part of the overdue one, a payout deduction, a statement and the GB fee schedule."""
    overdue = invoice(seller, f"GB-{seller.code}-1", gross="70.00", due_in_days=-12)
    invoice(seller, f"GB-{seller.code}-2", gross="30.00", due_in_days=5)
    paid = invoice(seller, f"GB-{seller.code}-3", gross="9.99", due_in_days=-50)
    Invoice.objects.filter(pk=paid.pk).update(amount_open=0, status="paid")
    receipt_record(
        actor=UserFactory(role=Role.FINANCE_SPECIALIST),
        market=market("GB"),
        amount=D("25.00"),
        currency="GBP",
        value_date=date(2026, 11, 2),
        bank_reference=f"BANK-{seller.code}",
        reference=overdue.number,
        seller=seller,
    )
    PayoutDeduction.objects.create(
        invoice=paid, market=seller.market, seller=seller, currency="GBP", amount=D("9.99"), status="pending"
    )
    Statement.objects.create(
        market=seller.market,
        seller=seller,
        period_start=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
        currency="GBP",
        opening_balance=D("0"),
        charges_total=D("100.00"),
        closing_balance=D("100.00"),
    )
    schedule = _seller_schedule(seller.market)
    if not schedule.lines.exists():
        SellerFeeLine.objects.create(
            schedule=schedule,
            weight_from_kg=D("0"),
            weight_to_kg=D("2"),
            base_fee=D("4.99"),
            fee_per_additional_step=D("0.75"),
            minimum_fee=D("0"),
        )
    return overdue


def test_staff_seller_page_shows_the_account_to_the_cent(client):
    seller = SellerFactory()
    overdue = account(seller)
    overdue.refresh_from_db()
    assert overdue.amount_open == D("45.00")  # the receipt was applied to the invoice it names

    client.force_login(UserFactory(role=Role.FINANCE_SPECIALIST))
    html = client.get(f"/sellers/{seller.pk}/").content.decode()
    assert cell(html, "data-due") == "75.00"
    assert cell(html, "data-overdue") == "45.00"
    assert "1 invoice overdue" in html and "Overdue 12 days" in html
    open_table = html.split('id="open-invoices"')[1].split("</table>")[0]
    assert overdue.number in open_table and f"GB-{seller.code}-2" in open_table
    assert f"GB-{seller.code}-3" not in open_table  # paid
    assert "2026-10-01 – 2026-10-31" in html and "100.00 GBP" in html
    assert "4.99" in html and "0.75" in html  # the fee schedule's bracket
    assert "25.00" in html and "9.99" in html  # the receipt and the payout deduction
    # Support tier 1 reads the seller page without figures it may not open (receipts, deductions, fees).
    client.force_login(UserFactory(role=Role.SUPPORT_TIER1))
    html = client.get(f"/sellers/{seller.pk}/").content.decode()
    assert cell(html, "data-due") == "75.00"
    assert 'id="recent-payments"' not in html and 'id="recent-deductions"' not in html and "4.99" not in html


def test_portal_home_shows_only_the_sellers_own_account(client):
    link = SellerUserFactory()
    mine = account(link.seller)
    other = SellerFactory()
    theirs = invoice(other, "GB-OTHER-1", gross="999.00", due_in_days=-3)

    client.force_login(link.user)
    response = client.get("/portal/")
    assert response.status_code == 200
    html = response.content.decode()
    assert cell(html, "data-due") == "75.00" and cell(html, "data-overdue") == "45.00"
    assert mine.number in html and f"/portal/invoices/{mine.pk}/" in html
    assert theirs.number not in html and "999.00" not in html
    assert "4.99" in html  # the seller sees their price list
    # Another seller's summary is not reachable: the staff page refuses, the portal 404s.
    assert client.get(f"/sellers/{other.pk}/").status_code in (302, 403)
    assert client.get(f"/portal/invoices/{theirs.pk}/").status_code == 404
