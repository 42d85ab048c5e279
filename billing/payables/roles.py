from settlement_ops.roles import Role

_READ = [
    "payables.view_vendorinvoice",
    "payables.view_vendorinvoiceline",
    "payables.view_invoiceimport",
    "payables.view_payable",
    "payables.view_paymentrun",
    "payables.view_payment",
    "payables.view_vendordeduction",
    "payables.view_bankfile",
    "payables.view_invoicecolumnmapping",
    "payables.view_vendorauditpolicy",
]
_EXPORT = ["payables.export_payables"]

ROLE_PERMISSIONS = {
    # Prepares: uploads and audits invoices, keeps mappings and tolerances, prepares, sends and
    # confirms payment runs, records deductions, holds payables.
    Role.FINANCE_SPECIALIST: _READ
    + _EXPORT
    + [
        "payables.import_vendorinvoice",
        "payables.audit_vendorinvoice",
        "payables.change_invoicecolumnmapping",
        "payables.change_vendorauditpolicy",
        "payables.prepare_paymentrun",
        "payables.add_vendordeduction",
        "payables.hold_payable",
    ],
    # Approves payment runs (four eyes, limits) and may hold/release payables.
    Role.FINANCE_APPROVER: _READ + _EXPORT + ["payables.approve_paymentrun", "payables.hold_payable"],
    Role.AUDITOR: _READ + _EXPORT,
    Role.RISK_ANALYST: _READ + ["payables.hold_payable"],
    # Pushes invoice files through the API (keeping each vendor's column mapping) and reads the
    # outcome: payables, runs and payments, vendor statements, bank files and payment lineage.
    Role.INTEGRATION: [
        "payables.view_vendorinvoice",
        "payables.view_invoiceimport",
        "payables.import_vendorinvoice",
        "payables.view_vendordeduction",
        "payables.add_vendordeduction",
        "payables.view_invoicecolumnmapping",
        "payables.change_invoicecolumnmapping",
        "payables.view_payable",
        "payables.view_paymentrun",
        "payables.view_payment",
        "payables.view_bankfile",
        "payables.export_payables",
    ],
}
