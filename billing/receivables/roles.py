"""What each role may do in receivables: finance specialists prepare statements, record and
apply receipts, issue credit notes and propose write-offs; finance approvers approve write-offs
(within their limits, never their own); auditors read and export; integrations post receipts and
read/confirm payout deductions by API; support tiers read statements and invoices to answer
sellers; seller users read their own seller's statements, invoices and payments (scoped in every
queryset)."""

from settlement_ops.roles import Role

_READ = [
    "receivables.view_statement",
    "receivables.view_invoice",
    "receivables.view_receipt",
    "receivables.view_receiptapplication",
    "receivables.view_payoutdeduction",
    "receivables.view_writeoff",
    "receivables.view_collectionnote",
    "receivables.view_dunningnotice",
]
_EXPORT = ["receivables.export_statement"]

ROLE_PERMISSIONS = {
    Role.FINANCE_SPECIALIST: _READ
    + _EXPORT
    + [
        "receivables.add_statement",
        "receivables.add_invoice",
        "receivables.add_receipt",
        "receivables.apply_receipt",
        "receivables.add_writeoff",
        "receivables.manage_collections",
        "receivables.add_collectionnote",
    ],
    Role.FINANCE_APPROVER: _READ + _EXPORT + ["receivables.approve_writeoff", "receivables.manage_collections"],
    Role.AUDITOR: _READ + _EXPORT,
    Role.SUPPORT_TIER1: ["receivables.view_statement", "receivables.view_invoice"],
    Role.SUPPORT_TIER2: ["receivables.view_statement", "receivables.view_invoice", "receivables.view_receipt"],
    Role.RISK_ANALYST: _READ,
    Role.INTEGRATION: [
        "receivables.view_receipt",
        "receivables.add_receipt",
        "receivables.view_payoutdeduction",
        "receivables.confirm_payoutdeduction",
        "receivables.view_invoice",
        # Aging (view_invoice), collections and write-offs, read only: decisions stay with people.
        "receivables.view_dunningnotice",
        "receivables.view_collectionnote",
        "receivables.view_writeoff",
    ],
    Role.SELLER_USER: [
        "receivables.view_statement",
        "receivables.view_invoice",
        "receivables.view_receipt",
        "receivables.view_payoutdeduction",
    ],
}
