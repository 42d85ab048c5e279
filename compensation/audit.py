"""The set-based compensation audit: a market's pending requests against its active policy.

One run (`services.audit_run`) does, in one transaction and a fixed number of statements
whatever the number of requests:

1. `_FACTS_SQL` gathers what every attribute needs per request into a temporary table: the
   shipment's events (first custody, pickup, delivery, last final event, as local dates of the
   market), the carrier contract's on-time promise for the ship date, and the earliest earlier
   request for the same order and reason (duplicate). It also decides the liable party.
2. One statement (`_AUDIT_SQL`) writes a result per quality attribute (pass / fail / na) with
   the sentence that explains it (`ON CONFLICT DO NOTHING` makes a repeated run harmless) and,
   from the rows it inserted, sets the verdict (a failed hard attribute: non-compliant; a failed
   soft one, or an event-based reason without a known shipment: needs review; else compliant),
   the policy version and the liable party (unless QA overrode it).

What each attribute checks and the parameters it reads:
  eligibility  lost/damaged needs a carrier-custody event; late delivery needs the delivery
               later than the promise (contract's on_time_days, else the policy's default)
  amount_cap   {"caps": {"<reason>:<instrument>": {"max_amount": "50", "max_percent": "100"}}};
               "*" matches any reason or instrument; the most specific key wins
  duplicate    no earlier request for the same market, order and reason
  evidence     {"reasons": ["damaged", ...]}: those reasons need an evidence reference
  timeliness   {"days": 30}: issued at most N days after the event (delivery/loss/damage)
  agent_limit  {"default": "100", "agents": {"agent-7": "250"}}: the issuing agent's limit

`tests/compensation/test_audit.py` proves the SQL against a Python reference on a seeded sample.
"""

from __future__ import annotations

import json

from django.db import connection

from billing.models import Shipment, ShipmentEvent
from settlement_ops.money import minor_units
from vendors.models import Contract

from .models import AuditPolicy, AuditResult, CompensationRequest, QualityAttribute

FACTS_TABLE = "compensation_audit_facts"
EVENT_REASONS = ("lost", "damaged", "late_delivery")
CUSTODY_STATUSES = ("picked_up", "in_transit", "lost", "damaged", "delivered", "returned")


def _tables() -> dict:
    return {
        "req": CompensationRequest._meta.db_table,
        "shipment": Shipment._meta.db_table,
        "event": ShipmentEvent._meta.db_table,
        "contract": Contract._meta.db_table,
        "result": AuditResult._meta.db_table,
        "attr": QualityAttribute._meta.db_table,
        "facts": FACTS_TABLE,
    }


def _in_list(values) -> str:
    return ", ".join(f"'{v}'" for v in values)  # fixed code values, never user input


_FACTS_SQL = """
CREATE TEMP TABLE {facts} ON COMMIT DROP AS
WITH todo AS (
    SELECT r.id, r.market_id, r.external_id, r.order_number, r.tracking_number, r.reason, r.instrument,
           r.currency, r.amount, r.item_value, r.agent, r.issued_at, r.shipment_id,
           jsonb_array_length(r.evidence) AS evidence_count
    FROM {req} r
    WHERE r.market_id = %(market)s AND r.verdict = 'pending' AND r.id <= %(max_id)s
), ev AS (
    SELECT e.shipment_id,
           MIN(e.occurred_at) FILTER (WHERE e.status IN ({custody})) AS custody_at,
           MIN(e.occurred_at) FILTER (WHERE e.status IN ('picked_up', 'in_transit')) AS picked_at,
           MAX(e.occurred_at) FILTER (WHERE e.status = 'delivered') AS delivered_at,
           MAX(e.occurred_at) FILTER (WHERE e.status IN ('delivered', 'lost', 'damaged', 'returned')) AS event_at
    FROM {event} e
    WHERE e.shipment_id IN (SELECT shipment_id FROM todo WHERE shipment_id IS NOT NULL)
    GROUP BY e.shipment_id
), facts AS (
    SELECT t.*, s.vendor_id, s.seller_id, s.ship_date,
           (ev.custody_at AT TIME ZONE %(tz)s)::date AS custody_date,
           (ev.picked_at AT TIME ZONE %(tz)s)::date AS picked_date,
           COALESCE((ev.delivered_at AT TIME ZONE %(tz)s)::date, s.delivered_date) AS delivered_date,
           COALESCE((ev.event_at AT TIME ZONE %(tz)s)::date, s.delivered_date, s.ship_date) AS event_date,
           (t.issued_at AT TIME ZONE %(tz)s)::date AS issued_date,
           c.on_time_days AS contract_promise,
           dup.external_id AS dup_of, dup.agent AS dup_agent
    FROM todo t
    LEFT JOIN {shipment} s ON s.id = t.shipment_id
    LEFT JOIN ev ON ev.shipment_id = t.shipment_id
    LEFT JOIN LATERAL (
        SELECT c.on_time_days FROM {contract} c
        WHERE c.vendor_id = s.vendor_id AND c.service_level = s.service_level AND c.status IN ({effective})
          AND c.valid_from <= s.ship_date AND (c.valid_to IS NULL OR c.valid_to >= s.ship_date)
        ORDER BY c.valid_from DESC LIMIT 1
    ) c ON TRUE
    LEFT JOIN LATERAL (
        SELECT r2.external_id, r2.agent FROM {req} r2
        WHERE r2.market_id = t.market_id AND r2.order_number = t.order_number AND r2.reason = t.reason
          AND (r2.issued_at, r2.id) < (t.issued_at, t.id)
        ORDER BY r2.issued_at, r2.id LIMIT 1
    ) dup ON TRUE
)
SELECT f.*,
    CASE
      WHEN f.reason IN ('lost', 'damaged') AND f.custody_date IS NOT NULL THEN ARRAY['carrier',
        format('%%s in the carrier''s custody (custody since %%s).',
               CASE f.reason WHEN 'lost' THEN 'Lost' ELSE 'Damaged' END, f.custody_date)]
      WHEN f.reason = 'late_delivery' AND f.delivered_date IS NOT NULL AND f.picked_date IS NOT NULL
           AND f.contract_promise IS NOT NULL AND f.delivered_date - f.picked_date > f.contract_promise THEN ARRAY[
        'carrier', format('Delivered %%s days after pickup against the contract''s promise of %%s days.',
                          f.delivered_date - f.picked_date, f.contract_promise)]
      WHEN f.reason IN ('wrong_item', 'missing_item') THEN ARRAY['seller',
        format('%%s: the seller packed the parcel.',
               CASE f.reason WHEN 'wrong_item' THEN 'Wrong item' ELSE 'Missing item' END)]
      WHEN f.reason = 'late_delivery' AND f.picked_date IS NOT NULL
           AND f.picked_date - f.ship_date > %(dispatch_days)s THEN ARRAY['seller',
        format('Dispatched late: handed to the carrier %%s days after the ship date (the policy allows %%s).',
               f.picked_date - f.ship_date, %(dispatch_days)s)]
      ELSE ARRAY['platform', 'No carrier or seller rule applies, so the platform carries the cost.']
    END AS liable
FROM facts f
"""

# Each attribute: a CASE giving ARRAY[outcome, sentence] per row of the facts table `f`.
_PROMISE = "COALESCE(f.contract_promise, %(default_promise)s)"
_TRACKING = "COALESCE(NULLIF(f.tracking_number, ''), '(none)')"
_AMOUNT = "f.currency || ' ' || round(f.amount, %(places)s)::text"

_ATTRIBUTE_SQL = {
    QualityAttribute.Code.ELIGIBILITY: f"""
    CASE
      WHEN f.reason IN ({_in_list(EVENT_REASONS)}) AND f.shipment_id IS NULL THEN ARRAY['na',
        format('No shipment with tracking number %%s is known, so its events cannot be checked.', {_TRACKING})]
      WHEN f.reason IN ('lost', 'damaged') AND f.custody_date IS NOT NULL THEN ARRAY['pass',
        format('The carrier had parcel %%s: its first custody event is on %%s.', f.tracking_number, f.custody_date)]
      WHEN f.reason IN ('lost', 'damaged') THEN ARRAY['fail',
        format('Parcel %%s has no carrier-custody event (picked up, in transit, lost, damaged, delivered), '
               'so it was never in the carrier''s hands.', f.tracking_number)]
      WHEN f.reason = 'late_delivery' AND f.delivered_date IS NULL THEN ARRAY['fail',
        format('Parcel %%s has no delivery, so it cannot have been delivered late.', f.tracking_number)]
      WHEN f.reason = 'late_delivery' AND f.delivered_date - f.ship_date > {_PROMISE} THEN ARRAY['pass',
        format('Delivered %%s days after shipping against a promise of %%s days.',
               f.delivered_date - f.ship_date, {_PROMISE})]
      WHEN f.reason = 'late_delivery' THEN ARRAY['fail',
        format('Delivered %%s days after shipping, within the promise of %%s days: not late.',
               f.delivered_date - f.ship_date, {_PROMISE})]
      ELSE ARRAY['na', format('Reason %%s is not checked against shipment events.', f.reason)]
    END""",
    QualityAttribute.Code.AMOUNT_CAP: f"""
    CASE
      WHEN cap.v IS NULL THEN ARRAY['na', format('The policy sets no cap for %%s by %%s.', f.reason, f.instrument)]
      WHEN cap.v->>'max_amount' IS NOT NULL AND f.amount > (cap.v->>'max_amount')::numeric THEN ARRAY['fail',
        format('%%s is above the cap of %%s %%s for %%s by %%s.', {_AMOUNT}, f.currency, cap.v->>'max_amount',
               f.reason, f.instrument)]
      WHEN cap.v->>'max_percent' IS NOT NULL AND f.item_value IS NOT NULL
           AND f.amount > f.item_value * (cap.v->>'max_percent')::numeric / 100 THEN ARRAY['fail',
        format('%%s is more than %%s percent of the item value of %%s %%s.', {_AMOUNT}, cap.v->>'max_percent',
               f.currency, round(f.item_value, %(places)s))]
      ELSE ARRAY['pass', format('%%s is within the cap for %%s by %%s.', {_AMOUNT}, f.reason, f.instrument)]
    END""",
    QualityAttribute.Code.DUPLICATE: """
    CASE
      WHEN f.dup_of IS NOT NULL THEN ARRAY['fail',
        format('Order %%s was already compensated for %%s by request %%s (agent %%s).',
               f.order_number, f.reason, f.dup_of, f.dup_agent)]
      ELSE ARRAY['pass', format('First compensation of order %%s for %%s.', f.order_number, f.reason)]
    END""",
    QualityAttribute.Code.EVIDENCE: """
    CASE
      WHEN NOT (f.reason = ANY(%(reasons)s::text[])) THEN ARRAY['na',
        format('The policy asks no evidence for %%s.', f.reason)]
      WHEN f.evidence_count > 0 THEN ARRAY['pass', format('%%s evidence reference(s) attached.', f.evidence_count)]
      ELSE ARRAY['fail', format('A compensation for %%s needs evidence and none is attached.', f.reason)]
    END""",
    QualityAttribute.Code.TIMELINESS: """
    CASE
      WHEN %(days)s::int IS NULL THEN ARRAY['na', 'The policy sets no time limit.']
      WHEN f.shipment_id IS NULL THEN ARRAY['na', 'No shipment is known, so the date of the event cannot be checked.']
      WHEN f.issued_date - f.event_date > %(days)s::int THEN ARRAY['fail',
        format('Issued %%s days after the event on %%s; the policy allows %%s.',
               f.issued_date - f.event_date, f.event_date, %(days)s::int)]
      ELSE ARRAY['pass', format('Issued %%s days after the event on %%s, within the %%s the policy allows.',
               GREATEST(f.issued_date - f.event_date, 0), f.event_date, %(days)s::int)]
    END""",
    QualityAttribute.Code.AGENT_LIMIT: f"""
    CASE
      WHEN lim.v IS NULL THEN ARRAY['na', format('No approval limit is set for agent %%s.', f.agent)]
      WHEN f.amount > lim.v THEN ARRAY['fail',
        format('%%s is above agent %%s''s approval limit of %%s %%s.', {_AMOUNT}, f.agent, f.currency, lim.v)]
      ELSE ARRAY['pass', format('Within agent %%s''s approval limit of %%s %%s.', f.agent, f.currency, lim.v)]
    END""",
}

# One statement writes every attribute's result of every request (a VALUES row per attribute of
# the policy, each a CASE over the facts) and, from what it inserted (RETURNING), sets the verdict,
# the policy version and the liable party: the results are never read back.
_AUDIT_SQL = """
WITH ins AS (
    INSERT INTO {result} (request_id, attribute_id, outcome, sentence, created_at)
    SELECT f.id, v.attribute_id, v.o[1], LEFT(v.o[2], 300), %(now)s
    FROM {facts} f
    LEFT JOIN LATERAL (
        SELECT COALESCE(p->'caps'->(f.reason || ':' || f.instrument), p->'caps'->(f.reason || ':*'),
                        p->'caps'->('*:' || f.instrument), p->'caps'->'*:*') AS v
        FROM (SELECT %(cap_params)s::jsonb AS p) pp
    ) cap ON TRUE
    LEFT JOIN LATERAL (
        SELECT COALESCE((p->'agents'->>f.agent)::numeric, (p->>'default')::numeric) AS v
        FROM (SELECT %(limit_params)s::jsonb AS p) pp
    ) lim ON TRUE
    CROSS JOIN LATERAL (VALUES {values}) AS v(attribute_id, o)
    ON CONFLICT (request_id, attribute_id) DO NOTHING
    RETURNING request_id, attribute_id, outcome
), agg AS (
    SELECT ins.request_id,
           bool_or(ins.outcome = 'fail' AND at.severity = 'hard') AS hard,
           bool_or(ins.outcome = 'fail' AND at.severity = 'soft') AS soft
    FROM ins JOIN {attr} at ON at.id = ins.attribute_id
    GROUP BY ins.request_id
)
UPDATE {req} r SET
    verdict = CASE
        WHEN a.hard THEN 'non_compliant'
        WHEN a.soft OR (f.shipment_id IS NULL AND f.reason IN ({event_reasons})) THEN 'needs_review'
        ELSE 'compliant' END,
    policy_id = %(policy)s,
    audited_at = %(now)s,
    liable_party = CASE WHEN r.liable_overridden THEN r.liable_party ELSE f.liable[1] END,
    liable_basis = CASE WHEN r.liable_overridden THEN r.liable_basis ELSE LEFT(f.liable[2], 255) END
FROM {facts} f
LEFT JOIN agg a ON a.request_id = f.id
WHERE r.id = f.id
"""

_SUMMARY_SQL = """
SELECT COUNT(*),
       COUNT(*) FILTER (WHERE r.verdict = 'compliant'),
       COUNT(*) FILTER (WHERE r.verdict = 'non_compliant'),
       COUNT(*) FILTER (WHERE r.verdict = 'needs_review'),
       COALESCE(SUM(r.amount), 0)
FROM {req} r JOIN {facts} f ON f.id = r.id
"""


def _attribute_params(attributes) -> dict:
    """The bound parameters each attribute's CASE reads (codes are unique within a policy)."""
    by_code = {a.code: a.params or {} for a in attributes}
    days = by_code.get(QualityAttribute.Code.TIMELINESS, {}).get("days")
    return {
        "cap_params": json.dumps(by_code.get(QualityAttribute.Code.AMOUNT_CAP, {})),
        "limit_params": json.dumps(by_code.get(QualityAttribute.Code.AGENT_LIMIT, {})),
        "reasons": [str(r) for r in by_code.get(QualityAttribute.Code.EVIDENCE, {}).get("reasons") or []],
        "days": int(days) if days not in (None, "") else None,
    }


def audit_statements(*, policy: AuditPolicy, max_id: int, now) -> dict:
    """Run the audit statements for the policy's market (inside the caller's transaction).
    Returns {"audited", "compliant", "non_compliant", "needs_review", "amount"}."""
    tables = _tables()
    market = policy.market
    base = {
        "market": market.code,
        "max_id": max_id,
        "tz": market.timezone,
        "dispatch_days": policy.dispatch_days,
        "default_promise": policy.default_promise_days,
        "places": minor_units(market.currency),
        "policy": policy.pk,
        "now": now,
    }
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {FACTS_TABLE}")
        cursor.execute(
            _FACTS_SQL.format(
                **tables,
                custody=_in_list(CUSTODY_STATUSES),
                effective=_in_list(Contract.EFFECTIVE_STATUSES),
            ),
            base,
        )
        if cursor.rowcount == 0:
            cursor.execute(f"DROP TABLE {FACTS_TABLE}")
            return {"audited": 0, "compliant": 0, "non_compliant": 0, "needs_review": 0, "amount": 0}
        cursor.execute(f"ANALYZE {FACTS_TABLE}")
        attributes = list(policy.attributes.order_by("code"))
        # Attribute ids are integers from our own rows, written into the VALUES list as literals.
        values = ", ".join(f"({int(a.pk)}, {_ATTRIBUTE_SQL[a.code]})" for a in attributes)
        cursor.execute(
            _AUDIT_SQL.format(**tables, values=values, event_reasons=_in_list(EVENT_REASONS)),
            {**base, **_attribute_params(attributes)},
        )
        cursor.execute(_SUMMARY_SQL.format(**tables))
        audited, compliant, non_compliant, needs_review, amount = cursor.fetchone()
        cursor.execute(f"DROP TABLE {FACTS_TABLE}")
    return {
        "audited": audited,
        "compliant": compliant,
        "non_compliant": non_compliant,
        "needs_review": needs_review,
        "amount": amount,
    }
