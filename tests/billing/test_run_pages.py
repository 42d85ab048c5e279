"""The run page and the runs API read a finished run's figures from what posting stored: the
progress from the run row, the summary tables rendered once and cached. An active run is still
counted from its chunks, and a run with exceptions keeps its filtered, paginated list."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing import selectors
from billing.models import BillingRun, BillingRunChunk
from billing.services import billing_run_start
from settlement_ops.roles import Role
from tests.billing.helpers import gb_setup, make_shipment

pytestmark = pytest.mark.django_db

RUN_TABLES = (
    "billing_chargelinetotal",
    "billing_billingrunentry",
    "billing_ratingexception",
    "billing_billingrunchunk",
)


def _summary(html: str) -> str:
    return html[html.index("<h2>Totals by vendor and service</h2>") : html.index("<h2>Exceptions</h2>")]


def _completed_run(django_capture_on_commit_callbacks, *weights):
    vendor, seller, _, _ = gb_setup()
    for weight in weights:
        make_shipment(vendor=vendor, seller=seller, weight=weight)
    with django_capture_on_commit_callbacks(execute=True):
        run = billing_run_start(market=vendor.market, business_date=date(2026, 11, 10))
    run.refresh_from_db()
    assert run.status == BillingRun.Status.COMPLETED, run.error
    return run


def test_completed_run_page_reads_stored_figures_and_renders_its_summary_once(
    client_as, django_capture_on_commit_callbacks
):
    # given: a completed run of two shipments (2.3 kg: freight 5.85, seller fee 6.34; 1 kg: 3.95, 4.99)
    run = _completed_run(django_capture_on_commit_callbacks, "2.3", "1.000")
    client = client_as(Role.FINANCE_SPECIALIST)
    url = reverse("billing:run_detail", args=[run.pk])

    # when
    first = client.get(url).content.decode()
    with CaptureQueriesContext(connection) as queries:
        second = client.get(url)

    # then: the figures to the cent, the progress from the run row
    assert second.status_code == 200
    summary = _summary(first)
    assert "9.80" in summary and "11.33" in summary and "1.53" in summary  # vendor, seller, margin
    assert "<dt>Shipments rated</dt><dd>2</dd>" in first and "100%" in first
    assert selectors.run_progress(run) == run.progress()
    # and the second visit serves the same tables without reading the run's totals, entries,
    # exceptions or chunks
    assert _summary(second.content.decode()) == summary
    read = " ".join(q["sql"] for q in queries.captured_queries)
    assert not [table for table in RUN_TABLES if table in read], read
    # a completed run without exceptions has no exception filter to show
    exceptions = first[first.index("<h2>Exceptions</h2>") :]
    assert '<span class="muted">None.</span>' in exceptions and 'name="ex-code"' not in exceptions


def test_active_run_progress_is_counted_from_its_chunks(client_as):
    # given: a run in progress, one of its two chunks done
    vendor, _, _, _ = gb_setup()
    run = BillingRun.objects.create(
        market=vendor.market, business_date=date(2026, 11, 10), status=BillingRun.Status.RUNNING, currency="GBP",
        chunk_count=2,
    )  # fmt: skip
    BillingRunChunk.objects.create(
        run=run, seq=1, first_shipment_id=1, last_shipment_id=10, status="done", rated_count=7
    )
    BillingRunChunk.objects.create(run=run, seq=2, first_shipment_id=11, last_shipment_id=20)

    # when
    page = client_as(Role.FINANCE_SPECIALIST).get(reverse("billing:run_detail", args=[run.pk])).content.decode()

    # then: counted now, not read from the (still empty) run row; the exception filter is there
    assert selectors.run_progress(run) == {"done": 1, "total": 2, "percent": 50, "rated": 7, "exceptions": 0}
    assert "<dd>1 of 2 done</dd>" in page and "<dt>Shipments rated</dt><dd>7</dd>" in page
    assert 'name="ex-code"' in page and "No exceptions match." in page


def test_runs_api_reads_progress_without_a_query_per_run(api_as, django_capture_on_commit_callbacks):
    # given
    run = _completed_run(django_capture_on_commit_callbacks, "2.3")
    api = api_as(Role.FINANCE_SPECIALIST)
    with CaptureQueriesContext(connection) as one:
        body = api.get("/api/billing-runs/").json()
    queries_for_one = len(one.captured_queries)  # read now: each request starts a new query log
    for day in (1, 2):
        BillingRun.objects.create(
            market=run.market,
            business_date=date(2026, 10, day),
            status=BillingRun.Status.COMPLETED,
            currency="GBP",
            chunk_count=1,
            chunks_done=1,
            shipments_rated=3,
        )

    # when
    with CaptureQueriesContext(connection) as three:
        listed = api.get("/api/billing-runs/").json()

    # then: the same progress as the chunks give, and no more queries for three runs than for one
    assert body["results"][0]["progress"] == run.progress() == {
        "done": 1, "total": 1, "percent": 100, "rated": 1, "exceptions": 0,
    }  # fmt: skip
    assert [r["progress"]["rated"] for r in listed["results"]] == [3, 3, 1]
    assert len(three.captured_queries) == queries_for_one > 0


def test_run_page_is_refused_without_the_permission(client_as, django_capture_on_commit_callbacks):
    run = _completed_run(django_capture_on_commit_callbacks, "1.000")
    assert client_as(Role.SELLER_USER).get(reverse("billing:run_detail", args=[run.pk])).status_code == 403
