"""The charge-lines and shipments APIs render their pages from .values() rows
(settlement_ops.api.ValuesListMixin); every row must be exactly what the serializer renders from the
model instance, in the same order, filtered and paged the same way."""

import json
from decimal import Decimal as D

import pytest
from django.core.serializers.json import DjangoJSONEncoder

from billing import selectors
from billing.api import ChargeLineSerializer, ChargeLineViewSet, ShipmentSerializer
from billing.models import ChargeLine, Shipment
from settlement_ops.pagination import with_tiebreaker
from settlement_ops.roles import Role
from tests.factories import ChargeLineFactory, ShipmentFactory

URL = "/api/charge-lines/"


def _as_json(data):
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


@pytest.mark.django_db
def test_pages_of_values_rows_are_what_the_serializer_renders_from_instances(api_as):
    # given: lines with awkward amounts (fourth decimal, a negative delta, zeros), two generations
    first = ChargeLineFactory(vendor_base=D("4.5049"), vendor_fuel=D("0.1234"))
    rate_line = first.rate_line
    for n in range(6):
        ChargeLineFactory(
            rate_line=rate_line,
            shipment=ShipmentFactory(vendor=first.vendor, seller=first.seller),
            vendor_base=D("1234567.8912") if n == 2 else D("3.10"),
            vendor_cod=D("-0.0001") if n == 3 else D("0"),
        )
    ChargeLineFactory(
        rate_line=rate_line, shipment=first.shipment, generation=2, shipment_revision=2, vendor_base=D("-1.25")
    )
    api = api_as(Role.FINANCE_SPECIALIST)
    # when: every line, over two pages, and one run's lines
    body = api.get(URL, {"page_size": 5}).json()
    rows = body["results"] + api.get(body["next"]).json()["results"]
    run_rows = api.get(URL, {"run": first.run_id}).json()["results"]
    # then: the same rows, fields and values as the serializer over the instances, in list order
    instances = with_tiebreaker(selectors.charge_lines(run=None))
    expected = _as_json(ChargeLineSerializer(instances, many=True).data)
    assert len(expected) == ChargeLine.objects.count() == 8
    assert rows == expected
    assert run_rows == expected
    big = next(row for row in rows if row["vendor_base"] == "1234567.8912")
    assert big["margin"] == str(D(big["seller_net"]) - D(big["vendor_net"]))


@pytest.mark.django_db
def test_shipment_pages_are_what_the_serializer_renders(api_as):
    first = ShipmentFactory(length_cm=D("10.5"), width_cm=D("20"), height_cm=D("30.25"), cod_amount=D("12.34"))
    ShipmentFactory.create_batch(3, vendor=first.vendor, seller=first.seller)
    ShipmentFactory(vendor=first.vendor, seller=first.seller, delivered_date=None, status=Shipment.Status.IN_TRANSIT)
    api = api_as(Role.FINANCE_SPECIALIST)
    rows = api.get("/api/shipments/", {"page_size": 3}).json()
    rows = rows["results"] + api.get(rows["next"]).json()["results"]
    instances = with_tiebreaker(selectors.shipments_search().select_related("vendor", "seller"))
    assert rows == _as_json(ShipmentSerializer(instances, many=True).data)
    assert len(rows) == 5 and {row["vendor"] for row in rows} == {first.vendor.code}


def test_a_serializer_field_values_rows_cannot_hold_is_refused():
    class Nested(ChargeLineViewSet):
        pass

    serializer = ChargeLineSerializer()
    serializer.fields["shipment_detail"] = ChargeLineSerializer(source="*")
    with pytest.raises(TypeError, match="shipment_detail cannot be read"):
        Nested()._values_plan(serializer, ChargeLine)
