from decimal import Decimal

import pytest

from settlement_ops.money import (
    CurrencyMismatch,
    Money,
    UnknownCurrency,
    format_amount,
    percent_of,
    quantize,
    to_decimal,
)


@pytest.mark.parametrize(
    "amount, currency, expected",
    [
        ("1.005", "GBP", "1.01"),  # half-up, not banker's rounding
        ("1.015", "EUR", "1.02"),
        ("2.004", "EUR", "2.00"),
        ("-1.005", "GBP", "-1.01"),  # half away from zero for credits too
        ("12500.5", "IDR", "12501"),  # IDR has no minor unit in practice
        ("12500.49", "VND", "12500"),
        ("0.125", "USD", "0.13"),
    ],
)
def test_quantize_rounds_half_up_to_the_currency_minor_units(amount, currency, expected):
    assert quantize(Decimal(amount), currency) == Decimal(expected)
    assert str(quantize(Decimal(amount), currency)) == expected


def test_floats_are_refused():
    with pytest.raises(TypeError):
        Money(1.1, "GBP")
    with pytest.raises(TypeError):
        quantize(0.1, "EUR")
    with pytest.raises(TypeError):
        Money("1.00", "GBP") * 1.5


def test_money_refuses_to_add_different_currencies():
    with pytest.raises(CurrencyMismatch):
        Money("1.00", "GBP") + Money("1.00", "EUR")
    with pytest.raises(CurrencyMismatch):
        assert Money("1.00", "GBP") < Money("1.00", "EUR")


def test_money_arithmetic_keeps_precision_until_quantized():
    fee = Money("10.00", "GBP") * Decimal("0.175")
    assert fee.amount == Decimal("1.75000")
    assert (Money("0.10", "GBP") + Money("0.20", "GBP")).amount == Decimal("0.30")
    assert (Money("3.333", "EUR") * 3).quantized() == Money(Decimal("10.00"), "EUR")
    assert percent_of(Decimal("19.99"), Decimal("12.5")) == Decimal("2.49875")


def test_unknown_currency_and_bad_text_are_refused():
    with pytest.raises(UnknownCurrency):
        Money("1", "XXX")
    with pytest.raises(ValueError):
        to_decimal("12,50")
    with pytest.raises(ValueError):
        to_decimal("NaN")


def test_format_amount_uses_minor_units():
    assert format_amount(Decimal("1234567.5"), "GBP") == "1,234,567.50"
    assert format_amount(Decimal("1234567.5"), "VND") == "1,234,568"
    assert str(Money("-5", "EUR")) == "EUR -5.00"
