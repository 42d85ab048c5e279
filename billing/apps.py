from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from django.apps import AppConfig
from django.db.backends.signals import connection_created


def _as_decimal(value) -> Decimal | None:
    """A SQLite float read back to 15 significant digits: the decimal it was meant to be."""
    if value is None:
        return None
    if isinstance(value, float):
        return Decimal(format(value, ".15g"))
    return Decimal(str(value))


def _sqlite_round(value, places):
    number = _as_decimal(value)
    if number is None:
        return None
    return float(number.quantize(Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_UP))


def _sqlite_ceil(value):
    number = _as_decimal(value)
    if number is None:
        return None
    return int(number.quantize(Decimal(1), rounding=ROUND_CEILING))


def register_sqlite_functions(sender, connection, **kwargs):
    """SQLite computes decimals as binary floats; the rating SQL (billing.rating) rounds and
    takes ceilings through these so half-up rounding and bracket steps match Decimal arithmetic."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("billing_round", 2, _sqlite_round, deterministic=True)
        connection.connection.create_function("billing_ceil", 1, _sqlite_ceil, deterministic=True)


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self):
        from settlement_ops.services import BALANCE_CHECKS

        from .selectors import charge_lines_integrity

        connection_created.connect(register_sqlite_functions, dispatch_uid="billing_sqlite_functions")
        if charge_lines_integrity not in BALANCE_CHECKS:
            BALANCE_CHECKS.append(charge_lines_integrity)
