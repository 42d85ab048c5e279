"""What each role may do with shipments and billing runs.

Finance specialists and approvers start and resume runs; auditors read and export; support,
compensation QA and risk find shipments; the integration user pushes shipments through the API
and reads results. Seller users get nothing here (the seller portal shows their own charges).
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

ROLE_PERMISSIONS = {
    Role.FINANCE_SPECIALIST: _SHIPMENTS + _RUNS + _EXPORT + _START,
    Role.FINANCE_APPROVER: _SHIPMENTS + _RUNS + _EXPORT + _START,
    Role.AUDITOR: _SHIPMENTS + _RUNS + _EXPORT,
    Role.RISK_ANALYST: _SHIPMENTS + _RUNS,
    Role.SUPPORT_TIER1: _SHIPMENTS,
    Role.SUPPORT_TIER2: _SHIPMENTS,
    Role.COMPENSATION_QA: _SHIPMENTS,
    Role.INTEGRATION: _SHIPMENTS
    + ["billing.add_shipment", "billing.view_billingrun", "billing.view_chargeline", "billing.view_ratingexception"],
}
