from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from settlement_ops.errors import DomainError
from settlement_ops.models import FxRate
from settlement_ops.money import Money
from settlement_ops.roles import Role
from settlement_ops.selectors import fx_convert
from settlement_ops.services import fx_rates_import

pytestmark = pytest.mark.django_db

GOOD = "date,currency,rate\n2026-11-20,GBP,1.1650\n2026-11-20,IDR,0.0000562\n2026-11-21,GBP,1.1700\n"


def test_import_stores_rates_and_conversion_uses_the_latest_rate_on_or_before_the_date():
    assert fx_rates_import(csv_text=GOOD) == 3
    assert fx_convert(Money("100.00", "GBP"), on=date(2026, 11, 20)) == Money(Decimal("116.50"), "EUR")
    assert fx_convert(Money("100.00", "GBP"), on=date(2026, 11, 25)) == Money(Decimal("117.00"), "EUR")
    # cross rate through EUR, rounded once in the target currency (IDR: no minor unit)
    assert fx_convert(Money("100.00", "GBP"), to="IDR", on=date(2026, 11, 20)) == Money(Decimal("2072954"), "IDR")
    with pytest.raises(DomainError, match="No FX rate for GBP on or before 2026-11-19"):
        fx_convert(Money("1.00", "GBP"), on=date(2026, 11, 19))


def test_a_file_with_a_bad_row_imports_nothing_and_names_every_bad_row():
    text = "date,currency,rate\n2026-11-20,GBP,1.16\n20/11/2026,GBP,1.1\n2026-11-20,XYZ,1\n2026-11-20,IDR,-3\n2026-11-20,VND,abc\n"
    with pytest.raises(DomainError) as caught:
        fx_rates_import(csv_text=text)
    assert caught.value.errors == [
        {"row": 3, "field": "date", "message": "'20/11/2026' is not a YYYY-MM-DD date"},
        {"row": 4, "field": "currency", "message": "unknown currency 'XYZ'"},
        {"row": 5, "field": "rate", "message": "must be greater than zero"},
        {"row": 6, "field": "rate", "message": "'abc' is not a number"},
    ]
    assert FxRate.objects.count() == 0


def test_fx_import_page_shows_row_errors_and_refuses_wrong_role(client_as):
    client = client_as(Role.FINANCE_SPECIALIST)
    bad = SimpleUploadedFile("rates.csv", b"date,currency,rate\n2026-11-20,GBP,zero\n", content_type="text/csv")
    response = client.post("/fx-rates/", {"file": bad})
    assert response.status_code == 400
    assert "nothing was imported" in response.content.decode()
    assert "&#x27;zero&#x27; is not a number" in response.content.decode()
    good = SimpleUploadedFile("rates.csv", GOOD.encode(), content_type="text/csv")
    response = client.post("/fx-rates/", {"file": good})
    assert response.status_code == 302
    assert FxRate.objects.count() == 3
    auditor = client_as(Role.AUDITOR)
    response = auditor.post("/fx-rates/", {"file": SimpleUploadedFile("r.csv", GOOD.encode())})
    assert response.status_code == 403


def test_fx_import_page_refuses_a_non_csv_file(client_as):
    client = client_as(Role.FINANCE_SPECIALIST)
    response = client.post("/fx-rates/", {"file": SimpleUploadedFile("rates.xlsx", b"PK\x03\x04")})
    assert response.status_code == 400
    assert "Upload a .csv file." in response.content.decode()
