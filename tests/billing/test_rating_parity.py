"""The set-based rating (billing.rating SQL) must give exactly what vendors.pricing.rate() gives.

A seeded, varied sample: every surcharge kind (percent and flat, minimums, periods, remote zone,
oversize threshold, COD, peak, returns), bracket edges (exactly on a bracket end, just above),
volumetric weight beating actual weight, minimum charges, VAT and half-up rounding, in a 2-decimal
(GBP) and a 0-decimal (IDR) currency.
"""
import random
from datetime import date, timedelta
from decimal import Decimal

import pytest

from billing.models import ChargeLine, RatingException, Shipment
from billing.services import billing_run_start
from tests.billing.helpers import make_contract, make_fee_schedule, make_shipment
from tests.factories import SellerFactory, VendorFactory, market
from vendors.pricing import RatingError, ShipmentAttrs, rate

D = Decimal

GBP_LINES = [
    ("LDN", "LDN", "0", "1", "3.95", "0", "1", "0"),
    ("LDN", "LDN", "1", "5", "4.20", "0.55", "0.5", "4.50"),
    ("LDN", "LDN", "5", "30", "6.80", "0.4125", "1", "0"),
    ("LDN", "SCO", "0", "2", "4.10", "0", "1", "0"),
    ("LDN", "SCO", "2", "30", "5.10", "0.6150", "0.25", "6.00"),
    ("MID", "HIGHLANDS", "0", "10", "3.20", "0.3333", "0.1", "3.40"),
]
GBP_SURCHARGES = [
    dict(kind="fuel", percent=D("12.5"), valid_to=date(2026, 10, 31)),
    dict(kind="fuel", percent=D("13.75"), valid_from=date(2026, 11, 1)),
    dict(kind="remote_area", flat_amount=D("2.50"), zone="HIGHLANDS"),
    dict(kind="remote_area", percent=D("7.5"), zone="SCO", minimum_amount=D("0.45")),
    dict(kind="oversize", flat_amount=D("7.50"), dimension_threshold_cm=D("60")),
    dict(kind="oversize", percent=D("15"), dimension_threshold_cm=D("100")),
    dict(kind="cod", percent=D("1.75"), minimum_amount=D("1.00")),
    dict(kind="peak", flat_amount=D("0.35"), valid_from=date(2026, 11, 5), valid_to=date(2026, 12, 24)),
    dict(kind="returns", percent=D("50")),
]
IDR_LINES = [
    ("JKT", "JKT", "0", "1", "9000", "0", "1", "0"),
    ("JKT", "JKT", "1", "20", "9000", "4500", "1", "12000"),
    ("JKT", "PAPUA", "0", "20", "35000", "17250", "0.5", "0"),
]
IDR_SURCHARGES = [
    dict(kind="fuel", percent=D("7.25")),
    dict(kind="remote_area", percent=D("12.5"), zone="PAPUA"),
    dict(kind="cod", percent=D("2.5"), minimum_amount=D("2500")),
    dict(kind="returns", flat_amount=D("5000")),
    dict(kind="oversize", flat_amount=D("15000"), dimension_threshold_cm=D("80")),
]


def _sample(rng, lanes, weights, cod_values, start):
    cases = []
    for origin, destination in lanes:
        for weight in weights:
            cases.append(dict(origin=origin, destination=destination, weight=weight))
    for _ in range(120):
        origin, destination = rng.choice(lanes)
        dims = None
        if rng.random() < 0.5:
            dims = tuple(str(D(rng.randint(50, 1300)) / 10) for _ in range(3))
        cases.append(dict(
            origin=origin, destination=destination, weight=str(D(rng.randint(1, 25000)) / 1000), dims=dims,
            cod=rng.choice(cod_values), is_return=rng.random() < 0.2,
            ship_date=start + timedelta(days=rng.randint(0, 60)),
        ))
    return cases


def _compare(vendor, seller, cases):
    shipments = [make_shipment(vendor=vendor, seller=seller, **case) for case in cases]
    return shipments


def _check_against_reference(shipments):
    lines = {cl.shipment_id: cl for cl in ChargeLine.objects.all()}
    exceptions = {e.shipment_id: e.code for e in RatingException.objects.all()}
    checked = 0
    for shipment in shipments:
        attrs = ShipmentAttrs(
            market=shipment.market_id, vendor_id=shipment.vendor_id, service_level=shipment.service_level,
            origin_zone=shipment.origin_zone, destination_zone=shipment.destination_zone,
            weight_kg=shipment.actual_weight_kg, ship_date=shipment.ship_date, length_cm=shipment.length_cm,
            width_cm=shipment.width_cm, height_cm=shipment.height_cm, cod_value=shipment.cod_amount,
            is_returned=shipment.is_return,
        )
        try:
            quote = rate(attrs)
        except RatingError as error:
            assert exceptions.get(shipment.pk) == error.code, (shipment.tracking_number, error.code)
            assert shipment.pk not in lines
            continue
        line = lines[shipment.pk]
        got = {
            "freight": line.vendor_base, "fuel": line.vendor_fuel, "remote_area": line.vendor_remote,
            "oversize": line.vendor_oversize, "cod": line.vendor_cod, "peak": line.vendor_peak,
            "returns": line.vendor_returns, "vat": line.vendor_vat,
        }
        want = {kind: quote.amount_of(kind) for kind in got}
        assert got == want, f"{shipment.tracking_number} {attrs} {line.chargeable_weight_kg} {quote.chargeable_weight_kg} {got} {want}"
        assert line.vendor_net == quote.net and line.vendor_gross == quote.total
        assert line.chargeable_weight_kg == quote.chargeable_weight_kg
        assert line.rate_line_id == quote.rate_line_id and line.contract_version_id == quote.contract_version_id
        checked += 1
    return checked


@pytest.mark.django_db
def test_set_based_rating_equals_reference_gbp(django_capture_on_commit_callbacks):
    # given
    rng = random.Random(7)
    vendor = VendorFactory(market=market("GB"))
    seller = SellerFactory(market=market("GB"))
    make_contract(vendor=vendor, lines=GBP_LINES, surcharges=GBP_SURCHARGES)
    make_fee_schedule(code="GB")
    edges = ["0.001", "0.999", "1", "1.000", "1.001", "1.5", "1.501", "4.999", "5", "5.001", "29.999", "30", "30.001", "2", "2.01", "10", "10.001"]
    cases = _sample(rng, [("LDN", "LDN"), ("LDN", "SCO"), ("MID", "HIGHLANDS")], edges, ["0", "0", "25.00", "80.35", "1234.56"], date(2026, 9, 20))
    cases.append(dict(origin="LDN", destination="LDN", weight="0.4", dims=("61", "10", "10")))  # oversize flat only
    cases.append(dict(origin="LDN", destination="LDN", weight="0.4", dims=("100.1", "40", "40")))  # volumetric + both oversize
    cases.append(dict(origin="XXX", destination="LDN", weight="1"))  # no lane -> no_rate_line
    shipments = _compare(vendor, seller, cases)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        billing_run_start(market=market("GB"), business_date=date(2026, 11, 20))
    # then
    checked = _check_against_reference(shipments)
    assert checked >= 100
    assert RatingException.objects.filter(code="no_rate_line").count() >= 3
    kinds = ChargeLine.objects.values_list("vendor_fuel", "vendor_remote", "vendor_oversize", "vendor_cod", "vendor_peak", "vendor_returns")
    for position in range(6):
        assert any(row[position] > 0 for row in kinds), f"surcharge column {position} never exercised"


@pytest.mark.django_db
def test_set_based_rating_equals_reference_idr(django_capture_on_commit_callbacks):
    # given: a 0-decimal currency, where half-up rounding to whole rupiah decides
    rng = random.Random(11)
    vendor = VendorFactory(market=market("ID"))
    seller = SellerFactory(market=market("ID"))
    make_contract(vendor=vendor, lines=IDR_LINES, surcharges=IDR_SURCHARGES, divisor=6000)
    make_fee_schedule(code="ID", lines=[("0", "50", "11000", "3500", "1", "12000")], cod_fee_percent="2", cod_fee_minimum="2000", returns_fee="4000")
    edges = ["0.5", "1", "1.001", "19.999", "20", "20.001", "7.5"]
    cases = _sample(rng, [("JKT", "JKT"), ("JKT", "PAPUA")], edges, ["0", "150000", "99999", "1234567"], date(2026, 9, 20))
    shipments = _compare(vendor, seller, cases)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        billing_run_start(market=market("ID"), business_date=date(2026, 11, 20))
    # then
    assert _check_against_reference(shipments) >= 60
    assert all(cl.vendor_net == cl.vendor_net.to_integral_value() for cl in ChargeLine.objects.all())


@pytest.mark.django_db
def test_rating_example_exact_amounts(django_capture_on_commit_callbacks):
    """A worked example: 2.3 kg, 30x20x10 cm, COD 25.00, returned, GB, fuel 12.5%."""
    # given
    vendor = VendorFactory(market=market("GB"))
    seller = SellerFactory(market=market("GB"))
    make_contract(vendor=vendor, lines=GBP_LINES, surcharges=[dict(kind="fuel", percent=D("12.5")), dict(kind="returns", flat_amount=D("1.10"))])
    make_fee_schedule(code="GB")
    shipment = make_shipment(vendor=vendor, seller=seller, weight="2.3", dims=("30", "20", "10"), cod="25.00", is_return=True)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        billing_run_start(market=market("GB"), business_date=date(2026, 11, 10))
    # then: freight 4.20 + ceil(1.3 / 0.5) = 3 x 0.55 = 5.85; fuel 12.5% = 0.73125 -> 0.73;
    # returns 1.10; net 7.68; VAT 20% = 1.536 -> 1.54.
    line = ChargeLine.objects.get(shipment=shipment)
    assert (line.vendor_base, line.vendor_fuel, line.vendor_returns) == (D("5.85"), D("0.73"), D("1.10"))
    assert (line.vendor_net, line.vendor_vat, line.vendor_gross) == (D("7.68"), D("1.54"), D("9.22"))
    # seller: (2, 30] 5.99 + ceil(0.3) x 0.35 = 6.34; COD 1.5% of 25 = 0.375 < minimum 0.50;
    # returns fee 2.00; net 8.84; VAT 20% = 1.768 -> 1.77.
    assert (line.seller_base, line.seller_cod, line.seller_returns) == (D("6.34"), D("0.50"), D("2.00"))
    assert (line.seller_net, line.seller_vat, line.seller_gross) == (D("8.84"), D("1.77"), D("10.61"))
    assert line.margin == D("1.16")
    assert line.kind == ChargeLine.Kind.ORIGINAL and line.generation == 1
    assert Shipment.objects.get(pk=shipment.pk).revision == 1
