"""Carrier guarantee claims: late deliveries under a contract's on-time promise, grouped into one
claim per carrier and week, with an Excel claim letter (exports.claim_letter_workbook); a later
vendor credit note honours them."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection, transaction

from billing.models import ChargeLine, Shipment, ShipmentEvent
from billing.payables.models import VendorInvoice
from settlement_ops.db import retry_on_conflict
from settlement_ops.errors import DomainError
from settlement_ops.models import AuditEvent, Market
from settlement_ops.money import percent_of, quantize
from settlement_ops.services import audit_record, document_number_next
from vendors.models import Contract

from ..models import GuaranteeClaim, GuaranteeClaimLine

_LATE_SQL = """
SELECT s.id, s.vendor_id, s.tracking_number, c.on_time_days, c.late_refund_percent,
       COALESCE(ev.delivered, s.delivered_date) - COALESCE(ev.picked, s.ship_date) AS actual_days,
       COALESCE((SELECT SUM(cl.vendor_net) FROM {charge} cl WHERE {charge_lines_of_shipment}), 0) AS freight
FROM {shipment} s
JOIN LATERAL (
    SELECT c.on_time_days, c.late_refund_percent FROM {contract} c
    WHERE c.vendor_id = s.vendor_id AND c.service_level = s.service_level AND c.status IN ({effective})
      AND c.valid_from <= s.ship_date AND (c.valid_to IS NULL OR c.valid_to >= s.ship_date)
      AND c.on_time_days IS NOT NULL AND c.late_refund_percent IS NOT NULL
    ORDER BY c.valid_from DESC LIMIT 1
) c ON TRUE
LEFT JOIN LATERAL (
    SELECT (MIN(e.occurred_at) FILTER (WHERE e.status IN ('picked_up', 'in_transit')) AT TIME ZONE %(tz)s)::date
               AS picked,
           (MAX(e.occurred_at) FILTER (WHERE e.status = 'delivered') AT TIME ZONE %(tz)s)::date AS delivered
    FROM {event} e WHERE e.shipment_id = s.id
) ev ON TRUE
WHERE s.market_id = %(market)s AND s.status = 'delivered'
  AND s.ship_date BETWEEN %(ship_from)s AND %(end)s
  AND COALESCE(ev.delivered, s.delivered_date) BETWEEN %(start)s AND %(end)s
  AND COALESCE(ev.delivered, s.delivered_date) - COALESCE(ev.picked, s.ship_date) > c.on_time_days
  AND NOT EXISTS (SELECT 1 FROM {line} gl WHERE gl.shipment_id = s.id)
ORDER BY s.vendor_id, s.id
"""


def claim_period(*, market: Market, on: date | None = None) -> tuple[date, date]:
    """The last complete Monday-Sunday week before `on` (default: the market's today)."""
    on = on or market.local_date()
    end = on - timedelta(days=on.weekday() + 1)
    return end - timedelta(days=6), end


@retry_on_conflict
@transaction.atomic(durable=True)
def guarantee_claims_build(
    *, market: Market, period_start: date | None = None, period_end: date | None = None, actor=None
) -> list[GuaranteeClaim]:
    """Find the period's late deliveries under a guarantee and claim them, one claim per carrier.
    Idempotent: a shipment is claimed once (unique line), a carrier has one claim per period."""
    if period_start is None or period_end is None:
        period_start, period_end = claim_period(market=market)
    if period_end < period_start:
        raise DomainError("The period ends before it starts.", field="period_end")
    sql = _LATE_SQL.format(
        charge=ChargeLine._meta.db_table,
        charge_lines_of_shipment=ChargeLine.of_shipments_sql("cl", "s.id"),
        shipment=Shipment._meta.db_table,
        contract=Contract._meta.db_table,
        event=ShipmentEvent._meta.db_table,
        line=GuaranteeClaimLine._meta.db_table,
        effective=", ".join(f"'{s}'" for s in Contract.EFFECTIVE_STATUSES),
    )
    params = {
        "tz": market.timezone,
        "market": market.code,
        "start": period_start,
        "end": period_end,
        "ship_from": period_start - timedelta(days=90),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    by_vendor: dict[int, list] = defaultdict(list)
    currency = market.currency
    for shipment_id, vendor_id, tracking, promised, pct, actual, freight in rows:
        amount = quantize(percent_of(freight, pct), currency)
        if amount > 0:
            by_vendor[vendor_id].append((shipment_id, tracking, promised, actual, freight, pct, amount))
    claims = []
    for vendor_id, lines in sorted(by_vendor.items()):
        claim = GuaranteeClaim.objects.filter(
            vendor_id=vendor_id, period_start=period_start, period_end=period_end
        ).first()
        total = sum((line[-1] for line in lines), Decimal(0))
        if claim is None:
            claim = GuaranteeClaim.objects.create(
                number=document_number_next(market=market, kind="gcl", on=period_end),
                vendor_id=vendor_id,
                market=market,
                currency=currency,
                period_start=period_start,
                period_end=period_end,
                amount=total,
            )
        else:
            claim.amount += total
            claim.save(update_fields=["amount"])
        GuaranteeClaimLine.objects.bulk_create(
            GuaranteeClaimLine(
                claim=claim,
                shipment_id=sid,
                tracking_number=tracking,
                promised_days=promised,
                actual_days=actual,
                freight=freight,
                refund_percent=pct,
                amount=amount,
            )
            for sid, tracking, promised, actual, freight, pct, amount in lines
        )
        claims.append(claim)
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="compensation_guarantee_claims",
        detail={"market": market.code, "period": f"{period_start}..{period_end}", "claims": len(claims)},
    )
    return claims


@transaction.atomic(durable=True)
def guarantee_claims_check_credits(*, market: Market) -> int:
    """Match each open claim to the carrier's first credit note issued after it that no claim
    uses yet: its gross honours the claim (in full or in part). Returns the claims updated."""
    updated = 0
    used = set(GuaranteeClaim.objects.exclude(credited_by=None).values_list("credited_by_id", flat=True))
    for claim in GuaranteeClaim.objects.select_for_update().filter(market=market, status=GuaranteeClaim.Status.OPEN):
        credit = (
            VendorInvoice.objects.filter(
                vendor_id=claim.vendor_id,
                kind=VendorInvoice.Kind.CREDIT_NOTE,
                invoice_date__gte=claim.created_at.date(),
            )
            .exclude(pk__in=used)
            .order_by("invoice_date", "pk")
            .first()
        )
        if credit is None:
            continue
        used.add(credit.pk)
        claim.credited_by = credit
        claim.amount_credited = min(credit.gross_total, claim.amount)
        claim.status = (
            GuaranteeClaim.Status.HONOURED
            if claim.amount_credited >= claim.amount
            else GuaranteeClaim.Status.PARTLY_HONOURED
        )
        claim.save(update_fields=["credited_by", "amount_credited", "status"])
        updated += 1
    return updated
