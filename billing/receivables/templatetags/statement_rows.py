"""`{% statement_fee_rows fees currency as rows %}`: a statement's fee lines as its table shows
them, formatted in one pass: (ship date, tracking number, service, kind, invoice number, net,
VAT, total). Fifty lines of eight template variables with filters cost ~2.5 ms of every statement
page; the same strings built here and shown as plain variables cost ~1."""

from django import template
from django.utils.translation import gettext

from settlement_ops.i18n import format_day, format_money

register = template.Library()


@register.simple_tag
def statement_fee_rows(fees, currency: str) -> list[tuple[str, ...]]:
    kinds: dict[str, str] = {}
    rows = []
    for line in fees:
        kind = kinds.get(line.kind)
        if kind is None:
            # As {% translate line.get_kind_display %}: the portal's catalogues hold the labels.
            kind = kinds[line.kind] = gettext(line.get_kind_display())
        rows.append(
            (
                format_day(line.ship_date),
                line.shipment.tracking_number,
                line.service_level,
                kind,
                line.invoice_number or "—",
                format_money(line.seller_net, currency),
                format_money(line.seller_vat, currency),
                format_money(line.seller_gross, currency),
            )
        )
    return rows
