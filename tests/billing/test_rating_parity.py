"""The set-based rating (billing.rating SQL) must give exactly what the Python rules give, on both
sides: the vendor cost (vendors.pricing, rules 1-8) and the seller fee (billing.pricing, rules 1-8).

Per market a seeded random sample of 2,000+ shipments, written with one bulk_create and rated by
a real billing run: every surcharge kind (percent and flat, minimums, periods, remote zone,
oversize threshold, COD, peak, returns), two contract versions and two seller fee schedules in
force at different dates, weights exactly on bracket ends and just above them (actual and
volumetric), minimum charges, missing and partly missing dimensions, COD, returns, exceptions
(no lane, no bracket, no seller fee, missing weight) and half-way amounts (x.xx5 in GBP, x.5 in
IDR). The first disagreement fails the test with the shipment's inputs and both results.
"""

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection

import billing.pricing
import vendors.pricing
from billing.models import ChargeLine, RatingException, Shipment
from billing.pricing import find_schedule, seller_fee, seller_rate
from billing.services import billing_run_start
from settlement_ops.money import minor_units, quantize, round_sql
from tests.billing.helpers import add_version, make_contract, make_fee_schedule, make_shipment
from tests.factories import SellerFactory, VendorFactory, market
from vendors.models import SURCHARGE_ORDER
from vendors.pricing import RatingError, ShipmentAttrs, find_version, price

D = Decimal
SAMPLE = 2_000
BUSINESS_DATE = date(2026, 11, 20)
FIRST_SHIP_DATE = date(2026, 9, 20)

GBP_LINES = [
    # origin, destination, from, to, base, per additional step, step, minimum
    ("LDN", "LDN", "0", "1", "3.95", "0", "1", "0"),
    ("LDN", "LDN", "1", "5", "4.20", "0.55", "0.5", "4.50"),
    ("LDN", "LDN", "5", "30", "6.80", "0.4125", "1", "0"),
    ("LDN", "SCO", "0", "2", "4.10", "0", "1", "0"),
    ("LDN", "SCO", "2", "30", "5.10", "0.6150", "0.25", "6.00"),
    ("MID", "HIGHLANDS", "0", "10", "3.20", "0.3333", "0.1", "3.40"),
]
GBP_LINES_V2 = [(o, d, f, t, str(D(b) + D("0.15")), p, s, m) for o, d, f, t, b, p, s, m in GBP_LINES]
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
GBP_SURCHARGES_V2 = [*GBP_SURCHARGES[1:], dict(kind="fuel", percent=D("12.5"), valid_to=date(2026, 10, 31))]
GBP_FEES = dict(
    first=dict(
        lines=[("0", "2", "4.99", "0", "1", "0"), ("2", "25", "5.99", "0.35", "1", "6.50")],
        cod_fee_percent="1.5",
        cod_fee_minimum="0.50",
        returns_fee="2.00",
    ),
    second=dict(
        lines=[
            ("0", "1", "4.25", "0", "1", "0"),
            ("1", "5", "4.60", "0.45", "0.5", "5.00"),
            ("5", "30", "7.10", "0.3750", "1", "0"),
        ],
        cod_fee_percent="2.5",
        cod_fee_minimum="0.75",
        returns_fee="2.345",
    ),
)
IDR_LINES = [
    ("JKT", "JKT", "0", "1", "9000", "0", "1", "0"),
    ("JKT", "JKT", "1", "20", "9000", "4500", "1", "12000"),
    ("JKT", "PAPUA", "0", "20", "35000", "17250", "0.5", "0"),
]
IDR_LINES_V2 = [(o, d, f, t, str(D(b) + 500), p, s, m) for o, d, f, t, b, p, s, m in IDR_LINES]
IDR_SURCHARGES = [
    dict(kind="fuel", percent=D("7.25")),
    dict(kind="remote_area", percent=D("12.5"), zone="PAPUA"),
    dict(kind="cod", percent=D("2.5"), minimum_amount=D("2500")),
    dict(kind="returns", flat_amount=D("5000")),
    dict(kind="oversize", flat_amount=D("15000"), dimension_threshold_cm=D("80")),
    dict(kind="peak", percent=D("4.5"), valid_from=date(2026, 10, 1), valid_to=date(2026, 10, 31)),
]
IDR_FEES = dict(
    first=dict(
        lines=[("0", "15", "11000", "3500", "1", "12000")],
        cod_fee_percent="2",
        cod_fee_minimum="2000",
        returns_fee="4000",
    ),
    second=dict(
        lines=[("0", "2", "10500", "0", "1", "0"), ("2", "50", "10500", "1750", "0.5", "14000")],
        cod_fee_percent="1.5",
        cod_fee_minimum="2500",
        returns_fee="4500",
    ),
)
MARKETS = {
    "GB": dict(
        lines=GBP_LINES,
        lines_v2=GBP_LINES_V2,
        surcharges=GBP_SURCHARGES,
        surcharges_v2=GBP_SURCHARGES_V2,
        fees=GBP_FEES,
        divisor=5000,
        lanes=[("LDN", "LDN"), ("LDN", "SCO"), ("MID", "HIGHLANDS")],
        cod=lambda rng: D(rng.randint(1, 40000)) / 100,
    ),
    "ID": dict(
        lines=IDR_LINES,
        lines_v2=IDR_LINES_V2,
        surcharges=IDR_SURCHARGES,
        surcharges_v2=IDR_SURCHARGES[:-1],
        fees=IDR_FEES,
        divisor=6000,
        lanes=[("JKT", "JKT"), ("JKT", "PAPUA")],
        cod=lambda rng: D(rng.randint(1, 40000) * 25),
    ),
}
# Dimensions whose volumetric weight falls exactly on a bracket end (divisor 5000 or 6000).
EDGE_DIMS = [
    ("50", "10", "10"),
    ("50", "20", "10"),
    ("100", "25", "10"),
    ("60", "10", "10"),
    ("60", "20", "10"),
    ("100", "30", "10"),
    ("75", "20", "20"),
]


def _edges(setup) -> list[D]:
    """Every bracket end of the market's vendor and seller lines, and a gram either side."""
    ends = {D(line[i]) for line in setup["lines"] for i in (2, 3)}
    ends |= {D(line[i]) for fees in setup["fees"].values() for line in fees["lines"] for i in (0, 1)}
    return sorted({e + delta for e in ends for delta in (D("-0.001"), D(0), D("0.001"))} - {D("-0.001"), D(0)})


def _dims(rng):
    roll = rng.random()
    if roll < 0.40:
        return None, None, None
    if roll < 0.50:  # one side unknown: no volumetric weight, no oversize
        dims = [D(rng.randint(50, 900)) / 10 for _ in range(3)]
        dims[rng.randrange(3)] = None
        return tuple(dims)
    if roll < 0.60:
        return tuple(D(x) for x in rng.choice(EDGE_DIMS))
    if roll < 0.70:  # one long side: oversize thresholds, little volume
        return D(rng.randint(550, 1250)) / 10, D(rng.randint(50, 150)) / 10, D(rng.randint(50, 150)) / 10
    return tuple(D(rng.randint(50, 650)) / 10 for _ in range(3))


def _shipments(rng, setup, *, vendor, seller, n):
    """`n` unsaved shipments of a varied, seeded sample."""
    edges = _edges(setup)
    # Random weights up to a little above the heaviest vendor bracket (some find none).
    heaviest = int(max(D(line[3]) for line in setup["lines"]) * 1000) + 2000
    shipments = []
    for i in range(n):
        origin, destination = rng.choice(setup["lanes"])
        service = "STD"
        roll = rng.random()
        if roll < 0.01:
            origin = "XXX"  # no lane: no_rate_line
        elif roll < 0.03:
            service = "EXP"  # a contract but no seller fee schedule: no_seller_fee
        weight = rng.choice(edges) if rng.random() < 0.4 else D(rng.randint(1, heaviest)) / 1000
        if rng.random() < 0.01:
            weight = None  # missing_weight
        length, width, height = _dims(rng)
        shipments.append(
            Shipment(
                market_id=vendor.market_id,
                vendor=vendor,
                seller=seller,
                tracking_number=f"PAR{vendor.market_id}{i:06d}",
                service_level=service,
                origin_zone=origin,
                destination_zone=destination,
                actual_weight_kg=weight,
                length_cm=length,
                width_cm=width,
                height_cm=height,
                cod_amount=setup["cod"](rng) if rng.random() < 0.3 else D(0),
                ship_date=FIRST_SHIP_DATE + timedelta(days=rng.randint(0, (BUSINESS_DATE - FIRST_SHIP_DATE).days)),
                is_return=rng.random() < 0.15,
                status=Shipment.Status.DELIVERED,
            )
        )
    return Shipment.objects.bulk_create(shipments)


def _attrs(shipment: Shipment) -> ShipmentAttrs:
    return ShipmentAttrs(
        market=shipment.market_id,
        vendor_id=shipment.vendor_id,
        service_level=shipment.service_level,
        origin_zone=shipment.origin_zone,
        destination_zone=shipment.destination_zone,
        weight_kg=shipment.actual_weight_kg,
        ship_date=shipment.ship_date,
        length_cm=shipment.length_cm,
        width_cm=shipment.width_cm,
        height_cm=shipment.height_cm,
        cod_value=shipment.cod_amount,
        is_returned=shipment.is_return,
    )


class Reference:
    """The Python rules with the rows they load (rules 1-2 of each side) looked up once per key."""

    def __init__(self, market_code):
        self.market = market(market_code)
        self.versions, self.schedules = {}, {}

    def _version(self, attrs):
        key = (attrs.vendor_id, attrs.service_level, attrs.ship_date)
        if key not in self.versions:
            try:
                version = find_version(
                    market_code=attrs.market,
                    vendor_id=attrs.vendor_id,
                    service_level=attrs.service_level,
                    ship_date=attrs.ship_date,
                )
                self.versions[key] = (version, list(version.rate_lines.all()), list(version.surcharges.all()))
            except RatingError as error:
                self.versions[key] = error
        return self.versions[key]

    def _schedule(self, attrs):
        key = (attrs.service_level, attrs.ship_date)
        if key not in self.schedules:
            try:
                schedule = find_schedule(
                    market_code=attrs.market, service_level=attrs.service_level, ship_date=attrs.ship_date
                )
                self.schedules[key] = (schedule, list(schedule.lines.all()))
            except RatingError as error:
                self.schedules[key] = error
        return self.schedules[key]

    def expected(self, shipment: Shipment) -> dict:
        """What the charge line (or the exception) must say, in the rating statement's order of checks."""
        if shipment.actual_weight_kg is None:
            return {"code": "missing_weight"}
        attrs = _attrs(shipment)
        try:
            found = self._version(attrs)
            if isinstance(found, RatingError):
                raise found
            version, rate_lines, surcharges = found
            quote = price(
                attrs,
                contract=version.contract,
                version=version,
                rate_lines=rate_lines,
                surcharges=surcharges,
                vat_rate=self.market.vat_standard_rate,
            )
            found = self._schedule(attrs)
            if isinstance(found, RatingError):
                raise found
            schedule, fee_lines = found
            fee = seller_fee(attrs, schedule=schedule, lines=fee_lines)
        except RatingError as error:
            return {"code": error.code}
        amounts = {"vendor_base": quote.amount_of("freight")}
        amounts.update({ChargeLine.SURCHARGE_COLUMNS[kind]: quote.amount_of(kind) for kind in SURCHARGE_ORDER})
        amounts.update(
            vendor_net=quote.net,
            vendor_vat=quote.vat,
            vendor_gross=quote.total,
            seller_base=fee.base,
            seller_cod=fee.cod,
            seller_returns=fee.returns,
            seller_net=fee.net,
            seller_vat=fee.vat,
            seller_gross=fee.gross,
            chargeable_weight_kg=quote.chargeable_weight_kg,
            seller_chargeable_weight_kg=fee.chargeable_weight_kg,
            contract_version_id=quote.contract_version_id,
            rate_line_id=quote.rate_line_id,
            seller_fee_schedule_id=fee.schedule_id,
        )
        return amounts


def _got(line: ChargeLine | None, code: str | None, expected: dict) -> dict:
    if line is None:
        return {"code": code}
    return {key: getattr(line, key) for key in expected} if "code" not in expected else {"code": code, "line": line.pk}


def _inputs(shipment: Shipment) -> dict:
    return {
        name: getattr(shipment, name)
        for name in (
            "id",
            "tracking_number",
            "service_level",
            "origin_zone",
            "destination_zone",
            "actual_weight_kg",
            "length_cm",
            "width_cm",
            "height_cm",
            "cod_amount",
            "ship_date",
            "is_return",
        )
    }


@pytest.fixture
def half_way_count(monkeypatch):
    """Counts the amounts the Python rules round that lie exactly half-way between two minor
    units (observes `quantize`, changes nothing), so the sample provably contains them."""
    seen = {"n": 0}

    def counting_quantize(amount, currency):
        shifted = D(amount).scaleb(minor_units(currency))
        if shifted - shifted.to_integral_value(rounding="ROUND_FLOOR") == D("0.5"):
            seen["n"] += 1
        return quantize(amount, currency)

    monkeypatch.setattr(vendors.pricing, "quantize", counting_quantize)
    monkeypatch.setattr(billing.pricing, "quantize", counting_quantize)
    return seen


def _setup_market(code):
    setup = MARKETS[code]
    vendor = VendorFactory(market=market(code))
    seller = SellerFactory(market=market(code))
    version = make_contract(
        vendor=vendor, lines=setup["lines"], surcharges=setup["surcharges"], divisor=setup["divisor"]
    )
    # A second version in force from late October (rule 2 picks by ship date).
    add_version(
        contract=version.contract,
        number=2,
        effective_from=date(2026, 10, 20),
        lines=setup["lines_v2"],
        surcharges=setup["surcharges_v2"],
    )
    make_contract(vendor=vendor, service="EXP", lines=setup["lines"], divisor=setup["divisor"])
    make_fee_schedule(code=code, divisor=setup["divisor"], **setup["fees"]["first"])
    make_fee_schedule(code=code, divisor=setup["divisor"], valid_from=date(2026, 10, 15), **setup["fees"]["second"])
    return setup, vendor, seller


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["GB", "ID"])
def test_set_based_rating_equals_python_rules_on_both_sides(code, half_way_count, django_capture_on_commit_callbacks):
    # given: a seeded random sample, bulk-created
    rng = random.Random(f"parity-{code}")
    setup, vendor, seller = _setup_market(code)
    _shipments(rng, setup, vendor=vendor, seller=seller, n=SAMPLE)
    # when: a real billing run rates them
    with django_capture_on_commit_callbacks(execute=True):
        billing_run_start(market=market(code), business_date=BUSINESS_DATE)
    # then: every shipment's charge line (or exception) is what the Python rules give
    shipments = list(Shipment.objects.filter(vendor=vendor).order_by("id"))
    lines = {cl.shipment_id: cl for cl in ChargeLine.objects.filter(vendor=vendor)}
    codes = dict(RatingException.objects.filter(vendor=vendor).values_list("shipment_id", "code"))
    reference = Reference(code)
    outcomes = {}
    for shipment in shipments:
        want = reference.expected(shipment)
        got = _got(lines.get(shipment.pk), codes.get(shipment.pk), want)
        assert got == want, (
            f"first mismatch in {code}: shipment {_inputs(shipment)}\n  SQL:    {got}\n  Python: {want}\n  differ: "
            f"{ {k: (got.get(k), want.get(k)) for k in want.keys() | got.keys() if got.get(k) != want.get(k)} }"
        )
        outcomes[want.get("code", "rated")] = outcomes.get(want.get("code", "rated"), 0) + 1
    # ...and the sample covered what it claims to
    assert len(shipments) >= 2_000 and outcomes["rated"] >= 1_200, outcomes
    assert {"missing_weight", "no_rate_line", "no_seller_fee"} <= outcomes.keys(), outcomes
    rated = list(lines.values())
    for column in [*ChargeLine.SURCHARGE_COLUMNS.values(), "seller_cod", "seller_returns"]:
        assert any(getattr(line, column) > 0 for line in rated), f"{column} never charged"
    assert {line.contract_version_id for line in rated} == set(
        vendor.contracts.filter(service_level="STD").values_list("versions", flat=True)
    ), "both contract versions used"
    assert len({line.seller_fee_schedule_id for line in rated}) == 2, "both seller fee schedules used"
    weights = {line.chargeable_weight_kg for line in rated} | {line.seller_chargeable_weight_kg for line in rated}
    assert len(weights & set(_edges(setup))) >= 10, "bracket edges exercised"
    assert half_way_count["n"] >= 20, f"only {half_way_count['n']} half-way roundings in the sample"


# Half-way and near-half-way amounts, positive and negative (delta lines), for 2- and 0-place currencies.
ROUNDING_CASES = (
    [
        ("GBP", v)
        for v in [
            "0.005",
            "0.015",
            "0.025",
            "1.005",
            "2.675",
            "0.73125",
            "1.535",
            "1.5349999",
            "10.0050",
            "-0.005",
            "-2.675",
            "-1.535",
            "0.004999",
            "99999999.995",
            "0",
        ]
    ]
    + [("IDR", v) for v in ["0.5", "1.5", "2.5", "2499.5", "2499.4999", "-0.5", "-2.5", "12345.5", "0.49999"]]
    + [("VND", v) for v in ["0.5", "10000.5", "-10000.5", "3.4999"]]
    + [("EUR", v) for v in ["0.125", "-0.125", "7.0049"]]
)


@pytest.mark.django_db
@pytest.mark.parametrize("currency", ["GBP", "EUR", "IDR", "VND"])
def test_round_sql_equals_quantize_including_half_way_cases(currency):
    # given: the listed cases and random amounts, a tenth of them exactly half-way
    rng = random.Random(f"round-{currency}")
    places = minor_units(currency)
    values = [D(v) for c, v in ROUNDING_CASES if c == currency] + [
        D(rng.randint(-(10**8), 10**8)) / D(10) ** (places + 1)
        + (D(5) / D(10) ** (places + 1) if rng.random() < 0.1 else 0)
        for _ in range(2_000)
    ]
    # when: PostgreSQL rounds them all with round_sql
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {round_sql('v', currency)} FROM unnest(CAST(%s AS NUMERIC[])) WITH ORDINALITY AS t(v, i) ORDER BY i",
            [[str(v) for v in values]],
        )
        rounded = [row[0] for row in cursor.fetchall()]
    # then
    for value, sql in zip(values, rounded, strict=True):
        assert sql == quantize(value, currency), (currency, value, sql, quantize(value, currency))


@pytest.mark.django_db
def test_rating_example_exact_amounts(django_capture_on_commit_callbacks):
    """A worked example: 2.3 kg, 30x20x10 cm, COD 25.00, returned, GB, fuel 12.5%."""
    # given
    vendor = VendorFactory(market=market("GB"))
    seller = SellerFactory(market=market("GB"))
    make_contract(
        vendor=vendor,
        lines=GBP_LINES,
        surcharges=[dict(kind="fuel", percent=D("12.5")), dict(kind="returns", flat_amount=D("1.10"))],
    )
    make_fee_schedule(code="GB")
    shipment = make_shipment(
        vendor=vendor, seller=seller, weight="2.3", dims=("30", "20", "10"), cod="25.00", is_return=True
    )
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
    fee = seller_rate(_attrs(shipment))  # the Python rule, loading its schedule itself
    assert (fee.base, fee.cod, fee.returns, fee.vat, fee.gross) == (
        D("6.34"),
        D("0.50"),
        D("2.00"),
        D("1.77"),
        D("10.61"),
    )
    assert line.margin == D("1.16")
    assert line.kind == ChargeLine.Kind.ORIGINAL and line.generation == 1
    assert Shipment.objects.get(pk=shipment.pk).revision == 1
