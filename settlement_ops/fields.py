"""Model field shapes shared by every app, so money and weights are stored the same way everywhere."""

from decimal import Decimal

from django.db import models

from .money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS


def money_field(**kwargs) -> models.DecimalField:
    """An amount in the currency of its row: enough digits for VND totals, 4 places for unit rates."""
    kwargs.setdefault("default", Decimal("0"))
    return models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs)


def weight_field(**kwargs) -> models.DecimalField:
    """Kilograms to the gram."""
    return models.DecimalField(max_digits=10, decimal_places=3, **kwargs)
