"""A hand-checkable GB rate card (GBP, VAT 20 %, divisor 5000) used by the rating tests.

Lane standard GB-LON -> GB-SCO:
  (0, 1]   base 3.50, no additional
  (1, 10]  base 4.20 + 0.80 per 0.5 kg above 1 kg
  (10, 30] base 12.00 + 0.45 per 1 kg above 10 kg, minimum 15.00
Surcharges: fuel 12.5 % (Jan-Jun 2026) / 15 % (from Jul 2026), remote area GB-SCO flat 2.75,
oversize flat 8.00 above 120 cm, COD 1.5 % min 1.00, peak 5 % (15 Nov - 31 Dec 2026), returns 50 %.
"""

from datetime import date
from decimal import Decimal as D

from tests.factories import ActiveContractFactory, RateLineFactory, SurchargeFactory, VendorFactory, market
from vendors.models import Surcharge
from vendors.pricing import ShipmentAttrs

LANE = dict(origin_zone="GB-LON", destination_zone="GB-SCO")


def gb_card(*, surcharges=True, vendor=None, divisor=5000):
    contract = ActiveContractFactory(vendor=vendor or VendorFactory(), volumetric_divisor=divisor)
    version = contract.versions.get(number=1)
    lines = [
        RateLineFactory(
            version=version,
            weight_from_kg=D("0"),
            weight_to_kg=D("1"),
            base_price=D("3.50"),
            price_per_additional_kg=D("0"),
            **LANE,
        ),
        RateLineFactory(
            version=version,
            weight_from_kg=D("1"),
            weight_to_kg=D("10"),
            base_price=D("4.20"),
            price_per_additional_kg=D("0.80"),
            additional_step_kg=D("0.5"),
            **LANE,
        ),
        RateLineFactory(
            version=version,
            weight_from_kg=D("10"),
            weight_to_kg=D("30"),
            base_price=D("12.00"),
            price_per_additional_kg=D("0.45"),
            additional_step_kg=D("1"),
            minimum_charge=D("15.00"),
            **LANE,
        ),
    ]
    if surcharges:
        K = Surcharge.Kind
        SurchargeFactory(
            version=version, kind=K.FUEL, percent=D("12.5"), valid_from=date(2026, 1, 1), valid_to=date(2026, 6, 30)
        )
        SurchargeFactory(version=version, kind=K.FUEL, percent=D("15"), valid_from=date(2026, 7, 1))
        SurchargeFactory(version=version, kind=K.REMOTE_AREA, percent=None, flat_amount=D("2.75"), zone="GB-SCO")
        SurchargeFactory(
            version=version, kind=K.OVERSIZE, percent=None, flat_amount=D("8.00"), dimension_threshold_cm=D("120")
        )
        SurchargeFactory(version=version, kind=K.COD, percent=D("1.5"), minimum_amount=D("1.00"))
        SurchargeFactory(
            version=version, kind=K.PEAK, percent=D("5"), valid_from=date(2026, 11, 15), valid_to=date(2026, 12, 31)
        )
        SurchargeFactory(version=version, kind=K.RETURNS, percent=D("50"))
    return contract, version, lines


def shipment(contract, **kwargs) -> ShipmentAttrs:
    values = dict(
        market=contract.market_id,
        vendor_id=contract.vendor_id,
        service_level=contract.service_level,
        origin_zone="GB-LON",
        destination_zone="GB-SCO",
        weight_kg=D("5"),
        ship_date=date(2026, 3, 10),
    )
    values.update(kwargs)
    return ShipmentAttrs(**values)


__all__ = ["gb_card", "shipment", "market", "D", "LANE"]
