"""Excel exports of findings and cases for auditors: numbers as numbers, dates as dates."""

from __future__ import annotations

from settlement_ops.exports import Column, Sheet, workbook_response
from settlement_ops.money import Money

from .selectors import rule_name


def findings_workbook(findings):
    columns = [
        Column("Market", width=8),
        Column("Rule", width=34),
        Column("Rule version", "int", 8),
        Column("Severity", width=9),
        Column("Finding", width=70),
        Column("Vendor / seller / contract", width=34),
        Column("Money at risk", "money", 16),
        Column("Money at risk (EUR)", "number", 16),
        Column("State", width=10),
        Column("Case", width=22),
        Column("Dismissed because", width=40),
        Column("First seen", "date", 12),
        Column("Last seen", "date", 12),
        Column("Nights seen", "int", 8),
    ]
    rows = (
        (
            f.market_id,
            rule_name(f.rule_code),
            f.rule_version.version,
            f.get_severity_display(),
            f.title,
            f.subject_label,
            Money(f.money_at_risk, f.currency),
            f.money_at_risk_eur,
            f.get_state_display(),
            f.case.number if f.case_id else "",
            f.dismissed_reason,
            f.first_seen_on,
            f.last_seen_on,
            f.seen_count,
        )
        for f in findings.iterator(chunk_size=2000)
    )
    return workbook_response(filename="risk_findings.xlsx", sheets=[Sheet("Findings", columns, rows)])


def cases_workbook(cases):
    columns = [
        Column("Case", width=22),
        Column("Market", width=8),
        Column("Title", width=50),
        Column("Owner", width=14),
        Column("State", width=16),
        Column("Root cause", width=26),
        Column("Root cause notes", width=40),
        Column("Money at risk", "money", 16),
        Column("Money stopped", "money", 16),
        Column("Money recovered", "money", 16),
        Column("Resolution", width=40),
        Column("Opened", "datetime", 18),
        Column("Closed", "datetime", 18),
        Column("Closed by", width=14),
    ]
    rows = (
        (
            c.number,
            c.market_id,
            c.title,
            c.owner.username,
            c.get_state_display(),
            c.get_root_cause_display(),
            c.root_cause_text,
            Money(c.money_at_risk, c.currency),
            Money(c.money_stopped, c.currency),
            Money(c.money_recovered, c.currency),
            c.resolution,
            c.created_at,
            c.closed_at,
            c.closed_by.username if c.closed_by_id else "",
        )
        for c in cases.select_related("owner", "closed_by")
    )
    return workbook_response(filename="risk_cases.xlsx", sheets=[Sheet("Cases", columns, rows)])
