"""`{{ value|day }}`: a date in the reader's short date format (settlement_ops.i18n.format_day:
en 2026-10-31, id/vi/fr 31/10/2026), as `|date:"SHORT_DATE_FORMAT"` writes it but cached per day
and language, for the long tables. A datetime is shown as `date` shows it (in the current time
zone), nothing for an empty value."""

from datetime import date, datetime

from django import template
from django.template.defaultfilters import date as date_filter

from settlement_ops.i18n import format_day

register = template.Library()


@register.filter(expects_localtime=True)
def day(value) -> str:
    if isinstance(value, datetime):
        return date_filter(value, "SHORT_DATE_FORMAT")
    if isinstance(value, date):
        return format_day(value)
    return ""
