"""The reader's language and formats: which language a request is served in, and money and dates
formatted the way that language writes them.

Language of a request: the one the reader chose with the switch (Django's `set_language` view
and its cookie); else a seller user's market language; else English (settings.LANGUAGE_CODE),
so staff pages stay English unless chosen. The browser's Accept-Language is not consulted: a
seller in Jakarta reads Bahasa Indonesia even on an English laptop, and can switch.

Formats come from settings.FORMAT_MODULE_PATH (settlement_ops/formats): Indonesian and
Vietnamese group digits with "." and write decimals with ",", as German does; French groups
with a no-break space; English keeps "1,234.50". Money keeps its currency's minor units.
"""

from __future__ import annotations

import functools
from datetime import date

from django.conf import settings
from django.contrib.auth import get_user_model
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.utils import formats, translation

from .money import MINOR_UNITS, quantize


def supported_language(code: str | None) -> str | None:
    """`code` as one of settings.LANGUAGES (a regional variant falls back to its language), or None."""
    if not code:
        return None
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return None


def user_language(user) -> str | None:
    """A seller user's market language; None for staff (they read English unless they choose).
    One query through the seller link, so the kernel need not import the sellers app."""
    if user is None or not user.is_authenticated:
        return None
    if hasattr(user, "_seller_language"):  # read with the user (backends.SignedInUserBackend)
        return supported_language(user._seller_language)
    users = get_user_model().objects.filter(pk=user.pk)
    language = users.values_list("seller_link__seller__market__language", flat=True).first()
    return supported_language(language)


class LocaleMiddleware(DjangoLocaleMiddleware):
    """Django's LocaleMiddleware with the portal's default: chosen language, else the seller's
    market language, else settings.LANGUAGE_CODE. Must come after AuthenticationMiddleware."""

    def process_request(self, request):
        chosen = supported_language(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))
        language = chosen or user_language(getattr(request, "user", None)) or settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


@functools.cache
def _number_style(language: str | None) -> tuple[str, str, object]:
    """The decimal mark, thousands separator and grouping of a language, looked up once: a
    translation.override per amount cost ~75 µs, most of a money-heavy page's rendering."""
    with translation.override(language):
        return (
            formats.get_format("DECIMAL_SEPARATOR", use_l10n=True),
            formats.get_format("THOUSAND_SEPARATOR", use_l10n=True),
            formats.get_format("NUMBER_GROUPING", use_l10n=True),
        )


def format_money(amount, currency: str, language: str | None = None) -> str:
    """An amount in its currency's minor units (IDR/VND none), grouped and with the decimal mark
    of `language` (default: the active one): en "12,500.00", id/vi "12.500", de "12.500,00"."""
    places = MINOR_UNITS[currency]
    rounded = quantize(amount, currency)
    if not rounded:
        rounded = abs(rounded)  # -0.004 shows as 0.00, as Django's formatter shows it
    language = language or translation.get_language()
    decimal_mark, thousands, grouping = _number_style(language)
    if grouping != 3:  # no grouping or an irregular one: Django's general formatter
        with translation.override(language):
            return formats.number_format(rounded, decimal_pos=places, use_l10n=True, force_grouping=True)
    text = f"{rounded:,.{places}f}"
    return text.replace(",", "\x00").replace(".", decimal_mark).replace("\x00", thousands)


def format_day(day: date | None, language: str | None = None) -> str:
    """A date in the one short format of `language` (default: the active one): en 2026-10-31,
    id/vi/fr 31/10/2026, de 31.10.2026."""
    if day is None:
        return ""
    return _short_date(day, language or translation.get_language())


@functools.lru_cache(maxsize=8192)
def _short_date(day: date, language: str) -> str:
    # A page shows few distinct days many times (a statement's 50 fee lines, a month of runs);
    # formatting one through translation.override cost ~12 µs.
    with translation.override(language):
        return formats.date_format(day, "SHORT_DATE_FORMAT", use_l10n=True)
