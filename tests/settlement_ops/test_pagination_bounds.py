"""What a paginated list pays for its count: no display joins in the count or the estimate, the
stored count where the caller has one, and a low estimate never hides a page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import Shipment
from settlement_ops import pagination
from settlement_ops.roles import Role
from tests.factories import ShipmentFactory, VendorFactory, market

pytestmark = pytest.mark.django_db


def test_count_and_estimate_leave_out_the_display_joins(api_as, monkeypatch):
    # given: more shipments than the exact limit, listed with their vendor, seller and market
    vendor = VendorFactory(market=market("GB"))
    ShipmentFactory.create_batch(4, vendor=vendor)
    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 2)
    api = api_as(Role.FINANCE_SPECIALIST)

    # when
    with CaptureQueriesContext(connection) as queries:
        body = api.get("/api/shipments/?page_size=3").json()
    sql = [q["sql"] for q in queries.captured_queries if "billing_shipment" in q["sql"]]

    # then: the count and the estimate read the shipments alone; the page joins what it shows
    counting = [s for s in sql if "COUNT(" in s or s.startswith("EXPLAIN")]
    assert len(counting) == 2 and not [s for s in counting if "JOIN" in s], counting
    assert body["count_is_estimate"] is True and len(body["results"]) == 3 and body["next"]


def test_a_known_count_replaces_the_estimate_and_a_low_estimate_grows_with_the_rows_seen(monkeypatch):
    # given
    vendor = VendorFactory(market=market("GB"))
    ShipmentFactory.create_batch(5, vendor=vendor)
    shipments = Shipment.objects.order_by("pk")
    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 2)

    # when: the caller knows the count
    known = pagination.EstimatingPaginator(shipments, 2, known_count=5)
    # then: exact, no estimate
    assert (known.count, known.count_is_estimate, known.num_pages_label) == (5, False, "3")

    # when: the planner's estimate is lower than the rows a page has seen
    monkeypatch.setattr(pagination, "bounded_count", lambda queryset, **kwargs: (3, True))
    estimated = pagination.EstimatingPaginator(shipments, 2)
    page = estimated.page(2)
    # then: the count grows to what was seen (the look-ahead row included), and a next page exists
    assert page.has_next() and estimated.count == 5 and estimated.num_pages_label == "~3"
    assert [s.pk for s in estimated.page(3)] == [shipments[4].pk]
