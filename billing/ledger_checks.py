"""Billing's part of the nightly ledger check (settlement_ops.services.ledger_check finds this
module by its name): charge lines agree with their shipments and each run's posted totals."""

from .selectors import charge_lines_integrity

BALANCE_CHECKS = [charge_lines_integrity]
