"""Nightly steps of risk (the rules over the market) and, until the compensation app declares
its own `nightly.py`, its audit and guarantee-claim step, found through the app registry so the
chain runs without it."""

from settlement_ops.navigation import app_module


def _compensation(*, market, business_date) -> dict:
    if app_module("compensation", "nightly") is not None:
        return {"note": "declared by the compensation app"}
    services = app_module("compensation", "services")
    models = app_module("compensation", "models")
    if services is None or models is None:
        return {"skipped": True, "note": "no compensation app"}
    policy = models.AuditPolicy.objects.filter(market=market, status=models.AuditPolicy.Status.ACTIVE).first()
    if policy is None:
        return {"skipped": True, "note": "no active audit policy"}
    run = services.audit_run(market=market)
    return {
        "audited": run.audited,
        "chargebacks": services.chargebacks_post_due(market=market),
        "sampled": services.qa_sample_draw(market=market, day=business_date),
        "claims": len(services.guarantee_claims_build(market=market)),
        "credited": services.guarantee_claims_check_credits(market=market),
    }


def _risk_rules(*, market, business_date) -> dict:
    from .services import rules_run_market

    report = rules_run_market(market=market, today=business_date)
    return {
        "hits": sum(r["hits"] for r in report.values()),
        "new": sum(r["new"] for r in report.values()),
        "updated": sum(r["updated"] for r in report.values()),
    }


STEPS = [
    {"order": 30, "code": "compensation", "label": "Compensation audit and guarantee claims", "run": _compensation},
    {"order": 40, "code": "risk_rules", "label": "Risk rules", "run": _risk_rules},
]
