"""The ledger accounts payables posts to, in one place."""

from settlement_ops.models import AccountKind
from settlement_ops.services import account_for


def vendor_payable_account(vendor, currency: str):
    return account_for(
        market=vendor.market,
        kind=AccountKind.VENDOR_PAYABLE,
        currency=currency,
        party_type="vendor",
        party_id=vendor.pk,
    )


def accrual_account(vendor, currency: str):
    """Where the billing run accrued the vendor's cost (Dr logistics cost / Cr accrued logistics
    cost per vendor, see billing.services._entry_lines). Approval relieves what was accrued for the
    approved lines."""
    return account_for(
        market=vendor.market,
        kind=AccountKind.ACCRUED_LOGISTICS_COST,
        currency=currency,
        party_type="vendor",
        party_id=vendor.pk,
    )


def market_account(vendor, kind: str, currency: str):
    return account_for(market=vendor.market, kind=kind, currency=currency)
