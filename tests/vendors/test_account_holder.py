"""Account holder names in the bank format's characters, checked where bank details come in."""

import pytest

from settlement_ops.errors import DomainError
from settlement_ops.roles import Role
from tests.factories import VendorFactory, market
from vendors.models import VendorBankChangeRequest
from vendors.validators import validate_account_holder

pytestmark = pytest.mark.django_db

FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "=1+1", " \t=1+1"]


@pytest.mark.parametrize("market_code", ["DE", "FR", "GB", "ID", "VN"])
@pytest.mark.parametrize("value", FORMULAS)
def test_a_holder_that_starts_a_formula_is_refused_in_every_market(market_code, value):
    with pytest.raises(DomainError) as info:
        validate_account_holder(market_code=market_code, value=value)
    assert info.value.field == "account_holder"


@pytest.mark.parametrize("value", ["Müller Logistik GmbH", "Schmidt & Co", "Transports Léon SARL", "A\x00B", "A;B"])
def test_sepa_markets_take_only_the_sepa_character_set(value):
    with pytest.raises(DomainError, match="SEPA"):
        validate_account_holder(market_code="DE", value=value)


@pytest.mark.parametrize(
    ("market_code", "value"),
    [
        ("DE", "Mueller Logistik GmbH"),
        ("FR", "Transports L'Hermite S.A. (Lyon)"),
        ("GB", "Smith & Sons Ltd"),
        ("VN", "Công ty TNHH Giao Hàng Nhanh"),
        ("ID", "PT Jalur Nugraha Ekakurir (JNE)"),
    ],
)
def test_real_names_pass(market_code, value):
    assert validate_account_holder(market_code=market_code, value=value) == value


def test_tabs_and_line_breaks_become_single_spaces():
    assert validate_account_holder(market_code="GB", value="\tCarrier\r\n  Ltd ") == "Carrier Ltd"


def test_the_bank_change_api_refuses_a_formula_holder(api_as):
    # given
    vendor = VendorFactory(market=market("DE"))
    client = api_as(Role.FINANCE_SPECIALIST)
    body = {
        "vendor": vendor.pk,
        "account_holder": "=HYPERLINK(1)",
        "iban": "DE89370400440532013000",
        "currency": "EUR",
    }
    # when
    response = client.post("/api/vendor-bank-changes/", body, format="json")
    # then
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "account_holder"
    assert not VendorBankChangeRequest.objects.exists()
