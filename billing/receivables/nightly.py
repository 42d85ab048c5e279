"""Nightly steps of receivables (collected by the nightly chain through the app registry)."""

from settlement_ops.errors import DomainError

from .dunning import dunning_run
from .services import statement_period, statements_generate


def _statements(*, market, business_date) -> dict:
    """The market's statements of its last complete period (idempotent: sellers with a statement
    are skipped). A period not over yet is not an error."""
    start, end = statement_period(market=market)
    try:
        written = statements_generate(actor=None, market=market, period_start=start, period_end=end)
    except DomainError as exc:
        return {"statements": 0, "note": exc.message}
    return {"statements": len(written), "period_end": str(end)}


def _dunning(*, market, business_date) -> dict:
    """One notice per invoice and level: a second run the same day sends nothing."""
    return {"notices": dunning_run(markets=[market]).get(market.code, 0)}


STEPS = [
    {"order": 20, "code": "statements", "label": "Seller statements", "run": _statements},
    {"order": 50, "code": "dunning", "label": "Dunning", "run": _dunning},
]
