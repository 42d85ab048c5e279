"""Rating examples worked out by hand (see tests/vendors/helpers.py for the card)."""

from datetime import date
from decimal import Decimal as D

import pytest

from tests.factories import (
    ActiveContractFactory,
    ContractVersionFactory,
    RateLineFactory,
    SurchargeFactory,
    VendorFactory,
    market,
)
from tests.vendors.helpers import LANE, gb_card, shipment
from vendors.models import Contract, ContractVersion, Surcharge
from vendors.pricing import RatingError, ShipmentAttrs, rate

pytestmark = pytest.mark.django_db


def amounts(quote):
    return [(line.kind, line.amount) for line in quote.lines]


@pytest.mark.parametrize(
    "weight, expected_freight, bracket",
    [
        (D("0.001"), D("3.50"), 0),  # (0, 1]: lowest weight
        (D("1"), D("3.50"), 0),  # 1 kg is the top of (0, 1] (to inclusive)
        (D("1.001"), D("5.00"), 1),  # (1, 10]: 4.20 + ceil(0.001/0.5)=1 x 0.80
        (D("1.5"), D("5.00"), 1),  # exactly one step: 4.20 + 1 x 0.80
        (D("1.501"), D("5.80"), 1),  # just over a step: 4.20 + 2 x 0.80
        (D("10"), D("18.60"), 1),  # top of (1, 10]: 4.20 + 18 x 0.80
        (D("10.2"), D("15.00"), 2),  # (10, 30]: 12.00 + 1 x 0.45 = 12.45 < minimum 15.00
        (D("16"), D("15.00"), 2),  # 12.00 + 6 x 0.45 = 14.70 -> minimum 15.00
        (D("17"), D("15.15"), 2),  # 12.00 + 7 x 0.45 = 15.15 above the minimum
        (D("30"), D("21.00"), 2),  # top of the card: 12.00 + 20 x 0.45
    ],
)
def test_weight_brackets_and_steps(weight, expected_freight, bracket):
    # given
    contract, version, lines = gb_card(surcharges=False)
    # when
    quote = rate(shipment(contract, weight_kg=weight))
    # then
    assert quote.amount_of("freight") == expected_freight
    assert quote.rate_line_id == lines[bracket].pk
    assert quote.contract_version_id == version.pk
    assert quote.vat == (expected_freight * D("0.2")).quantize(D("0.01"))
    assert all(line.currency == "GBP" and line.contract_version_id == version.pk for line in quote.lines)


def test_weight_above_the_last_bracket_has_no_rate_line():
    contract, _, _ = gb_card(surcharges=False)
    with pytest.raises(RatingError) as exc:
        rate(shipment(contract, weight_kg=D("30.001")))
    assert exc.value.code == "no_rate_line"
    assert str(exc.value) == f"No rate line in {contract.reference} v1 for standard GB-LON->GB-SCO at 30.001 kg."


def test_volumetric_weight_wins_when_higher():
    # given 40 x 30 x 25 / 5000 = 6.000 kg > 2 kg actual
    contract, _, _ = gb_card(surcharges=False)
    # when
    quote = rate(shipment(contract, weight_kg=D("2"), length_cm=D("40"), width_cm=D("30"), height_cm=D("25")))
    # then 4.20 + ceil(5 / 0.5) = 10 x 0.80 = 12.20
    assert quote.volumetric_weight_kg == D("6.000")
    assert quote.chargeable_weight_kg == D("6.000")
    assert amounts(quote) == [("freight", D("12.20")), ("vat", D("2.44"))]


def test_volumetric_weight_is_rounded_up_to_the_gram():
    # given 31 x 31 x 31 / 6000 = 4.96516... -> 4.966 kg
    contract, _, _ = gb_card(surcharges=False, divisor=6000)
    # when
    quote = rate(shipment(contract, weight_kg=D("1.2"), length_cm=D("31"), width_cm=D("31"), height_cm=D("31")))
    # then 4.20 + ceil(3.966 / 0.5) = 8 x 0.80 = 10.60
    assert quote.volumetric_weight_kg == D("4.966")
    assert quote.amount_of("freight") == D("10.60")


def test_actual_weight_wins_when_higher():
    contract, _, _ = gb_card(surcharges=False)
    quote = rate(shipment(contract, weight_kg=D("7"), length_cm=D("10"), width_cm=D("10"), height_cm=D("10")))
    assert quote.volumetric_weight_kg == D("0.200")
    assert quote.chargeable_weight_kg == D("7")
    assert quote.amount_of("freight") == D("13.80")  # 4.20 + 12 x 0.80


def test_fuel_surcharge_by_period_rounds_half_up():
    # given freight for 5 kg = 4.20 + 8 x 0.80 = 10.60; remote area applies to GB-SCO
    contract, _, _ = gb_card()
    # when: March (12.5 %) and July (15 %)
    march = rate(shipment(contract, ship_date=date(2026, 3, 10)))
    july = rate(shipment(contract, ship_date=date(2026, 7, 1)))
    # then 10.60 x 12.5 % = 1.325 -> 1.33 (half-up); 10.60 x 15 % = 1.59
    assert amounts(march) == [
        ("freight", D("10.60")),
        ("fuel", D("1.33")),
        ("remote_area", D("2.75")),
        ("vat", D("2.94")),
    ]
    assert july.amount_of("fuel") == D("1.59")
    assert march.total == D("17.62")  # 14.68 net + 2.94 VAT (20 % of 14.68 = 2.936)


def test_remote_area_only_for_its_zone():
    contract, version, _ = gb_card()
    RateLineFactory(version=version, origin_zone="GB-LON", destination_zone="GB-LON", weight_to_kg=D("30"))
    quote = rate(shipment(contract, destination_zone="GB-LON"))
    # 4.00 + ceil(5/1) = 5 x 0.50 = 6.50, fuel 12.5 % = 0.8125 -> 0.81, no remote area
    assert amounts(quote) == [("freight", D("6.50")), ("fuel", D("0.81")), ("vat", D("1.46"))]


@pytest.mark.parametrize("longest, applies", [(D("120"), False), (D("120.1"), True)])
def test_oversize_when_longest_side_exceeds_threshold(longest, applies):
    contract, _, _ = gb_card()
    quote = rate(shipment(contract, length_cm=D("10"), width_cm=longest, height_cm=D("10")))
    assert quote.amount_of("oversize") == (D("8.00") if applies else D("0"))


@pytest.mark.parametrize(
    "cod, expected",
    [(D("0"), D("0")), (D("50.00"), D("1.00")), (D("123.45"), D("1.85")), (D("200"), D("3.00"))],
)
def test_cod_percent_of_cod_value_with_minimum(cod, expected):
    # 1.5 % of 50 = 0.75 -> minimum 1.00; of 123.45 = 1.85175 -> 1.85; of 200 = 3.00
    contract, _, _ = gb_card()
    assert rate(shipment(contract, cod_value=cod)).amount_of("cod") == expected


@pytest.mark.parametrize(
    "ship_date, expected",
    [
        (date(2026, 11, 14), D("0")),
        (date(2026, 11, 15), D("0.53")),
        (date(2026, 12, 31), D("0.53")),
        (date(2027, 1, 1), D("0")),
    ],
)
def test_peak_surcharge_inside_its_dates_only(ship_date, expected):
    contract, _, _ = gb_card()
    assert rate(shipment(contract, ship_date=ship_date)).amount_of("peak") == expected  # 5 % of 10.60


def test_returns_surcharge_only_for_returned_shipments():
    contract, _, _ = gb_card()
    assert rate(shipment(contract, is_returned=False)).amount_of("returns") == D("0")
    assert rate(shipment(contract, is_returned=True)).amount_of("returns") == D("5.30")  # 50 % of 10.60


def test_full_breakdown_with_every_surcharge():
    # given 5 kg, 121 x 10 x 10 cm, COD 123.45, returned, shipped in peak season (fuel 15 %)
    contract, version, lines = gb_card()
    # when
    quote = rate(
        shipment(
            contract,
            ship_date=date(2026, 12, 1),
            length_cm=D("121"),
            width_cm=D("10"),
            height_cm=D("10"),
            cod_value=D("123.45"),
            is_returned=True,
        )
    )
    # then
    assert amounts(quote) == [
        ("freight", D("10.60")),
        ("fuel", D("1.59")),
        ("remote_area", D("2.75")),
        ("oversize", D("8.00")),
        ("cod", D("1.85")),
        ("peak", D("0.53")),
        ("returns", D("5.30")),
        ("vat", D("6.12")),
    ]
    assert (quote.net, quote.vat, quote.total) == (D("30.62"), D("6.12"), D("36.74"))
    assert {line.rate_line_id for line in quote.lines} == {lines[1].pk}
    assert all(line.surcharge_id for line in quote.lines if line.kind not in ("freight", "vat"))


def test_idr_rounds_to_whole_rupiah():
    # given an ID card: (0, 5] base 9,000 + 2,500 per kg, minimum 10,000; fuel 7.5 %; VAT 11 %
    vendor = VendorFactory(market=market("ID"))
    contract = ActiveContractFactory(vendor=vendor, service_level="reguler")
    version = contract.versions.get()
    RateLineFactory(
        version=version,
        origin_zone="ID-JKT",
        destination_zone="ID-BDG",
        weight_to_kg=D("5"),
        base_price=D("9000"),
        price_per_additional_kg=D("2500"),
        minimum_charge=D("10000"),
    )
    SurchargeFactory(version=version, kind=Surcharge.Kind.FUEL, percent=D("7.5"))
    # when 2.3 kg -> 3 steps
    quote = rate(
        ShipmentAttrs(
            market="ID",
            vendor_id=vendor.pk,
            service_level="reguler",
            origin_zone="ID-JKT",
            destination_zone="ID-BDG",
            weight_kg=D("2.3"),
            ship_date=date(2026, 5, 1),
        )
    )
    # then 9,000 + 7,500 = 16,500; fuel 1,237.5 -> 1,238; VAT 11 % of 17,738 = 1,951.18 -> 1,951
    assert amounts(quote) == [("freight", D("16500")), ("fuel", D("1238")), ("vat", D("1951"))]
    assert quote.total == D("19689")
    assert quote.currency == "IDR"


def test_version_in_force_on_the_ship_date_and_retroactive_amendment():
    # given v1 from 1 Jan and an amendment v2 from 1 Mar (base 4.50) activated later
    contract, v1, _ = gb_card(surcharges=False)
    v2 = ContractVersionFactory(
        contract=contract,
        number=2,
        effective_from=date(2026, 3, 1),
        status=ContractVersion.Status.ACTIVE,
        approved_by=contract.approved_by,
        approved_at=contract.approved_at,
        activated_at=contract.approved_at.replace(year=2026, month=4, day=1),
    )
    RateLineFactory(
        version=v2,
        weight_from_kg=D("1"),
        weight_to_kg=D("10"),
        base_price=D("4.50"),
        price_per_additional_kg=D("0.80"),
        additional_step_kg=D("0.5"),
        **LANE,
    )
    # when / then
    assert rate(shipment(contract, ship_date=date(2026, 2, 28))).contract_version_id == v1.pk
    march = rate(shipment(contract, ship_date=date(2026, 3, 1)))
    assert (march.contract_version_id, march.amount_of("freight")) == (v2.pk, D("10.90"))
    assert v2.is_retroactive


def test_no_contract_outside_validity_or_when_not_active():
    contract, _, _ = gb_card(surcharges=False)
    Contract.objects.filter(pk=contract.pk).update(valid_to=date(2026, 6, 30), status=Contract.Status.TERMINATED)
    with pytest.raises(RatingError) as exc:
        rate(shipment(contract, ship_date=date(2026, 7, 1)))
    assert exc.value.code == "no_contract"
    assert rate(shipment(contract, ship_date=date(2026, 6, 30))).amount_of("freight") == D("10.60")
    draft = ActiveContractFactory(status=Contract.Status.DRAFT, approved_by=None, service_level="express")
    with pytest.raises(RatingError):
        rate(shipment(draft, ship_date=date(2026, 3, 1)))


def test_bad_attributes_are_refused():
    contract, _, _ = gb_card(surcharges=False)
    with pytest.raises(RatingError, match="Weight must be greater than zero."):
        shipment(contract, weight_kg=D("0"))
    with pytest.raises(TypeError):
        shipment(contract, weight_kg=1.5)
