"""Contracts a risk hold blocks from rating (billing.rating finds this module by its name)."""

from .models import Hold

BLOCKED_CONTRACT_IDS_SQL = (
    f"SELECT contract_id FROM {Hold._meta.db_table} WHERE kind = '{Hold.Kind.CONTRACT_RATING.value}' "
    f"AND contract_id IS NOT NULL AND status IN ({', '.join(repr(str(s.value)) for s in Hold.ACTIVE_STATUSES)})"
)
