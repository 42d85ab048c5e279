"""Compensation-audit benchmark: 100,000 requests audited set-based, against a floor.

Run alone:  python -m bench.compensation [--requests 100000]
Or from the billing bench: `from bench import compensation; results.update(compensation.measure(requests=N))`.

1. Data: a benchmark market "ZC" (inactive, GBP, UTC) of its own — so the billing bench's market
   ZZ and its resets are never touched — with one carrier (contract: on time in 2 days), one
   seller, an active audit policy (the default attributes plus a cap and agent limits), N/2
   shipments with pickup and delivery/loss events, and N pending requests, all written by
   INSERT ... SELECT over a number series (no rows travel through Python). Every 50th request
   repeats an order and reason (duplicate), every 7th names a parcel we do not know.
2. Floor: ONE statement (CREATE TEMP TABLE ... AS SELECT) that joins every request to its
   shipment's events, the contract promise and the earlier request of the same order and reason,
   and decides eligibility and duplicate — the least work an audit must do.
3. Audit: `compensation.services.audit_run` (facts, six attributes with sentences, verdicts,
   liable party, the ledger entry; one transaction), timed to its commit.
4. Check: every request audited with one result per attribute, and the audit's eligibility
   failures and duplicates equal the floor's.
5. Clean-up: the requests, results and shipments of ZC are deleted (ledger entries stay).
Prints compensation_audit_per_s=…, compensation_floor_per_s=…, compensation_audit_vs_floor_ratio=…
(audit / floor time), compensation_audit_s=… and compensation_totals_agree=….
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settlement_ops.settings.base")

MARKET = "ZC"
D = Decimal


def _tables() -> dict[str, str]:
    from billing.models import Shipment, ShipmentEvent
    from compensation.models import AuditResult, AuditRun, CompensationRequest, QaSample
    from vendors.models import Contract

    return {
        "req": CompensationRequest._meta.db_table,
        "result": AuditResult._meta.db_table,
        "run": AuditRun._meta.db_table,
        "sample": QaSample._meta.db_table,
        "shipment": Shipment._meta.db_table,
        "event": ShipmentEvent._meta.db_table,
        "contract": Contract._meta.db_table,
    }


def _masters():
    """Market ZC, a carrier with an active contract (on time in 2 days), a seller, an active policy."""
    from django.contrib.auth.models import User

    from compensation import services
    from compensation.models import AuditPolicy, QualityAttribute
    from sellers.models import Seller
    from settlement_ops.models import Market
    from vendors.models import Contract, Vendor

    market, _ = Market.objects.get_or_create(
        code=MARKET,
        defaults=dict(
            name="Compensation benchmark",
            currency="GBP",
            vat_standard_rate=D("20.00"),
            timezone="UTC",
            language="en",
            invoice_prefix="ZC",
            is_active=False,
        ),
    )
    author, _ = User.objects.get_or_create(username="bench-compensation-author")
    approver, _ = User.objects.get_or_create(username="bench-compensation-approver")
    vendor, _ = Vendor.objects.get_or_create(
        code="V-ZC-BENCH",
        defaults=dict(market=market, legal_name="Bench Carrier Ltd", vendor_type=Vendor.Type.LAST_MILE),
    )
    seller, _ = Seller.objects.get_or_create(
        code="S-ZC-BENCH", defaults=dict(market=market, name="Bench Seller", legal_name="Bench Seller Ltd")
    )
    today = market.local_date()
    Contract.objects.get_or_create(
        reference="C-ZC-BENCH",
        defaults=dict(
            vendor=vendor,
            market=market,
            service_level="standard",
            currency="GBP",
            valid_from=today - timedelta(days=400),
            status=Contract.Status.ACTIVE,
            author=author,
            approved_by=approver,
            on_time_days=2,
            late_refund_percent=D("100"),
        ),
    )
    if not AuditPolicy.objects.filter(market=market, status=AuditPolicy.Status.ACTIVE).exists():
        draft = services.policy_draft_create(actor=author, market=market)
        services.policy_attribute_save(
            actor=author,
            policy=draft,
            code=QualityAttribute.Code.AMOUNT_CAP,
            description="Caps",
            params={"caps": {"*:*": {"max_percent": "100"}, "*:cash": {"max_amount": "60"}}},
            severity=QualityAttribute.Severity.HARD,
        )
        services.policy_attribute_save(
            actor=author,
            policy=draft,
            code=QualityAttribute.Code.AGENT_LIMIT,
            description="Agent limits",
            params={"default": "50", "agents": {"agent-3": "500"}},
            severity=QualityAttribute.Severity.SOFT,
        )
        services.policy_activate(actor=approver, policy=draft)
    return market, vendor, seller


def _reset(cursor, t) -> None:
    cursor.execute(f"DELETE FROM {t['sample']} WHERE market_id = %s", [MARKET])
    cursor.execute(
        f"DELETE FROM {t['result']} WHERE request_id IN (SELECT id FROM {t['req']} WHERE market_id = %s)", [MARKET]
    )
    cursor.execute(f"DELETE FROM {t['req']} WHERE market_id = %s", [MARKET])
    cursor.execute(f"DELETE FROM {t['run']} WHERE market_id = %s", [MARKET])
    cursor.execute(
        f"DELETE FROM {t['event']} WHERE shipment_id IN (SELECT id FROM {t['shipment']} WHERE market_id = %s)",
        [MARKET],
    )
    cursor.execute(f"DELETE FROM {t['shipment']} WHERE market_id = %s", [MARKET])


def _generate(cursor, t, *, requests: int, vendor_id: int, seller_id: int, today) -> None:
    shipments = max(1, requests // 2)
    params = {"n": requests, "s": shipments, "market": MARKET, "vendor": vendor_id, "seller": seller_id, "d": today}
    sql = f"""
        INSERT INTO {t["shipment"]} (market_id, vendor_id, seller_id, tracking_number, service_level, origin_zone,
            destination_zone, actual_weight_kg, cod_amount, ship_date, status, is_return, revision, created_at,
            updated_at)
        SELECT %(market)s, %(vendor)s, %(seller)s, 'ZC' || g.i, 'standard', 'A', 'B', 1.000, 0,
               CAST(%(d)s AS DATE) - 20 + CAST(g.i % 10 AS INTEGER),
               CASE WHEN g.i % 9 = 0 THEN 'lost' ELSE 'delivered' END, FALSE, 1, NOW(), NOW()
        FROM generate_series(1, %(s)s) AS g(i)
    """
    cursor.execute(sql.replace(" % ", " %% "), params)
    events = f"""
        INSERT INTO {t["event"]} (shipment_id, status, occurred_at, received_at)
        SELECT s.id, e.status, CAST(s.ship_date AS TIMESTAMP) AT TIME ZONE 'UTC' + e.after, NOW()
        FROM {t["shipment"]} s
        CROSS JOIN LATERAL (VALUES
            ('picked_up', INTERVAL '9 hours'),
            (CASE WHEN s.status = 'lost' THEN 'lost' ELSE 'delivered' END,
             INTERVAL '9 hours' + (1 + CAST(SUBSTRING(s.tracking_number FROM 3) AS INTEGER) %% 4) * INTERVAL '1 day')
        ) AS e(status, after)
        WHERE s.market_id = %(market)s AND CAST(SUBSTRING(s.tracking_number FROM 3) AS INTEGER) %% 13 <> 0
    """
    cursor.execute(events, params)
    reasons = "ARRAY['lost','damaged','late_delivery','wrong_item','missing_item','failed_delivery','other']"
    instruments = "ARRAY['voucher','coupon','refund','cash']"
    requests_sql = f"""
        INSERT INTO {t["req"]} (market_id, external_id, order_number, tracking_number, shipment_id, buyer_reference,
            instrument, reason, currency, amount, item_value, agent, team, issued_at, evidence, note, source,
            verdict, liable_party, liable_basis, liable_overridden, created_at)
        SELECT %(market)s, 'BR' || g.i,
               'O' || CASE WHEN g.i % 50 = 0 THEN g.i - 1 ELSE g.i END,
               CASE WHEN g.i % 7 = 0 THEN 'NOPE' || g.i ELSE 'ZC' || (1 + g.i % %(s)s) END,
               CASE WHEN g.i % 7 = 0 THEN NULL ELSE s.id END,
               'B-' || md5(CAST(g.i AS TEXT)),
               ({instruments})[1 + g.i % 4],
               CASE WHEN g.i % 50 = 0 THEN ({reasons})[1 + (g.i - 1) % 7] ELSE ({reasons})[1 + g.i % 7] END,
               'GBP', 5 + g.i % 60, 20 + g.i % 80, 'agent-' || g.i % 5, 'sdt',
               CAST(%(d)s AS DATE) - 5 + (g.i % 240) * INTERVAL '1 minute',
               CASE WHEN g.i % 3 = 0 THEN '[]'::jsonb ELSE '["photo"]'::jsonb END, '', 'bench',
               'pending', '', '', FALSE, NOW()
        FROM generate_series(1, %(n)s) AS g(i)
        LEFT JOIN {t["shipment"]} s ON s.market_id = %(market)s AND s.tracking_number = 'ZC' || (1 + g.i % %(s)s)
    """
    cursor.execute(requests_sql.replace(" % ", " %% "), params)
    for table in ("shipment", "event", "req"):
        cursor.execute(f"ANALYZE {t[table]}")


def _floor_sql(t) -> str:
    return f"""
CREATE TEMP TABLE compensation_bench_floor AS
SELECT r.id,
       (r.reason IN ('lost', 'damaged') AND r.shipment_id IS NOT NULL AND ev.custody IS NOT TRUE)
         OR (r.reason = 'late_delivery' AND r.shipment_id IS NOT NULL
             AND (ev.delivered IS NULL OR ev.delivered - s.ship_date <= COALESCE(c.on_time_days, 3))) AS ineligible,
       EXISTS (SELECT 1 FROM {t["req"]} r2 WHERE r2.market_id = r.market_id AND r2.order_number = r.order_number
               AND r2.reason = r.reason AND (r2.issued_at, r2.id) < (r.issued_at, r.id)) AS duplicate
FROM {t["req"]} r
LEFT JOIN {t["shipment"]} s ON s.id = r.shipment_id
LEFT JOIN (SELECT shipment_id, bool_or(status IN ('picked_up', 'in_transit', 'lost', 'damaged', 'delivered')) AS custody,
                  (MAX(occurred_at) FILTER (WHERE status = 'delivered') AT TIME ZONE 'UTC')::date AS delivered
           FROM {t["event"]} GROUP BY shipment_id) ev ON ev.shipment_id = r.shipment_id
LEFT JOIN {t["contract"]} c ON c.vendor_id = s.vendor_id AND c.service_level = s.service_level
WHERE r.market_id = %(market)s AND r.verdict = 'pending'
"""


def measure(*, requests: int = 100_000) -> dict:
    import django

    django.setup()
    from django.db import DatabaseError, connection, transaction

    from compensation.models import AuditResult
    from compensation.services import audit_run

    t = _tables()
    market, vendor, seller = _masters()
    with transaction.atomic(), connection.cursor() as cursor:
        _reset(cursor, t)
        _generate(cursor, t, requests=requests, vendor_id=vendor.pk, seller_id=seller.pk, today=market.local_date())
    with connection.cursor() as cursor:
        # As the billing bench does: fresh statistics, and the generator's writes flushed now, so
        # the checkpoint they call for does not fall due inside whichever contestant runs next.
        for table in ("shipment", "event", "req", "result"):
            cursor.execute(f"VACUUM ANALYZE {t[table]}")
        with contextlib.suppress(DatabaseError):
            cursor.execute("CHECKPOINT")

    with transaction.atomic(), connection.cursor() as cursor:
        start = time.perf_counter()
        cursor.execute(_floor_sql(t), {"market": MARKET})
        floor_s = time.perf_counter() - start
        cursor.execute(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE ineligible), COUNT(*) FILTER (WHERE duplicate) "
            "FROM compensation_bench_floor"
        )
        floor_count, floor_ineligible, floor_duplicates = cursor.fetchone()
        cursor.execute("DROP TABLE compensation_bench_floor")

    start = time.perf_counter()
    run = audit_run(market=market)
    audit_s = time.perf_counter() - start

    results = AuditResult.objects.filter(request__market_id=MARKET)
    attributes = run.policy.attributes.count()
    ineligible = results.filter(attribute__code="eligibility", outcome="fail").count()
    duplicates = results.filter(attribute__code="duplicate", outcome="fail").count()
    agree = (
        run.audited == floor_count == requests
        and results.count() == requests * attributes
        and ineligible == floor_ineligible
        and duplicates == floor_duplicates
    )
    figures = {
        "compensation_requests": requests,
        "compensation_audit_s": round(audit_s, 3),
        "compensation_floor_s": round(floor_s, 3),
        "compensation_audit_per_s": round(requests / audit_s) if audit_s else 0,
        "compensation_floor_per_s": round(requests / floor_s) if floor_s else 0,
        "compensation_audit_vs_floor_ratio": round(audit_s / floor_s, 2) if floor_s else 0,
        "compensation_compliant": run.compliant,
        "compensation_non_compliant": run.non_compliant,
        "compensation_needs_review": run.needs_review,
        "compensation_totals_agree": agree,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        _reset(cursor, t)
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compensation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args(argv)
    from bench import open_own_database

    open_own_database()
    figures = measure(requests=args.requests)
    print(
        f"Compensation audit of {args.requests:,} requests: {figures['compensation_audit_s']:.2f}s "
        f"({figures['compensation_audit_per_s']:,}/s), floor {figures['compensation_floor_s']:.2f}s "
        f"({figures['compensation_floor_per_s']:,}/s), audit / floor = {figures['compensation_audit_vs_floor_ratio']}x"
    )
    for key, value in figures.items():
        print(f"{key}={value}")
    return 0 if figures["compensation_totals_agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
