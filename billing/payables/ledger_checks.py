"""AP's part of the nightly ledger check (settlement_ops.services.ledger_check finds this module
by its name): the references the freight audit writes on vendor invoice lines still hold."""

from .selectors import invoice_lines_integrity

BALANCE_CHECKS = [invoice_lines_integrity]
