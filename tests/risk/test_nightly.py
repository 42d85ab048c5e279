"""The nightly chain: steps in order with their record; a step failing once is retried and the
chain completes; later steps wait while one fails; running twice changes nothing; a failed step
alerts by e-mail and is rerun from the Nightly jobs page."""

import datetime as dt

import pytest
from django.core import mail
from django.core.management import call_command

from risk.models import NightlyRun, NightlyStep
from risk.nightly_chain import chain_run, collect_steps
from settlement_ops.models import AuditEvent
from settlement_ops.roles import Role
from tests.factories import UserFactory, market

DAY = dt.date(2026, 11, 29)


@pytest.fixture(autouse=True)
def fast_backoff(settings):
    settings.NIGHTLY_RETRY_BACKOFF = 0
    settings.NIGHTLY_MAX_ATTEMPTS = 3
    settings.NIGHTLY_ALERT_EMAILS = ["finance@example.com"]
    settings.NIGHTLY_WAIT_POLLS = 3


def _steps(calls, fail_times=1):
    failures = {"left": fail_times}

    def first(*, market, business_date):
        calls.append("first")
        return {"rows": 3}

    def flaky(*, market, business_date):
        calls.append("flaky")
        if failures["left"] > 0:
            failures["left"] -= 1
            raise RuntimeError("database went away")
        return {"rows": 1}

    def last(*, market, business_date):
        calls.append("last")
        return {"ok": True}

    return [
        {"order": 1, "code": "first", "label": "First", "run": first},
        {"order": 2, "code": "flaky", "label": "Flaky", "run": flaky},
        {"order": 3, "code": "last", "label": "Last", "run": last},
    ]


def test_the_chain_collects_every_apps_steps_in_order():
    codes = [s["code"] for s in collect_steps()]
    assert codes[:2] == ["contracts_expire", "billing_run"]
    for earlier, later in [
        ("billing_run", "statements"),
        ("statements", "compensation"),
        ("compensation", "risk_rules"),
        ("risk_rules", "dunning"),
        ("dunning", "ledger_check"),
    ]:
        assert codes.index(earlier) < codes.index(later)


@pytest.mark.django_db
def test_the_chain_survives_a_step_that_fails_once():
    # given
    calls = []
    specs = _steps(calls, fail_times=1)
    # when: the first call stops at the failed step, later steps wait
    run = chain_run(market=market("GB"), business_date=DAY, specs=specs)
    flaky = run.steps.get(code="flaky")
    assert flaky.status == NightlyStep.Status.RETRYING and "database went away" in flaky.error
    assert run.steps.get(code="last").status == NightlyStep.Status.PENDING
    # ... and the next call (beat's dispatch) retries it and finishes
    run = chain_run(market=market("GB"), business_date=DAY, specs=specs)
    # then
    assert calls == ["first", "flaky", "flaky", "last"]
    assert run.status == NightlyRun.Status.DONE
    flaky.refresh_from_db()
    assert flaky.attempts == 2 and flaky.counts == {"rows": 1} and flaky.error == ""
    assert all(s.started_at and s.finished_at for s in run.steps.all())


@pytest.mark.django_db
def test_running_the_chain_twice_changes_nothing():
    # given
    calls = []
    specs = _steps(calls, fail_times=0)
    chain_run(market=market("GB"), business_date=DAY, specs=specs)
    before = list(NightlyStep.objects.order_by("pk").values()), list(NightlyRun.objects.values())
    # when
    chain_run(market=market("GB"), business_date=DAY, specs=specs)
    # then
    assert calls == ["first", "flaky", "last"]
    assert (list(NightlyStep.objects.order_by("pk").values()), list(NightlyRun.objects.values())) == before


@pytest.mark.django_db
def test_a_step_failing_every_time_alerts_once_and_is_rerun_from_the_page(
    client_as, django_capture_on_commit_callbacks
):
    # given
    calls = []
    specs = _steps(calls, fail_times=3)
    with django_capture_on_commit_callbacks(execute=True):
        run = chain_run(market=market("GB"), business_date=DAY, specs=specs, wait=True)
    step = run.steps.get(code="flaky")
    assert step.status == NightlyStep.Status.FAILED and step.attempts == 3
    assert run.status == NightlyRun.Status.FAILED
    assert len(mail.outbox) == 1 and "Flaky" in mail.outbox[0].subject
    assert "last" not in calls
    # when: a finance user reruns it from the Nightly jobs page
    client = client_as(Role.FINANCE_APPROVER)
    page = client.get("/risk/nightly/")
    assert page.status_code == 200 and b"Flaky" in page.content
    response = client.post(f"/risk/nightly/steps/{step.pk}/rerun/")
    # then
    assert response.status_code == 302
    step.refresh_from_db()
    assert step.status == NightlyStep.Status.PENDING and step.attempts == 0
    assert AuditEvent.objects.filter(action="nightly_step_rerun").exists()
    run = chain_run(market=market("GB"), business_date=DAY, specs=specs)
    assert run.status == NightlyRun.Status.DONE


@pytest.mark.django_db
def test_run_nightly_runs_the_real_chain_and_twice_changes_nothing(django_capture_on_commit_callbacks):
    # given: the real steps of every app over an empty GB market
    UserFactory(role=Role.FINANCE_SPECIALIST)
    # when (the billing run's chunks are sent after its commit, as in production; the test's
    # transaction runs them at the end of the block, so the chain finishes on the second call)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            call_command("run_nightly", market="GB")
    run = NightlyRun.objects.get(market_id="GB")
    before = list(NightlyStep.objects.order_by("pk").values("status", "counts", "finished_at"))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_nightly", market="GB")
    # then
    assert run.steps.exclude(status__in=["done", "skipped"]).count() == 0, list(
        run.steps.values("code", "status", "error")
    )
    assert list(NightlyStep.objects.order_by("pk").values("status", "counts", "finished_at")) == before
