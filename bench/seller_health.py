"""Seller health at volume: the nightly metrics of 10,000 sellers over 1M shipments in under 60 s
(`seller_metrics_s=`), with no per-seller loop (sellers.health.metrics: one INSERT ... SELECT for
the snapshots, one for the benchmarks), then the warnings (`seller_warnings_s=`).

Data in a benchmark market "ZH" (inactive), written set-based (INSERT ... SELECT generate_series)
and reused when a run finds it at the right size: shipments over the last 90 days in every status,
a custody event for nine in ten, a charge line each, an invoice per seller, tickets and
compensation requests for a few. QUICK uses a tenth of everything.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.db import connection, transaction

MARKET = "ZH"


def _prepare(sellers: int, shipments: int, business_date) -> float:
    from billing.models import ChargeLine, Shipment, ShipmentEvent
    from billing.receivables.models import Invoice
    from compensation.models import CompensationRequest
    from sellers.models import Seller
    from settlement_ops.models import Market
    from vendors.models import Vendor

    started = time.perf_counter()
    Market.objects.update_or_create(
        code=MARKET,
        defaults=dict(
            name="Seller health bench",
            currency="EUR",
            vat_standard_rate=19,
            timezone="Europe/Berlin",
            language="de",
            invoice_prefix="ZH",
            is_active=False,
        ),
    )
    vendor, _ = Vendor.objects.get_or_create(
        code="ZH-CARRIER", defaults=dict(market_id=MARKET, legal_name="Health bench carrier", vendor_type="last_mile")
    )
    _rules()
    have = Shipment.objects.filter(market_id=MARKET).count()
    have_sellers = Seller.objects.filter(market_id=MARKET).count()
    if have == shipments and have_sellers == sellers:
        return time.perf_counter() - started
    t = {
        "shipment": Shipment._meta.db_table,
        "event": ShipmentEvent._meta.db_table,
        "charge": ChargeLine._meta.db_table,
        "invoice": Invoice._meta.db_table,
        "request": CompensationRequest._meta.db_table,
        "seller": Seller._meta.db_table,
    }
    amounts = [c for c in ChargeLine.AMOUNT_COLUMNS if c != "seller_gross"]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {t['request']} WHERE market_id = %s", [MARKET])
        cursor.execute(f"DELETE FROM {t['invoice']} WHERE market_id = %s", [MARKET])
        cursor.execute(f"DELETE FROM {t['charge']} WHERE market_id = %s", [MARKET])
        cursor.execute(
            f"DELETE FROM {t['event']} WHERE shipment_id IN (SELECT id FROM {t['shipment']} WHERE market_id = %s)",
            [MARKET],
        )
        cursor.execute(f"DELETE FROM {t['shipment']} WHERE market_id = %s", [MARKET])
        cursor.execute("DELETE FROM sellers_sellermetricsnapshot WHERE market_id = %s", [MARKET])
        cursor.execute("DELETE FROM sellers_marketbenchmark WHERE market_id = %s", [MARKET])
        cursor.execute(
            f"DELETE FROM {t['seller']} s WHERE market_id = %s AND NOT EXISTS "
            "(SELECT 1 FROM sellers_ticket k WHERE k.seller_id = s.id) "
            "AND NOT EXISTS (SELECT 1 FROM sellers_healthwarning w WHERE w.seller_id = s.id)",
            [MARKET],
        )
        cursor.execute(
            f"""
            INSERT INTO {t["seller"]} (market_id, code, name, legal_name, vat_number, email, net_from_payout,
                                        status, created_at)
            SELECT %s, 'ZH-' || lpad(g::text, 6, '0'), 'Health seller ' || g, 'Health seller ' || g || ' GmbH', '',
                   'seller' || g || '@bench.example', false, 'active', now()
            FROM generate_series(1, %s) g
            ON CONFLICT (code) DO NOTHING
            """,
            [MARKET, sellers],
        )
        # Sellers get skewed volumes (g^2 spread) so every volume band has members.
        cursor.execute(
            f"""
            WITH s AS (SELECT array_agg(id ORDER BY id) ids FROM {t["seller"]} WHERE market_id = %(m)s)
            INSERT INTO {t["shipment"]} (market_id, vendor_id, seller_id, tracking_number, service_level,
                origin_zone, destination_zone, actual_weight_kg, cod_amount, ship_date, delivered_date, status,
                is_return, revision, created_at, updated_at)
            SELECT %(m)s, %(v)s,
                   s.ids[1 + floor(array_length(s.ids, 1) * power(((g::bigint * 7919) %% 1000003) / 1000003.0, 2))::int],
                   'ZH' || lpad(g::text, 9, '0'), 'standard', 'Z1', 'Z2', 1.5,
                   CASE WHEN g %% 5 = 0 THEN 25 ELSE 0 END,
                   %(d)s::date - (g %% 90),
                   CASE WHEN g %% 10 < 7 THEN %(d)s::date - (g %% 90) + (CASE WHEN g %% 90 > 2 THEN 2 ELSE 0 END) END,
                   (ARRAY['delivered','delivered','delivered','delivered','delivered','delivered','delivered',
                          'returned','lost','in_transit'])[1 + g %% 10],
                   g %% 10 = 7 OR g %% 23 = 0, 1, now(), now()
            FROM generate_series(1, %(n)s) g, s
            """,
            {"m": MARKET, "v": vendor.pk, "n": shipments, "d": business_date},
        )
        cursor.execute(
            f"""
            INSERT INTO {t["event"]} (shipment_id, status, occurred_at, received_at)
            SELECT id, 'picked_up', (ship_date + time '10:00' + (id %% 4) * interval '1 day') AT TIME ZONE 'UTC', now()
            FROM {t["shipment"]} WHERE market_id = %s AND id %% 10 <> 0
            """,
            [MARKET],
        )
        zeros = ", ".join("0" for _ in amounts)
        cursor.execute(
            f"""
            INSERT INTO {t["charge"]} (id, run_id, chunk_id, shipment_id, generation, kind, shipment_revision, market_id,
                vendor_id, seller_id, service_level, ship_date, currency, contract_version_id, rate_line_id,
                seller_fee_schedule_id, chargeable_weight_kg, seller_chargeable_weight_kg, {", ".join(amounts)},
                seller_gross, created_at)
            SELECT {ChargeLine.key_sql("id", "1")}, 0, 0, id, 1, 'original', 1, market_id, vendor_id, seller_id, service_level, ship_date, 'EUR',
                   0, 0, 0, 1.5, 1.5, {zeros}, 4.99 + (id %% 7), now()
            FROM {t["shipment"]} WHERE market_id = %s
            """,
            [MARKET],
        )
        cursor.execute(
            f"""
            INSERT INTO {t["invoice"]} (market_id, seller_id, kind, number, issue_date, due_date, currency, language,
                collection, net_total, vat_total, gross_total, amount_open, status, reason, dunning_level,
                created_at)
            SELECT %(m)s, id, 'invoice', 'ZH-INV-' || id, %(d)s::date - 40, %(d)s::date - (id %% 20)::int, 'EUR', 'de',
                   'bank', 100, 19, 119, CASE WHEN id %% 3 = 0 THEN 0 ELSE 119 END,
                   CASE WHEN id %% 3 = 0 THEN 'paid' ELSE 'open' END, '', 0, now()
            FROM {t["seller"]} WHERE market_id = %(m)s
            """,
            {"m": MARKET, "d": business_date},
        )
        cursor.execute(
            f"""
            INSERT INTO {t["request"]} (market_id, external_id, order_number, tracking_number, shipment_id,
                buyer_reference, instrument, reason, currency, amount, agent, team, issued_at, evidence, note,
                source, verdict, liable_party, liable_basis, liable_overridden, created_at)
            SELECT %(m)s, 'ZH-CR-' || id, 'ZH-O-' || id, tracking_number, id, 'b' || id, 'refund',
                   CASE WHEN id %% 2 = 0 THEN 'lost' ELSE 'damaged' END, 'EUR', 15, 'agent', '',
                   ship_date + time '15:00', '[]', '', 'api', 'pending', '', '', false, now()
            FROM {t["shipment"]} WHERE market_id = %(m)s AND id %% 50 = 0
            """,
            {"m": MARKET},
        )
        for table in t.values():
            cursor.execute(f"ANALYZE {table}")
    return time.perf_counter() - started


def _rules() -> None:
    """An active warning rule set for the bench market (written directly: two bench users, four eyes)."""
    from django.contrib.auth import get_user_model

    from sellers.models import WarningRuleSet

    if WarningRuleSet.objects.filter(market_id=MARKET, status="active").exists():
        return
    User = get_user_model()
    author, _ = User.objects.get_or_create(username="bench-health-author")
    approver, _ = User.objects.get_or_create(username="bench-health-approver")
    WarningRuleSet.objects.create(
        market_id=MARKET,
        version=1,
        status="active",
        params={"late_dispatch_p90_nights": 1},
        author=author,
        approved_by=approver,
    )


def measure(*, sellers: int, shipments: int) -> dict:
    from sellers.health import metrics, rules
    from sellers.models import Seller
    from settlement_ops.models import Market

    market = Market.objects.filter(is_active=True).first()
    business_date = (market.local_date() if market else None) or __import__("datetime").date.today()
    business_date -= timedelta(days=1)
    prepare_s = _prepare(sellers, shipments, business_date)
    zh = Market.objects.get(code=MARKET)
    # Sellers with tickets or warnings of an earlier, bigger run stay (they are referenced): every
    # seller of the market gets its snapshots, not just this run's.
    market_sellers = Seller.objects.filter(market=zh).count()
    started = time.perf_counter()
    counts = metrics.compute_night(market=zh, business_date=business_date)
    metrics_s = time.perf_counter() - started
    started = time.perf_counter()
    warned = rules.warnings_refresh(market=zh, business_date=business_date)
    warnings_s = time.perf_counter() - started
    return {
        "seller_metrics_s": round(metrics_s, 2),
        "seller_warnings_s": round(warnings_s, 2),
        "seller_metrics_snapshots": counts["snapshots"],
        "seller_metrics_sellers": market_sellers,
        "seller_metrics_benchmarks": counts["benchmarks"],
        "seller_metrics_prepare_s": round(prepare_s, 1),
        "seller_warnings_open": warned.get("open_warnings", 0),
    }


def section(args, ctx: dict, results: dict) -> bool:
    scale = 0.1 if args.quick else 1.0
    sellers, shipments = int(10_000 * scale), int(1_000_000 * scale)
    print(f"Seller health: {sellers:,} sellers, {shipments:,} shipments; nightly metrics", flush=True)
    figures = measure(sellers=sellers, shipments=shipments)
    results.update(figures)
    print(
        f"  seller_metrics_s={figures['seller_metrics_s']} (goal < 60 s; {figures['seller_metrics_snapshots']:,} "
        f"snapshots, {figures['seller_metrics_benchmarks']:,} benchmarks), "
        f"seller_warnings_s={figures['seller_warnings_s']}; data ready in {figures['seller_metrics_prepare_s']} s\n"
    )
    # Three snapshots (windows) per seller of the market; the time goal is reported, not checked.
    return figures["seller_metrics_snapshots"] == figures["seller_metrics_sellers"] * 3
