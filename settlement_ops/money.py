"""Money arithmetic: Decimal + currency, one rounding rule, no floats.

Rounding rule: amounts are quantized to the currency's minor units with ROUND_HALF_UP, once, at
the point where a price becomes a charge (rating, invoicing, FX conversion). Intermediate results
(rate x weight, percentages) keep full Decimal precision until then. IDR and VND are treated as
having no minor unit, as they are used in practice (ISO 4217 lists 2 for IDR).

The rule exists twice, in the two languages that apply it: `quantize()` for Python and
`round_sql()` for set-based SQL (PostgreSQL NUMERIC). `tests/billing/test_rating_parity.py` proves
them equal, half-way cases included.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MINOR_UNITS: dict[str, int] = {
    "GBP": 2,
    "EUR": 2,
    "USD": 2,
    "IDR": 0,
    "VND": 0,
}
CURRENCY_CHOICES = [(code, code) for code in MINOR_UNITS]

# Storage precision for money columns: enough for VND totals and 4-place rates.
MONEY_MAX_DIGITS = 20
MONEY_DECIMAL_PLACES = 4


class CurrencyMismatch(ValueError):
    pass


class UnknownCurrency(ValueError):
    pass


def minor_units(currency: str) -> int:
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise UnknownCurrency(f"Unknown currency {currency!r}") from None


def exponent(currency: str) -> Decimal:
    """The currency's smallest unit (Decimal("0.01") for GBP); built once per currency."""
    try:
        return _EXPONENTS[currency]
    except KeyError:
        return _EXPONENTS.setdefault(currency, Decimal(1).scaleb(-minor_units(currency)))


_EXPONENTS: dict[str, Decimal] = {}


def to_decimal(value) -> Decimal:
    """Convert int/str/Decimal to Decimal; refuse float (binary fractions are not money)."""
    if isinstance(value, (bool, float)):
        raise TypeError("Money amounts must be Decimal, int or str, never float")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"Not a number: {value!r}") from None
        if not result.is_finite():
            raise ValueError(f"Not a finite number: {value!r}")
        return result
    raise TypeError(f"Cannot use {type(value).__name__} as a money amount")


def quantize(amount, currency: str) -> Decimal:
    """Round to the currency's minor units, half-up. The only rounding function for money."""
    return to_decimal(amount).quantize(exponent(currency), rounding=ROUND_HALF_UP)


# PostgreSQL's ROUND(numeric, n) rounds a tie away from zero, which is exactly ROUND_HALF_UP of
# Python's decimal module (also away from zero, for negative deltas too). Exact: NUMERIC is decimal.
ROUND_SQL = "ROUND({expression}, {places})"


def round_sql(expression: str, currency: str) -> str:
    """`quantize()` as a SQL expression over NUMERIC `expression`: half-up to the currency's minor
    units. With `round_div_sql` (its integer twin), the only rounding set-based SQL uses for money."""
    return ROUND_SQL.format(expression=expression, places=minor_units(currency))


def round_div_sql(expression: str, divisor: int) -> str:
    """`quantize()` over integers, as SQL: BIGINT `expression` / `divisor` rounded half-up (a tie
    away from zero) for a positive even divisor. Integer division truncates toward zero, so half
    the divisor is added before it for positive values and subtracted for negative ones. The
    rating statement's rounding in minor units (billing.rating), proven equal to quantize by
    tests/billing/test_rating_integers.py."""
    return (
        f"(CASE WHEN ({expression}) >= 0 THEN (({expression}) + {divisor // 2}) / {divisor} "
        f"ELSE (({expression}) - {divisor // 2}) / {divisor} END)"
    )


def is_quantized(amount: Decimal, currency: str) -> bool:
    return amount == quantize(amount, currency)


def percent_of(amount: Decimal, percent: Decimal) -> Decimal:
    """amount x percent / 100 at full precision (round later, with quantize)."""
    return to_decimal(amount) * to_decimal(percent) / Decimal(100)


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self):
        object.__setattr__(self, "amount", to_decimal(self.amount))
        minor_units(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def _check(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"Cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"Cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor) -> Money:
        if isinstance(factor, Money):
            raise TypeError("Cannot multiply Money by Money")
        return Money(self.amount * to_decimal(factor), self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._check(other)
        return self.amount >= other.amount

    def quantized(self) -> Money:
        return Money(quantize(self.amount, self.currency), self.currency)

    def is_zero(self) -> bool:
        return self.amount == 0

    def __str__(self) -> str:
        return f"{self.currency} {format_amount(self.amount, self.currency)}"


def format_amount(amount: Decimal, currency: str) -> str:
    places = minor_units(currency)
    return f"{quantize(amount, currency):,.{places}f}"


def money_sum(items, currency: str) -> Money:
    total = Money.zero(currency)
    for item in items:
        total = total + item
    return total
