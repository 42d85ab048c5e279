"""What each role may do with compensations: compensation QA audits and decides (policies,
reviews, liable party, chargebacks, disputes, corrective actions); support tiers read; finance
approves reversals of accepted disputes and works guarantee claims; auditors read and export;
integrations push requests and read results; seller users see and dispute their own seller's
chargebacks in the portal (scoped in every queryset)."""

from settlement_ops.roles import Role

_READ = [
    "compensation.view_compensationrequest",
    "compensation.view_auditresult",
    "compensation.view_auditpolicy",
    "compensation.view_qualityattribute",
    "compensation.view_auditrun",
    "compensation.view_chargeback",
    "compensation.view_dispute",
    "compensation.view_guaranteeclaim",
    "compensation.view_correctiveaction",
    "compensation.view_qareview",
]
_SUPPORT = [
    "compensation.view_compensationrequest",
    "compensation.view_auditresult",
    "compensation.view_chargeback",
    "compensation.view_dispute",
]
_EXPORT = ["compensation.export_compensationrequest"]

ROLE_PERMISSIONS = {
    Role.COMPENSATION_QA: _READ
    + _EXPORT
    + [
        "compensation.add_compensationrequest",
        "compensation.audit_compensationrequest",
        "compensation.add_auditpolicy",
        "compensation.approve_auditpolicy",
        "compensation.add_auditrun",
        "compensation.add_qareview",
        "compensation.add_chargeback",
        "compensation.add_dispute",
        "compensation.decide_dispute",
        "compensation.add_correctiveaction",
        "compensation.change_correctiveaction",
    ],
    Role.FINANCE_SPECIALIST: _READ + _EXPORT + ["compensation.add_dispute", "compensation.add_guaranteeclaim"],
    Role.FINANCE_APPROVER: _READ + _EXPORT + ["compensation.approve_dispute", "compensation.approve_auditpolicy"],
    Role.AUDITOR: _READ + _EXPORT,
    Role.RISK_ANALYST: _READ,
    Role.SUPPORT_TIER1: _SUPPORT,
    Role.SUPPORT_TIER2: _SUPPORT,
    Role.INTEGRATION: [
        "compensation.view_compensationrequest",
        "compensation.add_compensationrequest",
        "compensation.view_auditresult",
        "compensation.view_chargeback",
    ],
    Role.SELLER_USER: ["compensation.view_chargeback", "compensation.add_dispute"],
}
