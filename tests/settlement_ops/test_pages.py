import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from settlement_ops.models import AccountKind, AuditEvent
from settlement_ops.roles import Role
from settlement_ops.services import PostingLine, account_for, ledger_post
from tests.factories import PASSWORD, SellerUserFactory, UserFactory, market
from tests.settlement_ops.helpers import post_simple_entry

pytestmark = pytest.mark.django_db


def test_sign_in_and_out_are_logged(client):
    user = UserFactory(role=Role.FINANCE_SPECIALIST, username="sam")
    response = client.post("/accounts/login/", {"username": "sam", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    client.post("/accounts/logout/")
    kinds = list(AuditEvent.objects.filter(actor=user).order_by("id").values_list("kind", flat=True))
    assert kinds == ["sign_in", "sign_out"]


def test_failed_sign_in_is_logged_and_shows_an_error(client):
    UserFactory(role=Role.FINANCE_SPECIALIST, username="sam")
    response = client.post("/accounts/login/", {"username": "sam", "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert AuditEvent.objects.filter(kind="sign_in_failed", username="sam").count() == 1


def test_integration_accounts_cannot_sign_in_to_pages(client):
    UserFactory(role=Role.INTEGRATION, username="erp")
    response = client.post("/accounts/login/", {"username": "erp", "password": PASSWORD})
    assert response.status_code == 200
    assert "can only use the API with a token" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_seller_user_is_sent_to_the_portal_and_refused_on_staff_pages(client):
    link = SellerUserFactory(seller__name="Thames Home Goods")
    client.force_login(link.user)
    assert client.get("/")["Location"] == "/portal/"
    portal = client.get("/portal/")
    assert portal.status_code == 200 and "Thames Home Goods" in portal.content.decode()
    assert client.get("/ledger/").status_code == 403
    assert client.get(f"/sellers/{link.seller.pk}/").status_code == 403
    assert AuditEvent.objects.filter(kind="access_refused", actor=link.user).count() == 2


def test_staff_cannot_open_the_portal(client_as):
    assert client_as(Role.FINANCE_APPROVER).get("/portal/").status_code == 403


def test_navigation_shows_only_what_the_role_may_open(client_as):
    support = client_as(Role.SUPPORT_TIER1).get("/").content.decode()
    assert "Trial balance" not in support and "Sellers" in support
    auditor = client_as(Role.AUDITOR).get("/").content.decode()
    assert "Trial balance" in auditor and "Audit log" in auditor


def test_trial_balance_page_shows_derived_balances(client_as):
    post_simple_entry(amount="1234.50")
    page = client_as(Role.AUDITOR).get("/ledger/?market=GB").content.decode()
    assert "Accrued logistics cost" in page
    # credits are shown as positive figures in their own column, the balance with its side
    assert "1,234.50" in page and "-1,234.50" not in page and "<td>Cr</td>" in page


def test_ledger_export_keeps_numbers_as_numbers_and_ties_to_the_postings(client_as):
    entry = post_simple_entry(amount="250.75")
    response = client_as(Role.AUDITOR).get("/ledger/export/?market=GB")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    postings = list(workbook["Postings"].iter_rows(min_row=4, values_only=True))
    assert [(row[0], row[2], row[6], row[7]) for row in postings] == [
        (entry.pk, "5000", 250.75, 0),
        (entry.pk, "2100", 0, 250.75),
    ]
    assert workbook["Postings"]["G4"].number_format == "#,##0.00"
    balances = {row[0]: row[5] for row in workbook["Trial balance"].iter_rows(min_row=4, values_only=True)}
    assert balances == {"2100": -250.75, "5000": 250.75}
    assert sum(Decimal(str(v)) for v in balances.values()) == 0


def test_exported_text_cannot_become_a_formula(client_as):
    m = market("GB")
    ledger_post(
        market=m,
        entry_date=date(2026, 11, 3),
        idempotency_key="inj",
        source_type="test",
        source_id="1",
        description='=HYPERLINK("http://evil.example","x")',
        lines=[
            PostingLine(account_for(market=m, kind=AccountKind.BANK), Decimal("1.00")),
            PostingLine(account_for(market=m, kind=AccountKind.CLEARING), Decimal("-1.00")),
        ],
    )
    response = client_as(Role.AUDITOR).get("/ledger/export/?market=GB")
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    description = workbook["Entries"]["C4"]
    assert description.data_type == "s"
    assert description.value.startswith("'=HYPERLINK")


def test_history_page_shows_who_changed_what_before_and_after(client_as, user_with_role):
    from tests.factories import SellerFactory

    seller = SellerFactory(email="old@seller.example")
    editor = user_with_role(Role.FINANCE_SPECIALIST, username="editor")
    seller._history_user = editor
    seller.email = "new@seller.example"
    seller.net_from_payout = True
    seller.save()
    page = client_as(Role.AUDITOR).get(f"/history/sellers/seller/{seller.pk}/")
    assert page.status_code == 200
    rows = [
        (c["who"], c["type"], [(f["field"], f["before"], f["after"]) for f in c["fields"]])
        for c in page.context["changes"]
    ]
    assert rows[0] == (
        "editor",
        "changed",
        [("email", "old@seller.example", "new@seller.example"), ("net_from_payout", False, True)],
    )
    assert rows[1][1] == "created"
    assert "new@seller.example" in page.content.decode()


def test_history_page_of_an_unknown_model_is_404(client_as):
    client = client_as(Role.AUDITOR)
    assert client.get("/history/sellers/nothing/1/").status_code == 404
    assert client.get("/history/settlement_ops/posting/1/").status_code == 404  # no history kept: immutable


def test_ledger_export_covers_only_the_period_asked_for(client_as):
    post_simple_entry(amount="250.75")  # dated 2026-11-01
    response = client_as(Role.AUDITOR).get("/ledger/export/?market=GB&date_from=2026-11-02&date_to=2026-11-30")
    assert response.status_code == 200
    assert 'filename="ledger_GB_2026-11-02_2026-11-30.xlsx"' in response["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert list(workbook["Postings"].iter_rows(min_row=4, values_only=True)) == []
    assert workbook["Entries"]["A1"].value.endswith("— 2026-11-02 to 2026-11-30")


def test_trial_balance_names_parties_sorts_by_number_and_shows_credits_on_their_side(client_as):
    # given: payables of vendors V-T-0009 and V-T-0010 (account codes 2110-V<id> would sort as
    # text), a seller's receivable, and their postings
    from tests.factories import SellerFactory, VendorFactory

    m = market("GB")
    nine, ten = (
        VendorFactory(code="V-T-0009", legal_name="Nine Ltd"),
        VendorFactory(code="V-T-0010", legal_name="Ten Ltd"),
    )
    seller = SellerFactory(code="S-GB-7", name="Seven Shop")
    cost = account_for(market=m, kind=AccountKind.LOGISTICS_COST)
    for index, vendor in enumerate((ten, nine)):
        payable = account_for(market=m, kind=AccountKind.VENDOR_PAYABLE, party_type="vendor", party_id=vendor.pk)
        ledger_post(
            market=m,
            entry_date=date(2026, 11, 2),
            idempotency_key=f"tb:{index}",
            source_type="test",
            source_id="1",
            description="cost",
            lines=[PostingLine(cost, Decimal("10.00")), PostingLine(payable, Decimal("-10.00"))],
        )
    receivable = account_for(market=m, kind=AccountKind.SELLER_RECEIVABLE, party_type="seller", party_id=seller.pk)
    revenue = account_for(market=m, kind=AccountKind.LOGISTICS_REVENUE)
    ledger_post(
        market=m,
        entry_date=date(2026, 11, 2),
        idempotency_key="tb:s",
        source_type="test",
        source_id="1",
        description="fees",
        lines=[PostingLine(receivable, Decimal("1234.50")), PostingLine(revenue, Decimal("-1234.50"))],
    )
    # when
    response = client_as(Role.FINANCE_APPROVER).get("/ledger/?market=GB")
    # then
    rows = response.context["rows"]
    parties = [row.party_label for row in rows if row.party_label]
    assert parties == ["S-GB-7 Seven Shop", "V-T-0009 Nine Ltd", "V-T-0010 Ten Ltd"]
    numbers = [int(row.code.split("-")[0]) for row in rows]
    assert numbers == sorted(numbers)
    payable_nine = next(row for row in rows if row.party_label == "V-T-0009 Nine Ltd")
    assert (payable_nine.debits, payable_nine.credits, payable_nine.balance, payable_nine.side) == (
        Decimal("0"),
        Decimal("10.00"),
        Decimal("10.00"),
        "Cr",
    )
    page = response.content.decode()
    assert f"vendor {nine.pk}" not in page and f"seller {seller.pk}" not in page
    assert "1,234.50" in page and "-10.00" not in page
