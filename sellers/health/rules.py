"""Early warnings from the night's snapshots, set-based per market under its active rule set.

Each rule is one SELECT giving (seller, rule, severity, metric, value, previous value, benchmark) for
the sellers it hits tonight. `warnings_refresh` then keeps ONE open warning per seller and rule:
an open one is updated (last seen, nights seen, values), a new hit opens one, and an open warning
whose condition cleared tonight is closed. Rerunning a night changes nothing further.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.db import connection, transaction

from settlement_ops.models import Market

from ..models import HealthWarning, MarketBenchmark, SellerMetricSnapshot, WarningRuleSet

# The parameters a new rule set starts from; every rule set stores its own full copy.
DEFAULT_PARAMS = {
    # late dispatch (7-day window) above the market p90 of its volume band on each of N nights
    "late_dispatch_p90_nights": 7,
    # week-over-week rise of the 7-day late-dispatch rate, in percentage points
    "late_dispatch_wow_pp": "5",
    # 7-day return rate at least this many times last week's (and at least min_orders orders)
    "return_rate_factor": "2",
    "min_orders": 10,
    # overdue AR (market currency) at or above this amount
    "overdue_ar_threshold": "1000",
    # compensation cost per order (30-day window, market currency) above this cap
    "compensation_cost_cap": "2",
}

RULES = {
    "late_dispatch_p90": "Late dispatch above the market p90",
    "late_dispatch_wow": "Late dispatch rising week over week",
    "return_rate_doubling": "Return rate doubling",
    "overdue_ar": "Overdue receivables above the threshold",
    "compensation_cost": "Compensation cost per order above the cap",
}

_HITS_SQL = """
WITH now_ AS (SELECT * FROM {snapshot} WHERE market_id = %(m)s AND business_date = %(d)s),
week_ago AS (SELECT * FROM {snapshot} WHERE market_id = %(m)s AND business_date = %(d_week)s AND window_days = 7),
p90_nights AS (
    SELECT s.seller_id, COUNT(*) AS nights, MAX(b.p90) FILTER (WHERE s.business_date = %(d)s) AS p90
    FROM {snapshot} s
    JOIN {benchmark} b ON b.market_id = s.market_id AND b.business_date = s.business_date
         AND b.window_days = 7 AND b.volume_band = s.volume_band AND b.metric = 'late_dispatch_rate'
    WHERE s.market_id = %(m)s AND s.window_days = 7 AND s.business_date > %(d)s::date - %(p90_nights)s
      AND s.business_date <= %(d)s AND s.late_dispatch_rate > b.p90
    GROUP BY s.seller_id
)
SELECT n.seller_id, 'late_dispatch_p90', 'high', 'late_dispatch_rate', n.late_dispatch_rate, w.late_dispatch_rate,
       p.p90
FROM now_ n JOIN p90_nights p ON p.seller_id = n.seller_id
LEFT JOIN week_ago w ON w.seller_id = n.seller_id
WHERE n.window_days = 7 AND p.nights >= %(p90_nights)s
UNION ALL
SELECT n.seller_id, 'late_dispatch_wow', 'medium', 'late_dispatch_rate', n.late_dispatch_rate, w.late_dispatch_rate,
       NULL
FROM now_ n JOIN week_ago w ON w.seller_id = n.seller_id
WHERE n.window_days = 7 AND n.late_dispatch_rate - w.late_dispatch_rate > %(wow_pp)s
UNION ALL
SELECT n.seller_id, 'return_rate_doubling', 'medium', 'return_rate', n.return_rate, w.return_rate, NULL
FROM now_ n JOIN week_ago w ON w.seller_id = n.seller_id
WHERE n.window_days = 7 AND n.orders_shipped >= %(min_orders)s AND w.return_rate > 0
  AND n.return_rate >= w.return_rate * %(return_factor)s
UNION ALL
SELECT n.seller_id, 'overdue_ar', 'high', 'overdue_ar', n.overdue_ar, w.overdue_ar, %(ar_threshold)s
FROM now_ n LEFT JOIN week_ago w ON w.seller_id = n.seller_id
WHERE n.window_days = 30 AND n.overdue_ar >= %(ar_threshold)s
UNION ALL
SELECT n.seller_id, 'compensation_cost', 'medium', 'compensation_cost_per_100', n.compensation_cost_per_100,
       NULL, %(comp_cap)s * 100
FROM now_ n
WHERE n.window_days = 30 AND n.compensation_cost_per_100 > %(comp_cap)s * 100
"""

_REFRESH_SQL = """
CREATE TEMP TABLE health_hits (seller_id bigint, rule_code text, severity text, metric text, value numeric,
                               previous_value numeric, benchmark numeric) ON COMMIT DROP;
INSERT INTO health_hits {hits};
UPDATE {warning} w SET last_seen_on = %(d)s, nights_seen = w.nights_seen + 1, value = h.value,
       previous_value = h.previous_value, benchmark = h.benchmark, severity = h.severity, rule_set_id = %(rs)s
FROM health_hits h
WHERE w.state = 'open' AND w.seller_id = h.seller_id AND w.rule_code = h.rule_code AND w.last_seen_on < %(d)s;
INSERT INTO {warning} (seller_id, market_id, rule_code, rule_set_id, severity, metric, value, previous_value,
                       benchmark, state, first_seen_on, last_seen_on, nights_seen)
SELECT h.seller_id, %(m)s, h.rule_code, %(rs)s, h.severity, h.metric, h.value, h.previous_value, h.benchmark,
       'open', %(d)s, %(d)s, 1
FROM health_hits h
WHERE NOT EXISTS (SELECT 1 FROM {warning} w WHERE w.state = 'open' AND w.seller_id = h.seller_id
                  AND w.rule_code = h.rule_code);
UPDATE {warning} w SET state = 'closed', closed_on = %(d)s
WHERE w.market_id = %(m)s AND w.state = 'open' AND w.last_seen_on < %(d)s
  AND NOT EXISTS (SELECT 1 FROM health_hits h WHERE h.seller_id = w.seller_id AND h.rule_code = w.rule_code);
"""


def active_rule_set(market: Market) -> WarningRuleSet | None:
    return WarningRuleSet.objects.filter(market=market, status=WarningRuleSet.Status.ACTIVE).first()


@transaction.atomic
def warnings_refresh(*, market: Market, business_date: date) -> dict:
    """Open, update and close the market's warnings for the night; nothing without an active rule set."""
    rule_set = active_rule_set(market)
    if rule_set is None:
        return {"skipped": "no active warning rules"}
    p = {**DEFAULT_PARAMS, **rule_set.params}
    params = {
        "m": market.code,
        "d": business_date,
        "d_week": business_date - timedelta(days=7),
        "rs": rule_set.pk,
        "p90_nights": int(p["late_dispatch_p90_nights"]),
        "wow_pp": Decimal(str(p["late_dispatch_wow_pp"])),
        "return_factor": Decimal(str(p["return_rate_factor"])),
        "min_orders": int(p["min_orders"]),
        "ar_threshold": Decimal(str(p["overdue_ar_threshold"])),
        "comp_cap": Decimal(str(p["compensation_cost_cap"])),
    }
    tables = {
        "snapshot": SellerMetricSnapshot._meta.db_table,
        "benchmark": MarketBenchmark._meta.db_table,
        "warning": HealthWarning._meta.db_table,
    }
    hits = _HITS_SQL.format(**tables)
    with connection.cursor() as cursor:
        cursor.execute(_REFRESH_SQL.format(hits=hits, **tables), params)
        cursor.execute("SELECT COUNT(*) FROM health_hits")
        (hit_count,) = cursor.fetchone()
        cursor.execute("DROP TABLE health_hits")
    opened = HealthWarning.objects.filter(market=market, state="open").count()
    return {"hits": hit_count, "open_warnings": opened}
