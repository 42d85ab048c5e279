"""AR's part of the nightly ledger check (settlement_ops.services.ledger_check finds this module
by its name): invoice and receipt open amounts tie to the seller receivable and unapplied cash."""

from .services import balance_problems

BALANCE_CHECKS = [balance_problems]
