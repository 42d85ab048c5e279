"""Demo data of risk: one planted condition per rule in each market where it fits, the rules
run once, and one case in GB with a vendor hold, so every page has something to show. The
nightly chain (`make demo` runs it) then finds the same conditions again and updates them."""

from __future__ import annotations

from settlement_ops.errors import DomainError

from . import holds, services
from .models import Finding, Hold
from .planting import PLANTERS


def seed(ctx) -> None:
    if Finding.objects.exists():
        return
    planted = 0
    for market in ctx.markets:
        if not market.is_active:
            continue
        for planter in PLANTERS.values():
            try:
                planted += planter(market, ctx.today) is not None
            except DomainError:
                continue
        services.rules_run_market(market=market, today=ctx.today)
    analyst = ctx.users.get("risk")
    finding = Finding.objects.filter(market_id="GB", rule_code="duplicate_invoice").first()
    if analyst is not None and finding is not None:
        case = services.case_open(actor=analyst, findings=[finding], title="Invoice billed twice")
        vendor = finding.subject_id and finding.subject_type == "vendor"
        if vendor:
            from vendors.models import Vendor

            holds.hold_place(
                actor=analyst,
                case=case,
                kind=Hold.Kind.VENDOR_PAYABLES,
                vendor=Vendor.objects.get(pk=finding.subject_id),
                reason="Duplicate invoice under investigation",
            )
    ctx.lines.append(
        f"Risk: {planted} conditions planted, {Finding.objects.count()} findings, "
        f"{Finding.objects.values('rule_code').distinct().count()} rules with a finding"
    )
