"""The floor: ONE hand-written set-based statement that computes and materialises the base charge
(freight) of every benchmark shipment — what a billing run cannot beat."""
from __future__ import annotations

import time
from decimal import Decimal

from django.db import connection, transaction

from . import MARKET


def _sql() -> str:
    postgres = connection.vendor == "postgresql"
    ceil = "CEIL" if postgres else "billing_ceil"
    rnd = "ROUND" if postgres else "billing_round"
    greatest = "GREATEST" if postgres else "MAX"
    kg = (f"{greatest}(s.actual_weight_kg, CASE WHEN s.length_cm IS NULL OR s.width_cm IS NULL OR s.height_cm IS NULL THEN 0 "
          f"ELSE {ceil}(s.length_cm * s.width_cm * s.height_cm * 1000.0 / c.volumetric_divisor) / 1000.0 END)")
    return f"""
        CREATE TEMP TABLE bench_floor AS
        SELECT s.id AS shipment_id,
            {rnd}({greatest}(rl.base_price + {ceil}(({kg} - rl.weight_from_kg) * 1.0 / rl.additional_step_kg)
                  * rl.price_per_additional_kg, rl.minimum_charge), 2) AS freight
        FROM billing_shipment s
        JOIN vendors_contract c ON c.vendor_id = s.vendor_id AND c.market_id = s.market_id
            AND c.service_level = s.service_level AND c.status = 'active'
        JOIN vendors_contractversion v ON v.contract_id = c.id AND v.status = 'active'
        JOIN vendors_rateline rl ON rl.version_id = v.id AND rl.service_level = s.service_level
            AND rl.origin_zone = s.origin_zone AND rl.destination_zone = s.destination_zone
            AND rl.weight_from_kg < {kg} AND {kg} <= rl.weight_to_kg
        WHERE s.market_id = %(market)s AND s.ship_date <= %(business_date)s
    """


def measure(*, business_date) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_floor")
        # Warm the cache for both contestants alike.
        cursor.execute("SELECT COUNT(*) FROM billing_shipment WHERE market_id = %s", [MARKET])
        with transaction.atomic():
            started = time.perf_counter()
            cursor.execute(_sql(), {"market": MARKET, "business_date": business_date})
            seconds = time.perf_counter() - started
        cursor.execute("SELECT COUNT(*), SUM(freight) FROM bench_floor")
        count, total = cursor.fetchone()
        cursor.execute("DROP TABLE IF EXISTS bench_floor")
    total = Decimal(format(total, ".15g")) if isinstance(total, float) else Decimal(total or 0)
    return {"seconds": seconds, "count": count, "sum": total.quantize(Decimal("0.01"))}
