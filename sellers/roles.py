from settlement_ops.roles import Role

_SELLER_READ = ["sellers.view_seller"]
# Seller master data: finance specialists and the integration (the marketplace's seller onboarding).
_SELLER_WRITE = ["sellers.add_seller", "sellers.change_seller"]
# The consultation desk: tier 1 answers, tier 2 (support tier 2 and the billing specialists) takes
# escalations and proposes credits; an approver issues a proposed credit (four eyes).
_DESK_TIER1 = ["sellers.view_ticket", "sellers.work_desk_tier1"]
_DESK_TIER2 = [*_DESK_TIER1, "sellers.work_desk_tier2", "sellers.add_ticketcreditproposal"]
# Seller health: tier 2 and the specialists work warnings, outreach and plans; approvers activate rules.
_HEALTH_READ = ["sellers.view_sellermetricsnapshot", "sellers.view_healthwarning"]
_HEALTH = [*_HEALTH_READ, "sellers.work_seller_health", "sellers.add_warningruleset"]

ROLE_PERMISSIONS = {
    Role.FINANCE_SPECIALIST: [*_SELLER_READ, *_SELLER_WRITE, *_DESK_TIER2, "sellers.manage_desk", *_HEALTH],
    Role.FINANCE_APPROVER: [
        *_SELLER_READ,
        "sellers.view_ticket",
        "sellers.approve_ticketcreditproposal",
        *_HEALTH_READ,
        "sellers.approve_warningruleset",
    ],
    Role.AUDITOR: [*_SELLER_READ, "sellers.view_ticket", *_HEALTH_READ],
    Role.SUPPORT_TIER1: [*_SELLER_READ, *_DESK_TIER1],
    Role.SUPPORT_TIER2: [*_SELLER_READ, *_DESK_TIER2, *_HEALTH],
    Role.COMPENSATION_QA: _SELLER_READ,
    Role.RISK_ANALYST: _SELLER_READ,
    # Tickets from other channels (call centre, e-mail gateway) on a seller's behalf.
    Role.INTEGRATION: [*_SELLER_READ, *_SELLER_WRITE, "sellers.view_ticket", "sellers.add_ticket"],
    # Their own seller's tickets only (sellers.desk.selectors.tickets_for_seller_user).
    Role.SELLER_USER: ["sellers.view_ticket", "sellers.add_ticket", *_HEALTH_READ],
}
