"""`{{ amount|money:currency }}`: the one way templates show money, as PDFs and letters do: the
currency's own minor units (IDR and VND none, GBP and EUR two), thousands grouped and the
decimal mark as the reader's language writes them (settlement_ops.i18n.format_money: English
"12,500.00", Bahasa Indonesia and Vietnamese "12.500"), a minus for negatives, nothing for an
empty value."""

from decimal import Decimal, InvalidOperation

from django import template

from settlement_ops.i18n import format_money
from settlement_ops.money import MINOR_UNITS, to_decimal

register = template.Library()


@register.filter
def money(value, currency) -> str:
    if value is None or value == "":
        return ""
    try:
        amount = value if isinstance(value, Decimal) else to_decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
    if currency not in MINOR_UNITS:
        return f"{amount:,}"
    return format_money(amount, currency)
