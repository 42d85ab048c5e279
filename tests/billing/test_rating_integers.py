"""The rating statement computes in BIGINT units (billing.rating: grams, ten-thousandths, minor
units) and converts once. Its integer rounding must be `quantize` exactly, half-way cases and
negative amounts included; large but real amounts must come out exact; and an amount beyond the
integer range must fail the chunk whole, never write a wrong amount.
(The end-to-end parity of every amount with the Python rules is tests/billing/test_rating_parity.py.)"""

import random
from datetime import date
from decimal import Decimal

import pytest
from django.db import DataError, connection

from billing.models import BillingRunChunk, ChargeLine, ChargeLineTotal, RatingException
from billing.rating import _money
from billing.services import billing_chunk_rate, billing_run_start
from settlement_ops.money import minor_units, quantize, round_div_sql
from tests.billing.helpers import make_contract, make_fee_schedule, make_shipment
from tests.billing.test_rating_parity import ROUNDING_CASES
from tests.factories import SellerFactory, VendorFactory, market

D = Decimal
# The cases are given in hundred-millionths: every listed case has at most 8 places.
SCALE = 8


@pytest.mark.django_db
@pytest.mark.parametrize("currency", ["GBP", "EUR", "IDR", "VND"])
def test_integer_rounding_equals_quantize_including_half_way_cases(currency):
    # given: the listed cases and random amounts, a tenth of them exactly half-way, as integers
    rng = random.Random(f"integer-round-{currency}")
    places = minor_units(currency)
    values = [D(v) for c, v in ROUNDING_CASES if c == currency] + [
        D(rng.randint(-(10**12), 10**12)) / D(10) ** (places + 3)
        + (D(5) / D(10) ** (places + 1) if rng.random() < 0.1 else 0)
        for _ in range(2_000)
    ]
    units = [int(v.scaleb(SCALE)) for v in values]
    assert all(D(u).scaleb(-SCALE) == v for u, v in zip(units, values, strict=True))
    # when: PostgreSQL rounds them to minor units with the rating's integer division and converts
    divisor = 10 ** (SCALE - places)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_money(round_div_sql('x', divisor), currency)} "
            "FROM unnest(CAST(%s AS BIGINT[])) WITH ORDINALITY AS t(x, i) ORDER BY i",
            [units],
        )
        rounded = [row[0] for row in cursor.fetchall()]
    # then: exactly quantize, tie away from zero
    for value, sql in zip(values, rounded, strict=True):
        assert sql == quantize(value, currency), (currency, value, sql, quantize(value, currency))


@pytest.mark.django_db
def test_large_real_amounts_are_exact(django_capture_on_commit_callbacks):
    """Rupiah at the top of what a parcel costs: a 30 kg express parcel on a 2,500,000 per step
    lane, 12.5% fuel, a COD of 5 billion (a car, cash on delivery) at 3%."""
    # given
    vendor = VendorFactory(market=market("ID"))
    seller = SellerFactory(market=market("ID"))
    make_contract(
        vendor=vendor,
        lines=[("LDN", "LDN", "0", "30", "9000000", "2500000", "0.001", "0")],
        surcharges=[dict(kind="fuel", percent=D("12.5")), dict(kind="cod", percent=D("3"))],
    )
    make_fee_schedule(code="ID", cod_fee_percent="2.5", lines=[("0", "30", "15000", "120", "0.001", "0")])
    shipment = make_shipment(vendor=vendor, seller=seller, weight="29.999", cod="5000000000.5")
    # when
    with django_capture_on_commit_callbacks(execute=True):
        billing_run_start(market=market("ID"), business_date=date(2026, 11, 10))
    # then: freight 9,000,000 + 29,999 steps x 2,500,000 = 75,006,500,000; fuel 12.5% =
    # 9,375,812,500; COD 3% of 5,000,000,000.5 = 150,000,000.015 -> 150,000,000; VAT 11%.
    line = ChargeLine.objects.get(shipment=shipment)
    assert (line.vendor_base, line.vendor_fuel, line.vendor_cod) == (
        D("75006500000"),
        D("9375812500"),
        D("150000000"),
    )
    net = D("75006500000") + D("9375812500") + D("150000000")
    vat_rate = market("ID").vat_standard_rate
    assert line.vendor_net == net and line.vendor_vat == quantize(net * vat_rate / 100, "IDR")
    # seller: 15,000 + 29,999 x 120 = 3,614,880; COD 2.5% of 5,000,000,000.5 = 125,000,000.0125
    assert (line.seller_base, line.seller_cod) == (D("3614880"), D("125000000"))


@pytest.mark.django_db
def test_an_amount_beyond_the_integer_range_fails_the_chunk_whole():
    # given: a rate line typed with fifteen zeros, and a shipment on it
    vendor = VendorFactory(market=market("GB"))
    seller = SellerFactory(market=market("GB"))
    make_contract(vendor=vendor, lines=[("LDN", "LDN", "0", "30", "1000000000000000", "0", "1", "0")])
    make_fee_schedule(code="GB")
    make_shipment(vendor=vendor, seller=seller, weight="1")
    run = billing_run_start(market=market("GB"), business_date=date(2026, 11, 10), enqueue=False)
    chunk = run.chunks.get()
    # when
    with pytest.raises(DataError):
        billing_chunk_rate(chunk_id=chunk.pk, post_when_done=False)
    # then: nothing of the chunk was written, and the chunk says why it failed
    assert not ChargeLine.objects.exists() and not ChargeLineTotal.objects.exists()
    assert not RatingException.objects.exists()
    chunk.refresh_from_db()
    assert chunk.status == BillingRunChunk.Status.PENDING and chunk.attempts == 1
    assert "out of range" in chunk.error
