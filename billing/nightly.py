"""Nightly steps of billing (collected by the nightly chain through the app registry)."""

from .models import BillingRun
from .services import billing_runs_dispatch


def _billing_run(*, market, business_date) -> dict:
    """Start the market's run of its business date (idempotent: an existing run is not started
    again) and report it. While its chunks are rated by workers the step answers "waiting", and
    the steps after it wait too; a failed run is the billing sweep's, and fails the step."""
    billing_runs_dispatch(markets=[market], trigger=BillingRun.Trigger.SCHEDULE)
    run = BillingRun.objects.filter(market=market, business_date=business_date).order_by("-pk").first()
    if run is None:
        return {"waiting": True, "reason": "An earlier unfinished run of the market goes first"}
    counts = {"run": run.pk, "status": run.status, "rated": run.shipments_rated, "exceptions": run.exception_count}
    if run.status == BillingRun.Status.FAILED:
        raise RuntimeError(f"Billing run {run.pk} failed: {run.error}")
    if run.status != BillingRun.Status.COMPLETED:
        counts["waiting"] = True
    return counts


STEPS = [{"order": 10, "code": "billing_run", "label": "Billing run", "run": _billing_run}]
