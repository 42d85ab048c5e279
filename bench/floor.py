"""The floor: ONE hand-written set-based statement that computes and materialises the base charge
(freight) of every benchmark shipment — what a billing run cannot beat."""

from __future__ import annotations

import time
from decimal import Decimal

from django.db import connection, transaction

from billing.models import Shipment
from vendors.models import Contract, ContractVersion, RateLine

from . import MARKET

SHIPMENT = Shipment._meta.db_table
# Written by hand, independently of billing.rating: the floor is what that code is measured
# against (and checked against: same count and sum of base charges).
_KG = (
    "GREATEST(s.actual_weight_kg, CASE WHEN s.length_cm IS NULL OR s.width_cm IS NULL OR s.height_cm IS NULL THEN 0 "
    "ELSE CEIL(s.length_cm * s.width_cm * s.height_cm * 1000.0 / c.volumetric_divisor) / 1000.0 END)"
)
FLOOR_SQL = f"""
        CREATE TEMP TABLE bench_floor AS
        SELECT s.id AS shipment_id,
            ROUND(GREATEST(rl.base_price + CEIL(({_KG} - rl.weight_from_kg) * 1.0 / rl.additional_step_kg)
                  * rl.price_per_additional_kg, rl.minimum_charge), 2) AS freight
        FROM {SHIPMENT} s
        JOIN {Contract._meta.db_table} c ON c.vendor_id = s.vendor_id AND c.market_id = s.market_id
            AND c.service_level = s.service_level AND c.status = 'active'
        JOIN {ContractVersion._meta.db_table} v ON v.contract_id = c.id AND v.status = 'active'
        JOIN {RateLine._meta.db_table} rl ON rl.version_id = v.id AND rl.service_level = s.service_level
            AND rl.origin_zone = s.origin_zone AND rl.destination_zone = s.destination_zone
            AND rl.weight_from_kg < {_KG} AND {_KG} <= rl.weight_to_kg
        WHERE s.market_id = %(market)s AND s.ship_date <= %(business_date)s
    """


def measure(*, business_date) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_floor")
        # Warm the cache for both contestants alike.
        cursor.execute(f"SELECT COUNT(*) FROM {SHIPMENT} WHERE market_id = %s", [MARKET])
        with transaction.atomic():
            started = time.perf_counter()
            cursor.execute(FLOOR_SQL, {"market": MARKET, "business_date": business_date})
            seconds = time.perf_counter() - started
        cursor.execute("SELECT COUNT(*), SUM(freight) FROM bench_floor")
        count, total = cursor.fetchone()
        cursor.execute("DROP TABLE IF EXISTS bench_floor")
    return {"seconds": seconds, "count": count, "sum": Decimal(total or 0).quantize(Decimal("0.01"))}
