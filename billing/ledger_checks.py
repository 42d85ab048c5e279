"""Billing's part of the nightly ledger check (settlement_ops.services.ledger_check finds this
module by its name): charge lines agree with their shipments and each run's totals, and every
charge line is posted exactly once (or belongs to a run still progressing)."""

from .selectors import charge_lines_integrity, charge_lines_posted

BALANCE_CHECKS = [charge_lines_integrity, charge_lines_posted]
