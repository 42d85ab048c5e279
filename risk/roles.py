from settlement_ops.roles import Role

_READ = [
    "risk.view_finding",
    "risk.view_case",
    "risk.view_hold",
    "risk.view_ruleversion",
    "risk.view_nightlyrun",
    "risk.view_nightlystep",
]

ROLE_PERMISSIONS = {
    # Works findings and cases, proposes (places) holds and asks for their release.
    Role.RISK_ANALYST: _READ + ["risk.work_case", "risk.propose_hold", "risk.export_risk", "risk.change_ruleparams"],
    # Releases holds and approves closing cases with money at risk (never their own).
    Role.FINANCE_APPROVER: _READ
    + ["risk.release_hold", "risk.approve_case_close", "risk.export_risk", "risk.rerun_nightlystep"],
    Role.FINANCE_SPECIALIST: ["risk.view_nightlyrun", "risk.view_nightlystep", "risk.rerun_nightlystep"],
    Role.AUDITOR: _READ + ["risk.export_risk"],
    # The payout system reads seller payout holds.
    Role.INTEGRATION: ["risk.view_hold"],
}
