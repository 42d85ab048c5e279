"""The seller consultation desk: tickets, SLA clocks, the ledger trace beside the thread."""
