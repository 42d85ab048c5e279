"""The shipment and charge-line lists load only the codes they show of the rows they join, and a
page of many rows costs the same queries as a page of one (nothing loaded row by row)."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import BillingRun
from billing.services import billing_run_start
from settlement_ops.roles import Role
from tests.billing.helpers import gb_setup, make_shipment

pytestmark = pytest.mark.django_db


def _get(api, url):
    with CaptureQueriesContext(connection) as queries:
        response = api.get(url)
    assert response.status_code == 200, response.content
    return response.json(), len(queries.captured_queries)


def _run(vendor, day, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = billing_run_start(market=vendor.market, business_date=date(2026, 11, day))
    run.refresh_from_db()
    assert run.status == BillingRun.Status.COMPLETED, run.error
    return run


def test_lists_show_codes_to_the_cent_with_queries_that_do_not_grow_with_rows(
    api_as, django_capture_on_commit_callbacks
):
    # given: one shipment rated by a first run, four more by a second
    vendor, seller, version, _ = gb_setup()
    first = make_shipment(vendor=vendor, seller=seller, weight="2.3")
    one_line_run = _run(vendor, 10, django_capture_on_commit_callbacks)
    api = api_as(Role.FINANCE_SPECIALIST)
    shipments_one, shipment_queries_one = _get(api, "/api/shipments/")
    lines_one, line_queries_one = _get(api, f"/api/charge-lines/?run={one_line_run.pk}")
    for _ in range(4):
        make_shipment(vendor=vendor, seller=seller, weight="1.000")
    four_line_run = _run(vendor, 11, django_capture_on_commit_callbacks)

    # when
    shipments_five, shipment_queries_five = _get(api, "/api/shipments/")
    lines_four, line_queries_four = _get(api, f"/api/charge-lines/?run={four_line_run.pk}")

    # then: what the rows show, to the cent
    [line] = lines_one["results"]
    assert (line["tracking_number"], line["vendor_code"], line["seller_code"]) == (
        first.tracking_number,
        vendor.code,
        seller.code,
    )
    assert line["contract_reference"] == version.contract.reference
    assert (line["vendor_net"], line["seller_net"], line["margin"]) == ("5.8500", "6.3400", "0.4900")
    assert shipments_one["results"][0]["vendor"] == vendor.code and shipments_one["results"][0]["seller"] == seller.code
    assert len(shipments_five["results"]) == 5 and len(lines_four["results"]) == 4
    assert {r["vendor_net"] for r in lines_four["results"]} == {"3.9500"}
    # and the same queries for five shipments as for one, for four lines as for one
    assert shipment_queries_five == shipment_queries_one
    assert line_queries_four == line_queries_one
