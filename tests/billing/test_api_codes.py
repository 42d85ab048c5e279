"""Billing API for integrators: the integration starts a run (a retried start makes one run) and
filters take the codes the responses show (market, vendor, seller, contract)."""

from datetime import date

import pytest

from billing.models import BillingRun
from settlement_ops.roles import Role
from tests.billing.helpers import gb_setup, make_shipment


@pytest.mark.django_db
def test_integration_starts_one_run_per_key_and_filters_by_codes(api_as, django_capture_on_commit_callbacks):
    # given: two GB vendors, each with a seller's 1 kg shipment and one that cannot be rated
    vendor, seller, version, _ = gb_setup()
    other_vendor, other_seller, _, _ = gb_setup()
    mine = make_shipment(vendor=vendor, seller=seller, weight="1")
    make_shipment(vendor=other_vendor, seller=other_seller, weight="1")
    unrated = make_shipment(vendor=vendor, seller=seller, weight=None)
    api = api_as(Role.INTEGRATION)
    start = {"market": "GB", "business_date": "2026-11-10"}

    # when: the integration starts the run and retries with the same key
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post("/api/billing-runs/", start, format="json", HTTP_IDEMPOTENCY_KEY="run-2026-11-10")
    retry = api.post("/api/billing-runs/", start, format="json", HTTP_IDEMPOTENCY_KEY="run-2026-11-10")
    reused = api.post(
        "/api/billing-runs/",
        {**start, "business_date": "2026-11-11"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="run-2026-11-10",
    )

    # then: one run, started by the API; the retry replays; the same key for another day is refused
    assert first.status_code == 201, first.content
    assert retry.content == first.content and retry["Idempotent-Replayed"] == "true"
    assert reused.status_code == 422
    assert BillingRun.objects.count() == 1
    run = BillingRun.objects.get()
    assert (run.trigger, run.status, run.started_by) == ("api", "completed", api.user)

    # filters by code: charge lines by vendor, seller and contract code, exceptions by vendor code
    def ids(url):
        response = api.get(url)
        assert response.status_code == 200, (url, response.content)
        return [row["id"] for row in response.json()["results"]]

    line = api.get(f"/api/charge-lines/?vendor_code={vendor.code}").json()["results"]
    assert [(row["shipment"], row["vendor_code"], row["seller_code"]) for row in line] == [
        (mine.pk, vendor.code, seller.code)
    ]
    assert line[0]["contract_reference"] == version.contract.reference
    assert ids(f"/api/charge-lines/?seller_code={seller.code}&market=GB") == [line[0]["id"]]
    assert ids(f"/api/charge-lines/?contract={version.contract.reference}") == [line[0]["id"]]
    assert ids(f"/api/charge-lines/?tracking_number={mine.tracking_number}") == [line[0]["id"]]
    assert ids("/api/charge-lines/?vendor_code=NOPE") == []
    assert [
        row["shipment"] for row in api.get(f"/api/rating-exceptions/?vendor_code={vendor.code}").json()["results"]
    ] == [unrated.pk]
    assert ids(f"/api/rating-exceptions/?seller_code={other_seller.code}") == []
    exception = api.get(f"/api/rating-exceptions/?seller_code={seller.code}&market=GB").json()["results"]
    assert [(row["shipment"], row["market"], row["seller_code"], row["code"]) for row in exception] == [
        (unrated.pk, "GB", seller.code, "missing_weight")
    ]
    shipments = ids(f"/api/shipments/?vendor_code={vendor.code}&seller_code={seller.code}&market=GB")
    assert sorted(shipments) == sorted([mine.pk, unrated.pk])
    assert ids("/api/billing-runs/?market=GB&trigger=api") == [run.pk]
    assert ids("/api/billing-runs/?market=DE") == []
    # a role that may read runs but not start them
    assert api_as(Role.AUDITOR).post("/api/billing-runs/", start, format="json").status_code == 403
    assert run.business_date == date(2026, 11, 10)
