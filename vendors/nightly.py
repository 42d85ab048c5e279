"""Nightly steps of vendors (collected by the nightly chain through the app registry)."""

from .services import contracts_expire


def _contracts_expire(*, market, business_date) -> dict:
    return {"expired": contracts_expire(today=market.local_date())}


# order, code, label, run(market=, business_date=) -> counts; idempotent.
STEPS = [{"order": 5, "code": "contracts_expire", "label": "Expire ended contracts", "run": _contracts_expire}]
