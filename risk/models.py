"""Risk rules, findings, cases and holds."""
