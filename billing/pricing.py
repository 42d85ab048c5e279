"""Seller fee: what the platform charges a seller for one shipment. THE definition of the rule.

The vendor side is `vendors.pricing` (its rules 1-8); this is the seller side, priced from the
same shipment data by the same weight and bracket rules (`vendors.pricing.chargeable_weight`,
`find_bracket`, `bracket_amount`). Billing rates millions of shipments set-based in SQL
(`billing/rating.py`); it must produce exactly what `seller_fee()` here produces, and
`tests/billing/test_rating_parity.py` compares the two. Change the rule here first, then there.

RULE (all arithmetic in Decimal at full precision; money rounded only where it says "round")

 1. Schedule. Of the market's approved (four eyes) seller fee schedules for the shipment's
    service level, the one with the greatest valid_from <= ship_date; it applies when the ship date is on or before
    its valid_to (NULL = open-ended). None -> RatingError(code="no_seller_fee"). Its currency must
    be the market's -> else RatingError(code="currency_mismatch").
 2. Weight. chargeable_kg = vendors.pricing rule 3 with the schedule's volumetric_divisor:
    max(actual weight_kg, CEIL(L x W x H / divisor, to 0.001 kg)), volumetric 0 without all dims.
 3. Fee line. The schedule's line with weight_from_kg < chargeable_kg <= weight_to_kg (from
    EXCLUSIVE, to INCLUSIVE). None -> RatingError(code="no_seller_fee_line").
 4. Base fee (vendors.pricing rule 5 with the line's fee columns):
        steps = CEIL((chargeable_kg - weight_from_kg) / additional_step_kg)
        base  = round(max(base_fee + steps x fee_per_additional_step, minimum_fee))
 5. COD fee = round(max(cod_value x cod_fee_percent / 100, cod_fee_minimum)) when cod_value > 0,
    else 0.
 6. Returns fee = round(returns_fee) when the shipment is returned, else 0.
 7. VAT = round((base + cod + returns) x schedule.vat_rate / 100).
 8. gross = net (base + cod + returns) + VAT.
 "round" = settlement_ops.money.quantize(amount, schedule.currency): half-up to the currency's
 minor units.

Public functions:
    seller_rate(shipment: ShipmentAttrs) -> SellerFee              loads from the DB and prices
    find_schedule(market_code=, service_level=, ship_date=) -> SellerFeeSchedule       rule 1
    seller_fee(shipment, *, schedule, lines) -> SellerFee                        (pure) rules 2-8
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from settlement_ops.models import Market
from settlement_ops.money import percent_of, quantize
from vendors.pricing import RatingError, ShipmentAttrs, bracket_amount, chargeable_weight, find_bracket

from .models import SellerFeeLine, SellerFeeSchedule

ZERO = Decimal("0")


@dataclass(frozen=True)
class SellerFee:
    currency: str
    schedule_id: int
    line_id: int
    chargeable_weight_kg: Decimal
    vat_rate: Decimal
    base: Decimal
    cod: Decimal
    returns: Decimal
    vat: Decimal

    @property
    def net(self) -> Decimal:
        return self.base + self.cod + self.returns

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat


def seller_fee(shipment: ShipmentAttrs, *, schedule: SellerFeeSchedule, lines) -> SellerFee:
    """The fee of a shipment under a given schedule (rules 2-8); no database access.

    `lines` are the schedule's fee lines (any iterable). Raises RatingError(code=
    "no_seller_fee_line") when no bracket holds the chargeable weight.
    """
    currency = schedule.currency
    _volumetric, chargeable = chargeable_weight(shipment, schedule.volumetric_divisor)
    line = find_bracket(lines, chargeable)
    if line is None:
        raise RatingError(
            f"No seller fee line in {schedule.name!r} at {chargeable} kg.",
            code="no_seller_fee_line",
        )
    base, _steps, _minimum_applied = bracket_amount(
        base=line.base_fee,
        per_step=line.fee_per_additional_step,
        step_kg=line.additional_step_kg,
        weight_from_kg=line.weight_from_kg,
        minimum=line.minimum_fee,
        chargeable_kg=chargeable,
        currency=currency,
    )
    cod = ZERO
    if shipment.cod_value > 0:
        cod = quantize(
            max(percent_of(shipment.cod_value, schedule.cod_fee_percent), schedule.cod_fee_minimum), currency
        )
    returns = quantize(schedule.returns_fee, currency) if shipment.is_returned else ZERO
    vat = quantize(percent_of(base + cod + returns, schedule.vat_rate), currency)
    return SellerFee(
        currency=currency,
        schedule_id=schedule.pk,
        line_id=line.pk,
        chargeable_weight_kg=chargeable,
        vat_rate=schedule.vat_rate,
        base=base,
        cod=cod,
        returns=returns,
        vat=vat,
    )


def find_schedule(*, market_code: str, service_level: str, ship_date: date) -> SellerFeeSchedule:
    """Rule 1 (without the currency check). Raises RatingError(code="no_seller_fee")."""
    schedule = (
        SellerFeeSchedule.objects.filter(
            market_id=market_code,
            service_level=service_level,
            status=SellerFeeSchedule.Status.APPROVED,
            valid_from__lte=ship_date,
        )
        .order_by("-valid_from")
        .first()
    )
    if schedule is None or (schedule.valid_to is not None and ship_date > schedule.valid_to):
        raise RatingError(
            f"No seller fee schedule in {market_code} for service {service_level!r} on {ship_date}.",
            code="no_seller_fee",
        )
    return schedule


def seller_rate(shipment: ShipmentAttrs) -> SellerFee:
    """The seller fee of one shipment from the database (rules 1-8). Raises RatingError."""
    schedule = find_schedule(
        market_code=shipment.market, service_level=shipment.service_level, ship_date=shipment.ship_date
    )
    if schedule.currency != Market.objects.values_list("currency", flat=True).get(pk=shipment.market):
        raise RatingError(
            f"Seller fee schedule {schedule.name!r} is not in the market currency.", code="currency_mismatch"
        )
    return seller_fee(shipment, schedule=schedule, lines=list(SellerFeeLine.objects.filter(schedule=schedule)))
