"""What each role may do with vendors: finance specialists prepare (contracts, rate cards, bank
detail changes), finance approvers approve, auditors read and export, integrations read and quote."""

from settlement_ops.roles import Role

_VENDOR_READ = ["vendors.view_vendor"]
_CONTRACT_READ = [
    "vendors.view_contract",
    "vendors.view_contractversion",
    "vendors.view_rateline",
    "vendors.view_surcharge",
]
_BANK_READ = ["vendors.view_vendorbankaccount", "vendors.view_vendorbankchangerequest"]

ROLE_PERMISSIONS = {
    Role.FINANCE_SPECIALIST: _VENDOR_READ
    + _CONTRACT_READ
    + _BANK_READ
    + [
        "vendors.add_vendor",
        "vendors.change_vendor",
        "vendors.add_contract",
        "vendors.change_contract",
        "vendors.add_contractversion",
        "vendors.change_contractversion",
        "vendors.add_vendorbankchangerequest",
        "vendors.export_contract",
    ],
    Role.FINANCE_APPROVER: _VENDOR_READ
    + _CONTRACT_READ
    + _BANK_READ
    + [
        "vendors.approve_contract",
        "vendors.approve_vendorbankchangerequest",
        "vendors.export_contract",
    ],
    Role.AUDITOR: _VENDOR_READ + _CONTRACT_READ + _BANK_READ + ["vendors.export_contract"],
    Role.RISK_ANALYST: _VENDOR_READ + _CONTRACT_READ + _BANK_READ,
    Role.COMPENSATION_QA: _VENDOR_READ,
    Role.INTEGRATION: _VENDOR_READ + _CONTRACT_READ,
}
