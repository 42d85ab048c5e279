"""The API's pagination: a bounded count (exact, then an estimate), pages that never repeat or skip
a row, and the OpenAPI schema (built once per process) that documents it."""

import json

import pytest
from django.db import connection

from billing.models import Shipment
from settlement_ops import pagination
from settlement_ops.roles import Role
from tests.factories import SellerFactory, ShipmentFactory, VendorFactory, market


def _walk(api, url):
    seen, pages, body = [], 0, None
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        seen += [row["id"] for row in body["results"]]
        pages += 1
        url = body["next"]
    return seen, pages, body


@pytest.mark.django_db
def test_pages_walk_every_row_once_with_exact_then_estimated_count(api_as, monkeypatch):
    # given: 23 shipments, many on the same ship date (equal sort keys), of two vendors
    vendor = VendorFactory(market=market("GB"))
    other = VendorFactory(market=market("GB"))
    seller = SellerFactory(market=market("GB"))
    ShipmentFactory.create_batch(15, vendor=vendor, seller=seller)
    ShipmentFactory.create_batch(8, vendor=other, seller=seller)
    expected = list(Shipment.objects.order_by("-ship_date", "-id").values_list("id", flat=True))
    api = api_as(Role.FINANCE_SPECIALIST)

    # when: small lists count exactly
    seen, pages, last = _walk(api, "/api/shipments/?page_size=5")
    # then
    assert seen == expected and pages == 5
    first = api.get("/api/shipments/?page_size=5").json()
    assert (first["count"], first["count_is_estimate"], first["previous"]) == (23, False, None)
    assert last["next"] is None and len(last["results"]) == 3

    # when: past the exact limit the count is the planner's estimate; a low estimate must not stop the walk
    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 4)
    with connection.cursor() as cursor:  # make the planner think the table is tiny
        cursor.execute(f"ANALYZE {Shipment._meta.db_table}")
    seen, pages, _ = _walk(api, "/api/shipments/?page_size=5")
    estimated = api.get("/api/shipments/?page_size=5").json()
    filtered, _, _ = _walk(api, f"/api/shipments/?page_size=3&vendor={other.pk}")
    # then
    assert seen == expected and len(set(seen)) == 23 and pages == 5
    assert estimated["count_is_estimate"] is True and estimated["count"] >= 5
    assert filtered == [pk for pk in expected if Shipment.objects.get(pk=pk).vendor_id == other.pk]
    # a page past the end is a 404, not an empty 200; a bad page number is a 404 too
    assert api.get("/api/shipments/?page_size=5&page=7").status_code == 404
    assert api.get("/api/shipments/?page=abc").status_code == 404
    # page_size is capped
    assert len(api.get("/api/shipments/?page_size=5000").json()["results"]) == 23


@pytest.mark.django_db
def test_lists_without_a_unique_order_get_the_primary_key_as_tiebreaker():
    # given: a default order on a non-unique column (markets by code is unique; vendors by code too),
    # so build one: shipments ordered by ship date only
    vendor = VendorFactory(market=market("GB"))
    ShipmentFactory.create_batch(3, vendor=vendor)
    # when
    ordered = pagination.with_tiebreaker(Shipment.objects.order_by("-ship_date"))
    unordered = pagination.with_tiebreaker(Shipment.objects.all().order_by())
    default = pagination.with_tiebreaker(Shipment.objects.all())
    # then
    assert list(ordered.query.order_by) == ["-ship_date", "-pk"]
    assert list(unordered.query.order_by) == ["pk"]
    assert list(default.query.order_by) == [] and default.query.default_ordering  # Meta order ends with -id


@pytest.mark.django_db
def test_schema_is_valid_documents_the_estimate_and_is_built_once(client_as):
    from drf_spectacular.validation import validate_schema

    # given
    client = client_as(Role.FINANCE_SPECIALIST)
    # when
    first = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    second = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    # then
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    schema = json.loads(first.content)
    validate_schema(schema)
    page = schema["components"]["schemas"]["PaginatedShipmentList"]
    assert page["properties"]["count_is_estimate"]["type"] == "boolean"
    assert {"count", "count_is_estimate", "results"} <= set(page["required"])
