from datetime import date
from decimal import Decimal

from settlement_ops.models import AccountKind
from settlement_ops.services import PostingLine, account_for, ledger_post
from tests.factories import market


def post_simple_entry(*, key: str = "test:simple", amount: str = "100.00", code: str = "GB"):
    """A balanced two-line entry: logistics cost against accrued cost."""
    m = market(code)
    cost = account_for(market=m, kind=AccountKind.LOGISTICS_COST)
    accrual = account_for(market=m, kind=AccountKind.ACCRUED_LOGISTICS_COST)
    return ledger_post(
        market=m,
        entry_date=date(2026, 11, 1),
        lines=[PostingLine(cost, Decimal(amount)), PostingLine(accrual, -Decimal(amount))],
        idempotency_key=key,
        source_type="test",
        source_id="1",
        description="Test accrual",
    )
