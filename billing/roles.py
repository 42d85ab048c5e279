"""What each role may do with shipments, billing runs and seller fee schedules.

Finance specialists and approvers start and resume runs; auditors read and export; support,
compensation QA and risk find shipments; the integration user pushes shipments, starts runs and
drafts seller fee schedules through the API and reads results. Fee schedules have four eyes:
specialists (and the integration) draft them, approvers approve or reject them. Seller users get
nothing here (the seller portal shows their own charges).
"""

from settlement_ops.roles import Role

_SHIPMENTS = ["billing.view_shipment", "billing.view_shipmentevent"]
_RUNS = [
    "billing.view_billingrun",
    "billing.view_chargeline",
    "billing.view_ratingexception",
    "billing.view_sellerfeeschedule",
    "billing.view_billingrunentry",
]
_EXPORT = ["billing.export_billing"]
_START = ["billing.start_billingrun"]
_FEES_READ = ["billing.view_sellerfeeschedule", "billing.view_sellerfeeline"]
_FEES_DRAFT = ["billing.add_sellerfeeschedule"]
_FEES_APPROVE = ["billing.approve_sellerfeeschedule"]

ROLE_PERMISSIONS = {
    Role.FINANCE_SPECIALIST: _SHIPMENTS + _RUNS + _EXPORT + _START + _FEES_READ + _FEES_DRAFT,
    Role.FINANCE_APPROVER: _SHIPMENTS + _RUNS + _EXPORT + _START + _FEES_READ + _FEES_APPROVE,
    Role.AUDITOR: _SHIPMENTS + _RUNS + _EXPORT + _FEES_READ,
    Role.RISK_ANALYST: _SHIPMENTS + _RUNS + _FEES_READ,
    Role.SUPPORT_TIER1: _SHIPMENTS,
    Role.SUPPORT_TIER2: _SHIPMENTS,
    Role.COMPENSATION_QA: _SHIPMENTS,
    Role.INTEGRATION: _SHIPMENTS
    + _START
    + _FEES_READ
    + _FEES_DRAFT
    + ["billing.add_shipment", "billing.view_billingrun", "billing.view_chargeline", "billing.view_ratingexception"],
}
