"""The nightly seller metrics, set-based: one INSERT ... SELECT per market and night writes every
seller's 7/30/90-day snapshot, a second writes the market benchmarks (p50/p90 per metric, window
and volume band, percentile_cont). No per-seller loop. Rerunning a night replaces its rows.

Definitions (window W ending on business date D: ship date in (D - W, D], in the market's days):
- late dispatch: the first carrier-custody event (picked_up / in_transit) falls more than the
  market's dispatch days (the active compensation policy's `dispatch_days`, else 1) after the ship
  date; a parcel still "created" past that allowance counts as late too. Parcels with a later
  status but no custody event are not known to be late and count as on time.
- delivery success: status delivered. Return: ever returned (is_return) or status returned.
  Failed delivery: returned to the seller without ever being delivered (no delivered date).
- lost / damaged: status lost or damaged, or a compensation request for that reason.
- COD failure: COD parcels (cod_amount > 0) that ended returned, lost or damaged.
- average fee: the seller's gross logistics fee (charge lines, deltas included) per rated parcel.
- overdue AR: open invoice amounts past due on D; DSO = open AR / invoiced gross in W x W days.
- chargebacks per 100: seller chargebacks (not reversed) raised in W per 100 orders; compensation
  cost per 100: compensation paid to buyers in W on the seller's parcels per 100 orders.
- ticket rate: desk tickets opened in W per 100 orders; CSAT: mean rating of those tickets.
Rates are percentages with two decimals; money is in the market currency, rounded half-up once.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.apps import apps
from django.db import connection, transaction

from settlement_ops.models import Market
from settlement_ops.money import minor_units

from ..models import MarketBenchmark, Seller, SellerMetricSnapshot, Ticket


def _table(app_label: str, model: str) -> str:
    # The apps above sellers are read by table name: sellers sits below them (no upward import).
    return apps.get_model(app_label, model)._meta.db_table


WINDOWS = (7, 30, 90)
# Volume bands by orders in the last 30 days (VolumeBand); every window of a seller shares its band.
SMALL_BELOW, LARGE_FROM = 50, 500

RATE_METRICS = [
    "late_dispatch_rate",
    "delivery_success_rate",
    "return_rate",
    "failed_delivery_rate",
    "lost_damaged_rate",
    "cod_failure_rate",
    "chargebacks_per_100",
    "ticket_rate_per_100",
]
MONEY_METRICS = ["avg_fee_per_parcel", "overdue_ar", "compensation_cost_per_100"]
METRICS = ["orders_shipped", *RATE_METRICS, *MONEY_METRICS, "dso_days", "csat"]
# Metrics where a higher value is worse (warnings, plan outcomes, percentile position).
HIGHER_IS_WORSE = set(METRICS) - {"orders_shipped", "delivery_success_rate", "csat"}

_SNAPSHOT_SQL = """
WITH win(w) AS (VALUES (7), (30), (90)),
ship AS MATERIALIZED (
    SELECT s.id, s.seller_id, s.ship_date, s.status, s.is_return, s.cod_amount > 0 AS cod, s.delivered_date
    FROM {shipment} s
    WHERE s.market_id = %(m)s AND s.ship_date > %(d)s::date - 90 AND s.ship_date <= %(d)s
),
picked AS (
    SELECT e.shipment_id, (MIN(e.occurred_at) AT TIME ZONE %(tz)s)::date AS picked_date
    FROM {event} e
    WHERE e.status IN ('picked_up', 'in_transit') AND e.shipment_id IN (SELECT id FROM ship)
    GROUP BY e.shipment_id
),
lost AS (
    SELECT DISTINCT r.shipment_id FROM {request} r
    WHERE r.market_id = %(m)s AND r.reason IN ('lost', 'damaged') AND r.shipment_id IS NOT NULL
),
fees AS (
    SELECT c.shipment_id, SUM(c.seller_gross) AS fee FROM {charge} c
    WHERE c.market_id = %(m)s AND c.ship_date > %(d)s::date - 90 AND c.ship_date <= %(d)s
    GROUP BY c.shipment_id
),
facts AS (
    SELECT sh.seller_id, sh.ship_date, sh.cod, f.fee,
           CASE WHEN p.picked_date IS NOT NULL THEN p.picked_date - sh.ship_date > %(dispatch)s
                ELSE sh.status = 'created' AND %(d)s::date - sh.ship_date > %(dispatch)s END AS late,
           sh.status = 'delivered' AS delivered,
           sh.is_return OR sh.status = 'returned' AS returned,
           sh.status = 'returned' AND sh.delivered_date IS NULL AS failed,
           sh.status IN ('lost', 'damaged') OR l.shipment_id IS NOT NULL AS lost_damaged,
           sh.status IN ('returned', 'lost', 'damaged') AS undelivered_end
    FROM ship sh
    LEFT JOIN picked p ON p.shipment_id = sh.id
    LEFT JOIN lost l ON l.shipment_id = sh.id
    LEFT JOIN fees f ON f.shipment_id = sh.id
),
sagg AS (
    SELECT f.seller_id, w.w, COUNT(*) AS orders,
           COUNT(*) FILTER (WHERE f.late) AS late_n,
           COUNT(*) FILTER (WHERE f.delivered) AS delivered_n,
           COUNT(*) FILTER (WHERE f.returned) AS returned_n,
           COUNT(*) FILTER (WHERE f.failed) AS failed_n,
           COUNT(*) FILTER (WHERE f.lost_damaged) AS lost_n,
           COUNT(*) FILTER (WHERE f.cod) AS cod_n,
           COUNT(*) FILTER (WHERE f.cod AND f.undelivered_end) AS cod_failed_n,
           SUM(f.fee) AS fee_sum, COUNT(f.fee) AS fee_n
    FROM facts f JOIN win w ON f.ship_date > %(d)s::date - w.w
    GROUP BY f.seller_id, w.w
),
comp AS (
    SELECT s.seller_id, w.w, SUM(r.amount) AS cost
    FROM {request} r JOIN {shipment} s ON s.id = r.shipment_id
    JOIN win w ON (r.issued_at AT TIME ZONE %(tz)s)::date > %(d)s::date - w.w
    WHERE r.market_id = %(m)s AND r.issued_at < %(end)s AND r.issued_at >= %(end)s - interval '91 days'
      AND (r.issued_at AT TIME ZONE %(tz)s)::date <= %(d)s
    GROUP BY s.seller_id, w.w
),
cb AS (
    SELECT c.seller_id, w.w, COUNT(*) AS n
    FROM {chargeback} c JOIN win w ON (c.created_at AT TIME ZONE %(tz)s)::date > %(d)s::date - w.w
    WHERE c.market_id = %(m)s AND c.party = 'seller' AND c.status <> 'reversed'
      AND c.created_at < %(end)s AND c.created_at >= %(end)s - interval '91 days'
    GROUP BY c.seller_id, w.w
),
tk AS (
    SELECT t.seller_id, w.w, COUNT(*) AS n, AVG(t.csat_rating) AS csat
    FROM {ticket} t JOIN win w ON (t.created_at AT TIME ZONE %(tz)s)::date > %(d)s::date - w.w
    WHERE t.market_id = %(m)s AND t.merged_into_id IS NULL
      AND t.created_at < %(end)s AND t.created_at >= %(end)s - interval '91 days'
    GROUP BY t.seller_id, w.w
),
ar AS (
    SELECT i.seller_id,
           SUM(i.amount_open) FILTER (WHERE i.due_date < %(d)s) AS overdue,
           SUM(i.amount_open) AS open_ar
    FROM {invoice} i
    WHERE i.market_id = %(m)s AND i.kind = 'invoice' AND i.status IN ('open', 'partially_paid')
    GROUP BY i.seller_id
),
sales AS (
    SELECT i.seller_id, w.w, SUM(i.gross_total) AS gross
    FROM {invoice} i JOIN win w ON i.issue_date > %(d)s::date - w.w
    WHERE i.market_id = %(m)s AND i.kind = 'invoice' AND i.issue_date <= %(d)s
      AND i.issue_date > %(d)s::date - 90
    GROUP BY i.seller_id, w.w
),
rows AS (
    SELECT se.id AS seller_id, w.w, COALESCE(a.orders, 0) AS orders, a.late_n, a.delivered_n, a.returned_n,
           a.failed_n, a.lost_n, a.cod_n, a.cod_failed_n, a.fee_sum, a.fee_n,
           comp.cost, cb.n AS cb_n, tk.n AS tk_n, tk.csat, ar.overdue, ar.open_ar, sales.gross,
           MAX(CASE WHEN w.w = 30 THEN COALESCE(a.orders, 0) END) OVER (PARTITION BY se.id) AS orders_30
    FROM {seller} se CROSS JOIN win w
    LEFT JOIN sagg a ON a.seller_id = se.id AND a.w = w.w
    LEFT JOIN comp ON comp.seller_id = se.id AND comp.w = w.w
    LEFT JOIN cb ON cb.seller_id = se.id AND cb.w = w.w
    LEFT JOIN tk ON tk.seller_id = se.id AND tk.w = w.w
    LEFT JOIN ar ON ar.seller_id = se.id
    LEFT JOIN sales ON sales.seller_id = se.id AND sales.w = w.w
    WHERE se.market_id = %(m)s AND se.status <> 'closed'
)
INSERT INTO {snapshot} (
    seller_id, market_id, business_date, window_days, volume_band, currency, orders_shipped,
    late_dispatch_rate, delivery_success_rate, return_rate, failed_delivery_rate, lost_damaged_rate,
    cod_failure_rate, avg_fee_per_parcel, overdue_ar, dso_days, chargebacks_per_100,
    compensation_cost_per_100, ticket_rate_per_100, csat
)
SELECT r.seller_id, %(m)s, %(d)s, r.w,
       CASE WHEN r.orders_30 < {small_below} THEN 'small' WHEN r.orders_30 < {large_from} THEN 'medium'
            ELSE 'large' END,
       %(currency)s, r.orders,
       ROUND(100.0 * r.late_n / NULLIF(r.orders, 0), 2),
       ROUND(100.0 * r.delivered_n / NULLIF(r.orders, 0), 2),
       ROUND(100.0 * r.returned_n / NULLIF(r.orders, 0), 2),
       ROUND(100.0 * r.failed_n / NULLIF(r.orders, 0), 2),
       ROUND(100.0 * r.lost_n / NULLIF(r.orders, 0), 2),
       ROUND(100.0 * r.cod_failed_n / NULLIF(r.cod_n, 0), 2),
       ROUND(r.fee_sum / NULLIF(r.fee_n, 0), {places}),
       ROUND(COALESCE(r.overdue, 0), {places}),
       ROUND(COALESCE(r.open_ar, 0) / NULLIF(r.gross, 0) * r.w, 1),
       ROUND(100.0 * COALESCE(r.cb_n, 0) / NULLIF(r.orders, 0), 2),
       ROUND(100 * COALESCE(r.cost, 0) / NULLIF(r.orders, 0), {places}),
       ROUND(100.0 * COALESCE(r.tk_n, 0) / NULLIF(r.orders, 0), 2),
       ROUND(r.csat, 2)
FROM rows r
"""

# One row per (window, band, metric) from the night's snapshots; rates only over sellers with orders.
_BENCHMARK_SQL = """
INSERT INTO {benchmark} (market_id, business_date, window_days, volume_band, metric, sellers, p50, p90)
SELECT %(m)s, %(d)s, s.window_days, s.volume_band, v.metric, COUNT(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY v.value),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY v.value)
FROM {snapshot} s
CROSS JOIN LATERAL (VALUES {values}) AS v(metric, value)
WHERE s.market_id = %(m)s AND s.business_date = %(d)s AND s.orders_shipped > 0 AND v.value IS NOT NULL
GROUP BY s.window_days, s.volume_band, v.metric
"""


def _tables() -> dict:
    return {
        "shipment": _table("billing", "Shipment"),
        "event": _table("billing", "ShipmentEvent"),
        "request": _table("compensation", "CompensationRequest"),
        "charge": _table("billing", "ChargeLine"),
        "chargeback": _table("compensation", "Chargeback"),
        "ticket": Ticket._meta.db_table,
        "invoice": _table("receivables", "Invoice"),
        "seller": Seller._meta.db_table,
        "snapshot": SellerMetricSnapshot._meta.db_table,
        "benchmark": MarketBenchmark._meta.db_table,
    }


def dispatch_days(market: Market) -> int:
    """The market's handover allowance: the active compensation policy's, else one day."""
    AuditPolicy = apps.get_model("compensation", "AuditPolicy")
    policy = AuditPolicy.objects.filter(market=market, status=AuditPolicy.Status.ACTIVE).first()
    return policy.dispatch_days if policy else 1


@transaction.atomic
def compute_night(*, market: Market, business_date: date) -> dict:
    """Write the night's snapshots and benchmarks of one market (replacing any earlier run of it)."""
    tables = _tables()
    places = minor_units(market.currency)
    params = {
        "m": market.code,
        "d": business_date,
        "tz": market.timezone,
        # The end of the business date in the market's time: timestamps are compared in range first.
        "end": datetime.combine(business_date + timedelta(days=1), time(0), tzinfo=market.tz),
        "dispatch": dispatch_days(market),
        "currency": market.currency,
    }
    values = ", ".join(f"('{name}', s.{name}::numeric)" for name in METRICS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {tables['benchmark']} WHERE market_id = %s AND business_date = %s",
            [market.code, business_date],
        )
        cursor.execute(
            f"DELETE FROM {tables['snapshot']} WHERE market_id = %s AND business_date = %s",
            [market.code, business_date],
        )
        cursor.execute(
            _SNAPSHOT_SQL.format(**tables, places=places, small_below=SMALL_BELOW, large_from=LARGE_FROM), params
        )
        snapshots = cursor.rowcount
        cursor.execute(_BENCHMARK_SQL.format(**tables, values=values), params)
        benchmarks = cursor.rowcount
    return {"snapshots": snapshots, "benchmarks": benchmarks}
