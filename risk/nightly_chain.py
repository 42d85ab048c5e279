"""One nightly chain per market: the steps every app declares in its `nightly.py` (STEPS: order,
code, label, run(market=, business_date=) -> counts), run in order after the market's local
midnight, with their start, end, counts, outcome and error recorded in PostgreSQL.

* A step is idempotent; a step already done is never run again, so running the chain twice
  changes nothing.
* A step that raises is retried with back-off (NIGHTLY_RETRY_BACKOFF seconds, doubled per
  attempt) up to NIGHTLY_MAX_ATTEMPTS times; then it is failed, finance is e-mailed once, and a
  person reruns it from the Nightly jobs page. Later steps wait while an earlier one is not done.
* A step may answer {"waiting": True} (work handed to workers, e.g. billing chunks): nothing is
  counted as an attempt, and the chain continues on its next call.
* A step answering {"skipped": True} does not apply to the market (e.g. no compensation policy).

The retries are driven by state, not by broker ETAs: beat calls nightly_dispatch_task every
NIGHTLY_DISPATCH_EVERY seconds, which starts the chains of markets whose night began and resumes
chains with a step due for retry. `manage.py run_nightly` runs the same chains in-process and
waits out the back-off.
"""

from __future__ import annotations

import logging
import time
from datetime import date, datetime, timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from settlement_ops.errors import ConflictError
from settlement_ops.models import AuditEvent, Market
from settlement_ops.navigation import AREA_APPS, app_module
from settlement_ops.services import audit_record

from .models import NightlyRun, NightlyStep

logger = logging.getLogger(__name__)

DONE = (NightlyStep.Status.DONE, NightlyStep.Status.SKIPPED)


def _setting(name: str, default):
    return getattr(settings, name, default)


def collect_steps() -> list[dict]:
    """Every app's STEPS (the kernel's first, then the area apps), sorted by order."""
    modules = [app_module("settlement_ops", "nightly")] + [app_module(label, "nightly") for label in AREA_APPS]
    steps = [dict(step) for module in modules if module is not None for step in getattr(module, "STEPS", [])]
    return sorted(steps, key=lambda s: (s["order"], s["code"]))


def business_date_for(market: Market, now: datetime | None = None) -> date:
    """The night that ended at the market's last local midnight."""
    return market.local_date(now or timezone.now()) - timedelta(days=1)


def _run_for(market: Market, business_date: date, specs: list[dict]) -> NightlyRun:
    try:
        with transaction.atomic():
            run, _ = NightlyRun.objects.get_or_create(
                market=market, business_date=business_date, defaults={"started_at": timezone.now()}
            )
    except IntegrityError:  # a concurrent caller created it
        run = NightlyRun.objects.get(market=market, business_date=business_date)
    have = set(run.steps.values_list("code", flat=True))
    NightlyStep.objects.bulk_create(
        [
            NightlyStep(run=run, seq=spec["order"], code=spec["code"], label=spec["label"])
            for spec in specs
            if spec["code"] not in have
        ],
        ignore_conflicts=True,
    )
    return run


def _claim(step_id: int, now: datetime) -> NightlyStep | None:
    """Take a step for running (one caller at a time: SKIP LOCKED), or None when it is not due."""
    with transaction.atomic():
        step = NightlyStep.objects.select_for_update(skip_locked=True).filter(pk=step_id).first()
        if step is None or step.status in DONE or step.status == NightlyStep.Status.FAILED:
            return None
        if step.status == NightlyStep.Status.RETRYING and step.next_attempt_at and step.next_attempt_at > now:
            return None
        step.status, step.started_at = NightlyStep.Status.RUNNING, step.started_at or now
        step.save(update_fields=["status", "started_at"])
        return step


def _alert(step: NightlyStep) -> None:
    recipients = list(_setting("NIGHTLY_ALERT_EMAILS", [])) or list(
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=["finance_specialist", "finance_approver"])
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )
    if recipients:
        send_mail(
            subject=f"Nightly step failed: {step.run.market_id} {step.run.business_date} {step.label}",
            message=(
                f"The nightly step '{step.label}' of {step.run.market_id} for {step.run.business_date} failed "
                f"{step.attempts} time(s) and was stopped; the steps after it wait.\n\nError: {step.error}\n\n"
                "Rerun it from the Nightly jobs page once the cause is fixed."
            ),
            from_email=None,
            recipient_list=recipients,
            fail_silently=True,
        )


def _execute(step: NightlyStep, spec: dict, market: Market) -> str:
    """Run one claimed step; record the outcome. Returns the step's new status."""
    step.attempts += 1
    try:
        counts = spec["run"](market=market, business_date=step.run.business_date) or {}
    except Exception as exc:  # noqa: BLE001 - recorded on the step, retried with back-off
        logger.exception("Nightly step %s of %s failed", step.code, market.code)
        now = timezone.now()
        step.error = f"{type(exc).__name__}: {exc}"[:4000]
        step.finished_at = now
        if step.attempts >= _setting("NIGHTLY_MAX_ATTEMPTS", 3):
            step.status, step.alerted_at, step.next_attempt_at = NightlyStep.Status.FAILED, now, None
            step.save()
            audit_record(
                kind=AuditEvent.Kind.ACTION,
                action="nightly_step_failed",
                obj=step,
                detail={"market": market.code, "date": str(step.run.business_date), "error": step.error},
            )
            transaction.on_commit(partial(_alert, step))
        else:
            backoff = _setting("NIGHTLY_RETRY_BACKOFF", 60) * 2 ** (step.attempts - 1)
            step.status, step.next_attempt_at = NightlyStep.Status.RETRYING, now + timedelta(seconds=backoff)
            step.save()
        return step.status
    counts = {k: v if isinstance(v, int | float | str | bool | type(None)) else str(v) for k, v in counts.items()}
    if counts.get("waiting"):
        step.attempts -= 1  # not an attempt: the work runs elsewhere
        step.status, step.counts = NightlyStep.Status.PENDING, counts
        step.save()
        return step.status
    step.status = NightlyStep.Status.SKIPPED if counts.get("skipped") else NightlyStep.Status.DONE
    step.counts, step.error, step.finished_at, step.next_attempt_at = counts, "", timezone.now(), None
    step.save()
    return step.status


def chain_run(*, market: Market, business_date: date | None = None, wait: bool = False, specs=None) -> NightlyRun:
    """Run a market's chain as far as it can go now. With `wait` (manage.py run_nightly, eager
    mode) a retrying step's back-off is slept out in-process, and waiting steps are polled."""
    specs = specs if specs is not None else collect_steps()
    business_date = business_date or business_date_for(market)
    run = _run_for(market, business_date, specs)
    by_code = {spec["code"]: spec for spec in specs}
    polls = 0
    while True:
        blocked = None
        for step in run.steps.order_by("seq", "code"):
            if step.status in DONE:
                continue
            spec = by_code.get(step.code)
            if spec is None:  # the app that declared it is gone
                NightlyStep.objects.filter(pk=step.pk).update(status=NightlyStep.Status.SKIPPED)
                continue
            claimed = _claim(step.pk, timezone.now())
            if claimed is None:
                blocked = step
                break
            if _execute(claimed, spec, market) not in DONE:
                blocked = NightlyStep.objects.get(pk=step.pk)
                break
        if blocked is None or not wait or blocked.status == NightlyStep.Status.FAILED:
            break
        if blocked.status == NightlyStep.Status.RETRYING and blocked.next_attempt_at:
            time.sleep(max((blocked.next_attempt_at - timezone.now()).total_seconds(), 0))
        elif blocked.status == NightlyStep.Status.PENDING:
            polls += 1
            if polls > _setting("NIGHTLY_WAIT_POLLS", 600):
                break
            time.sleep(1)
        else:
            break
    _finish(run)
    return run


def _finish(run: NightlyRun) -> None:
    statuses = set(run.steps.values_list("status", flat=True))
    if statuses <= set(DONE):
        status = NightlyRun.Status.DONE
    elif NightlyStep.Status.FAILED in statuses:
        status = NightlyRun.Status.FAILED
    else:
        status = NightlyRun.Status.RUNNING
    finished = None if status == NightlyRun.Status.RUNNING else (run.finished_at or timezone.now())
    if (run.status, run.finished_at) != (status, finished):
        run.status, run.finished_at = status, finished
        run.save(update_fields=["status", "finished_at"])


def chains_due(now: datetime | None = None) -> list[tuple[Market, date]]:
    """Markets whose night began (a business date without a chain) and chains with a step due."""
    now = now or timezone.now()
    due = []
    for market in Market.objects.filter(is_active=True).order_by("code"):
        day = business_date_for(market, now)
        if not NightlyRun.objects.filter(market=market, business_date=day).exists():
            due.append((market, day))
    resumable = (
        NightlyStep.objects.filter(run__status=NightlyRun.Status.RUNNING)
        .filter(status__in=[NightlyStep.Status.PENDING, NightlyStep.Status.RETRYING])
        .values_list("run__market_id", "run__business_date")
        .distinct()
    )
    markets = Market.objects.in_bulk([code for code, _ in resumable])
    due += [(markets[code], day) for code, day in resumable if (markets[code], day) not in due]
    return due


@transaction.atomic(durable=True)
def nightly_step_rerun(*, actor, step: NightlyStep) -> NightlyStep:
    """Put a failed step back in the queue (attempts start again); the chain continues from it."""
    step = NightlyStep.objects.select_for_update().select_related("run").get(pk=step.pk)
    if step.status != NightlyStep.Status.FAILED:
        raise ConflictError("Only a failed step can be rerun.", code="bad_status")
    previous = step.error
    step.status, step.attempts, step.next_attempt_at, step.alerted_at = NightlyStep.Status.PENDING, 0, None, None
    step.save(update_fields=["status", "attempts", "next_attempt_at", "alerted_at"])
    NightlyRun.objects.filter(pk=step.run_id).update(status=NightlyRun.Status.RUNNING, finished_at=None)
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="nightly_step_rerun",
        obj=step,
        detail={"market": step.run.market_id, "date": str(step.run.business_date), "previous_error": previous},
    )
    from .tasks import nightly_chain_task

    transaction.on_commit(partial(nightly_chain_task.delay, step.run.market_id, str(step.run.business_date)))
    return step
