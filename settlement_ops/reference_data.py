"""Reference data every installation needs: markets and default approval limits.

Written by migration 0002 and re-ensured after every migrate/flush (post_migrate), without
overwriting what finance has changed since.
"""

from decimal import Decimal

MARKETS = [
    # code, name, currency, VAT standard, VAT reduced, timezone, language, terms, prefix
    ("GB", "United Kingdom", "GBP", "20.00", "5.00", "Europe/London", "en", 30, "GB"),
    ("DE", "Germany", "EUR", "19.00", "7.00", "Europe/Berlin", "de", 30, "DE"),
    ("FR", "France", "EUR", "20.00", "5.50", "Europe/Paris", "fr", 30, "FR"),
    ("ID", "Indonesia", "IDR", "11.00", "0.00", "Asia/Jakarta", "id", 14, "ID"),
    ("VN", "Vietnam", "VND", "10.00", "5.00", "Asia/Ho_Chi_Minh", "vi", 15, "VN"),
]

APPROVAL_LIMITS = [
    ("finance_approver", "payment_run", {"GBP": "500000", "EUR": "600000", "IDR": "10000000000", "VND": "15000000000"}),
    ("finance_approver", "write_off", {"GBP": "10000", "EUR": "12000", "IDR": "200000000", "VND": "300000000"}),
    ("risk_analyst", "hold_release", {"GBP": "250000", "EUR": "300000", "IDR": "5000000000", "VND": "7500000000"}),
]


def ensure_reference_data(Market, ApprovalLimit) -> None:
    """Create missing markets and limits (model classes passed in so migrations can use it)."""
    for code, name, currency, vat, reduced, tz, lang, terms, prefix in MARKETS:
        Market.objects.get_or_create(
            code=code,
            defaults=dict(
                name=name,
                currency=currency,
                vat_standard_rate=Decimal(vat),
                vat_reduced_rate=Decimal(reduced),
                timezone=tz,
                language=lang,
                payment_terms_days=terms,
                invoice_prefix=prefix,
            ),
        )
    for role, action, by_currency in APPROVAL_LIMITS:
        for currency, amount in by_currency.items():
            ApprovalLimit.objects.get_or_create(
                role=role, action=action, currency=currency, defaults={"max_amount": Decimal(amount)}
            )
