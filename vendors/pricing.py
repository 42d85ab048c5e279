"""Rating: the price a vendor charges for one shipment. THE definition of the rule.

Billing rates millions of shipments set-based in SQL; it must produce exactly what `rate()` here
produces, and its tests compare the two. Change the rule here first, then there.

RULE (all arithmetic in Decimal at full precision; money rounded only where it says "round")

 1. Contract. The contract of (market, vendor, service_level) whose status is effective
    (active, expired or terminated) and whose validity contains the ship date:
    valid_from <= ship_date <= valid_to (valid_to NULL = open-ended). At most one exists
    (no-overlap invariant). None -> RatingError(code="no_contract").
 2. Version. Of that contract, the version with status "active" and the greatest
    effective_from <= ship_date. None -> RatingError(code="no_version"). (A version activated after
    its effective_from is a retroactive amendment: re-rating after activation uses it.)
 3. Weight. volumetric_kg = CEIL(length_cm x width_cm x height_cm / volumetric_divisor, to
    0.001 kg) (0 when any dimension is missing). chargeable_kg = max(actual weight_kg,
    volumetric_kg). weight_kg must be > 0.
 4. Rate line. The line of the version with the shipment's service_level, origin_zone and
    destination_zone and weight_from_kg < chargeable_kg <= weight_to_kg (from EXCLUSIVE, to
    INCLUSIVE). None -> RatingError(code="no_rate_line").
 5. Freight line ("freight"):
        steps   = CEIL((chargeable_kg - weight_from_kg) / additional_step_kg)
        freight = round(max(base_price + steps x price_per_additional_kg, minimum_charge))
 6. Surcharges of the same version whose period contains the ship date (valid_from/valid_to
    inclusive, NULL = open) and whose condition holds; one line each, in the order
    vendors.models.SURCHARGE_ORDER (fuel, remote_area, oversize, cod, peak, returns), then by id:
        kind         applies when                               percent is of
        fuel         always                                     freight (the rounded line)
        remote_area  destination_zone == surcharge.zone         freight
        oversize     max(L, W, H) > dimension_threshold_cm      freight
        cod          cod_value > 0                              cod_value
        peak         always (its period is the peak season)     freight
        returns      is_returned                                freight
    amount = round(max(percent / 100 x base  or  flat_amount, minimum_amount)).
 7. VAT line ("vat") = round(sum of the rounded net lines x market.vat_standard_rate / 100).
 8. total = sum of net lines + vat.
 "round" = settlement_ops.money.quantize(amount, contract.currency): half-up to the currency's
 minor units (GBP/EUR 2, IDR/VND 0). Every line carries the currency, the contract version id and
 the rate line id; surcharge lines also the surcharge id.

Public functions:
    rate(shipment: ShipmentAttrs) -> Quote                       loads from the DB and prices
    find_version(market_code=, vendor_id=, service_level=, ship_date=) -> ContractVersion
    price(shipment, *, contract, version, rate_lines, surcharges, vat_rate) -> Quote  (pure)
    chargeable_weight(shipment, divisor) -> (volumetric_kg, chargeable_kg)    rule 3
    find_bracket(lines, chargeable_kg) -> line | None                        rule 4's weight test
    bracket_amount(...) -> (rounded amount, steps, minimum applied)          rule 5
    freight_amount(rate_line, chargeable_kg, currency) -> (Decimal, steps, minimum applied)
The seller fee (billing/pricing.py) prices by the same weight and bracket rules through
`chargeable_weight`, `find_bracket` and `bracket_amount`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_CEILING, Decimal

from settlement_ops.errors import DomainError
from settlement_ops.models import Market
from settlement_ops.money import Money, percent_of, quantize, to_decimal

from .models import SURCHARGE_ORDER, Contract, ContractVersion, RateLine, Surcharge

WEIGHT_QUANTUM = Decimal("0.001")


class RatingError(DomainError):
    """A shipment cannot be priced: no contract, version or rate line, or bad attributes."""


@dataclass(frozen=True)
class ShipmentAttrs:
    """What rating needs to know about a shipment. Dimensions in cm, weight in kg, COD in the
    contract currency."""

    market: str
    vendor_id: int
    service_level: str
    origin_zone: str
    destination_zone: str
    weight_kg: Decimal
    ship_date: date
    length_cm: Decimal | None = None
    width_cm: Decimal | None = None
    height_cm: Decimal | None = None
    cod_value: Decimal = Decimal("0")
    is_returned: bool = False

    def __post_init__(self):
        for name in ("weight_kg", "length_cm", "width_cm", "height_cm", "cod_value"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, to_decimal(value))  # refuses float
        if self.weight_kg <= 0:
            raise RatingError("Weight must be greater than zero.", code="bad_weight", field="weight_kg")
        for name in ("length_cm", "width_cm", "height_cm"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise RatingError(f"{name} cannot be negative.", code="bad_dimension", field=name)
        if self.cod_value < 0:
            raise RatingError("COD value cannot be negative.", code="bad_cod", field="cod_value")

    @property
    def dimensions(self) -> tuple[Decimal, Decimal, Decimal] | None:
        if None in (self.length_cm, self.width_cm, self.height_cm):
            return None
        return (self.length_cm, self.width_cm, self.height_cm)


@dataclass(frozen=True)
class QuoteLine:
    kind: str  # "freight", a Surcharge.Kind value, or "vat"
    description: str
    amount: Decimal
    currency: str
    contract_version_id: int
    rate_line_id: int
    surcharge_id: int | None = None
    basis: str = ""  # how the amount was computed, for people

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


@dataclass
class Quote:
    currency: str
    contract_id: int
    contract_reference: str
    contract_version_id: int
    contract_version_number: int
    rate_line_id: int
    volumetric_weight_kg: Decimal
    chargeable_weight_kg: Decimal
    vat_rate: Decimal
    lines: list[QuoteLine] = field(default_factory=list)

    @property
    def net(self) -> Decimal:
        return sum((line.amount for line in self.lines if line.kind != "vat"), Decimal("0"))

    @property
    def vat(self) -> Decimal:
        return sum((line.amount for line in self.lines if line.kind == "vat"), Decimal("0"))

    @property
    def total(self) -> Decimal:
        return self.net + self.vat

    def amount_of(self, kind: str) -> Decimal:
        return sum((line.amount for line in self.lines if line.kind == kind), Decimal("0"))

    def as_dict(self) -> dict:
        return {
            "currency": self.currency,
            "contract_id": self.contract_id,
            "contract_reference": self.contract_reference,
            "contract_version_id": self.contract_version_id,
            "contract_version_number": self.contract_version_number,
            "rate_line_id": self.rate_line_id,
            "volumetric_weight_kg": str(self.volumetric_weight_kg),
            "chargeable_weight_kg": str(self.chargeable_weight_kg),
            "vat_rate": str(self.vat_rate),
            "lines": [
                {
                    "kind": line.kind,
                    "description": line.description,
                    "amount": str(line.amount),
                    "currency": line.currency,
                    "contract_version_id": line.contract_version_id,
                    "rate_line_id": line.rate_line_id,
                    "surcharge_id": line.surcharge_id,
                    "basis": line.basis,
                }
                for line in self.lines
            ],
            "net": str(self.net),
            "vat": str(self.vat),
            "total": str(self.total),
        }


def _ceil(value: Decimal, quantum: Decimal = Decimal("1")) -> Decimal:
    return value.quantize(quantum, rounding=ROUND_CEILING)


def chargeable_weight(shipment: ShipmentAttrs, divisor: int) -> tuple[Decimal, Decimal]:
    """(volumetric_kg, chargeable_kg) per rule 3."""
    dims = shipment.dimensions
    volumetric = Decimal("0")
    if dims is not None:
        length, width, height = dims
        volumetric = _ceil(length * width * height / Decimal(divisor), WEIGHT_QUANTUM)
    return volumetric, max(shipment.weight_kg, volumetric)


def find_bracket(lines, chargeable_kg: Decimal):
    """The first of `lines` whose bracket holds the weight: weight_from_kg < kg <= weight_to_kg
    (from EXCLUSIVE, to INCLUSIVE; rule 4). None when no bracket does."""
    return next((line for line in lines if line.weight_from_kg < chargeable_kg <= line.weight_to_kg), None)


def bracket_amount(
    *,
    base: Decimal,
    per_step: Decimal,
    step_kg: Decimal,
    weight_from_kg: Decimal,
    minimum: Decimal,
    chargeable_kg: Decimal,
    currency: str,
) -> tuple[Decimal, int, bool]:
    """Rule 5 for any weight bracket: (round(max(base + steps x per_step, minimum)), steps,
    minimum applied), steps = CEIL((chargeable_kg - weight_from_kg) / step_kg)."""
    steps = _ceil((chargeable_kg - weight_from_kg) / step_kg)
    computed = base + steps * per_step
    minimum_applied = minimum > computed
    return quantize(max(computed, minimum), currency), int(steps), minimum_applied


def freight_amount(rate_line: RateLine, chargeable_kg: Decimal, currency: str) -> tuple[Decimal, int, bool]:
    """Rule 5: (rounded freight, additional steps, minimum applied)."""
    return bracket_amount(
        base=rate_line.base_price,
        per_step=rate_line.price_per_additional_kg,
        step_kg=rate_line.additional_step_kg,
        weight_from_kg=rate_line.weight_from_kg,
        minimum=rate_line.minimum_charge,
        chargeable_kg=chargeable_kg,
        currency=currency,
    )


def _surcharge_applies(surcharge: Surcharge, shipment: ShipmentAttrs) -> bool:
    if not surcharge.applies_on(shipment.ship_date):
        return False
    kind = surcharge.kind
    if kind == Surcharge.Kind.REMOTE_AREA:
        return shipment.destination_zone == surcharge.zone
    if kind == Surcharge.Kind.OVERSIZE:
        dims = shipment.dimensions
        return dims is not None and max(dims) > surcharge.dimension_threshold_cm
    if kind == Surcharge.Kind.COD:
        return shipment.cod_value > 0
    if kind == Surcharge.Kind.RETURNS:
        return shipment.is_returned
    return True  # fuel and peak: the period decides


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f")


def price(
    shipment: ShipmentAttrs,
    *,
    contract: Contract,
    version: ContractVersion,
    rate_lines,
    surcharges,
    vat_rate: Decimal,
) -> Quote:
    """Price a shipment against a given contract version (rules 3-8); no database access.

    `rate_lines` and `surcharges` are the version's (any iterable; filtered here).
    Raises RatingError(code="no_rate_line") when no bracket of the lane holds the weight.
    """
    currency = contract.currency
    volumetric, chargeable = chargeable_weight(shipment, contract.volumetric_divisor)
    lane = (
        r
        for r in rate_lines
        if r.service_level == shipment.service_level
        and r.origin_zone == shipment.origin_zone
        and r.destination_zone == shipment.destination_zone
    )
    line = find_bracket(lane, chargeable)
    if line is None:
        raise RatingError(
            f"No rate line in {contract.reference} v{version.number} for {shipment.service_level} "
            f"{shipment.origin_zone}->{shipment.destination_zone} at {_fmt(chargeable)} kg.",
            code="no_rate_line",
        )
    quote = Quote(
        currency=currency,
        contract_id=contract.pk,
        contract_reference=contract.reference,
        contract_version_id=version.pk,
        contract_version_number=version.number,
        rate_line_id=line.pk,
        volumetric_weight_kg=volumetric,
        chargeable_weight_kg=chargeable,
        vat_rate=vat_rate,
    )
    freight, steps, minimum_applied = freight_amount(line, chargeable, currency)
    basis = (
        f"{_fmt(line.base_price)} + {steps} x {_fmt(line.price_per_additional_kg)} "
        f"(per {_fmt(line.additional_step_kg)} kg above {_fmt(line.weight_from_kg)} kg)"
    )
    if minimum_applied:
        basis += f"; minimum charge {_fmt(line.minimum_charge)} applied"
    quote.lines.append(
        QuoteLine(
            "freight", f"Freight {_fmt(chargeable)} kg chargeable", freight, currency, version.pk, line.pk, basis=basis
        )
    )
    order = {kind: index for index, kind in enumerate(SURCHARGE_ORDER)}
    for surcharge in sorted(surcharges, key=lambda s: (order[s.kind], s.pk or 0)):
        if not _surcharge_applies(surcharge, shipment):
            continue
        base = shipment.cod_value if surcharge.kind == Surcharge.Kind.COD else freight
        if surcharge.percent is not None:
            raw = percent_of(base, surcharge.percent)
            basis = f"{_fmt(surcharge.percent)}% of {_fmt(base)}"
        else:
            raw = surcharge.flat_amount
            basis = f"flat {_fmt(surcharge.flat_amount)}"
        if surcharge.minimum_amount > raw:
            raw = surcharge.minimum_amount
            basis += f"; minimum {_fmt(surcharge.minimum_amount)} applied"
        quote.lines.append(
            QuoteLine(
                surcharge.kind,
                surcharge.get_kind_display() + " surcharge",
                quantize(raw, currency),
                currency,
                version.pk,
                line.pk,
                surcharge_id=surcharge.pk,
                basis=basis,
            )
        )
    net = quote.net
    quote.lines.append(
        QuoteLine(
            "vat",
            f"VAT {_fmt(vat_rate)}%",
            quantize(percent_of(net, vat_rate), currency),
            currency,
            version.pk,
            line.pk,
            basis=f"{_fmt(vat_rate)}% of {_fmt(net)}",
        )
    )
    return quote


def find_contract(*, market_code: str, vendor_id: int, service_level: str, ship_date: date) -> Contract:
    """Rule 1. Raises RatingError(code="no_contract")."""
    contract = (
        Contract.objects.filter(
            market_id=market_code,
            vendor_id=vendor_id,
            service_level=service_level,
            status__in=Contract.EFFECTIVE_STATUSES,
            valid_from__lte=ship_date,
        )
        .exclude(valid_to__lt=ship_date)
        .select_related("vendor")
        .first()
    )
    if contract is None:
        raise RatingError(
            f"No contract of vendor {vendor_id} in {market_code} for service {service_level!r} on {ship_date}.",
            code="no_contract",
        )
    return contract


def find_version(*, market_code: str, vendor_id: int, service_level: str, ship_date: date) -> ContractVersion:
    """Rules 1-2: the contract version in force on the ship date. Raises RatingError."""
    contract = find_contract(
        market_code=market_code, vendor_id=vendor_id, service_level=service_level, ship_date=ship_date
    )
    version = (
        contract.versions.filter(status=ContractVersion.Status.ACTIVE, effective_from__lte=ship_date)
        .order_by("-effective_from")
        .first()
    )
    if version is None:
        raise RatingError(f"Contract {contract.reference} has no active version on {ship_date}.", code="no_version")
    version.contract = contract
    return version


def rate(shipment: ShipmentAttrs) -> Quote:
    """Price one shipment from the database (rules 1-8). Raises RatingError when it cannot."""
    version = find_version(
        market_code=shipment.market,
        vendor_id=shipment.vendor_id,
        service_level=shipment.service_level,
        ship_date=shipment.ship_date,
    )
    market = Market.objects.get(pk=shipment.market)
    lines = version.rate_lines.filter(
        service_level=shipment.service_level,
        origin_zone=shipment.origin_zone,
        destination_zone=shipment.destination_zone,
    )
    return price(
        shipment,
        contract=version.contract,
        version=version,
        rate_lines=list(lines),
        surcharges=list(version.surcharges.all()),
        vat_rate=market.vat_standard_rate,
    )
