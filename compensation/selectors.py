"""Compensation reads shared by pages, API, exports and the digest: caller-scoped querysets, the
scorecard context, reports (SQL aggregation), calibration and claim aging."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.html import escape

from billing.models import ChargeLine, ShipmentEvent
from billing.receivables.selectors import caller_seller
from settlement_ops.models import Market
from settlement_ops.selectors import ZERO

from .models import (
    AuditResult,
    Chargeback,
    CompensationRequest,
    CorrectiveAction,
    Dispute,
    GuaranteeClaim,
    QaScore,
    Verdict,
)

PERIODS = {"daily": 1, "weekly": 7, "monthly": 30}


def requests_search():
    return CompensationRequest.objects.select_related("market", "shipment__vendor", "shipment__seller", "policy")


def chargebacks_for(user):
    """Chargebacks the caller may see: a seller user only their seller's (others are 404)."""
    qs = Chargeback.objects.select_related("request", "vendor", "seller", "market", "invoice", "deduction")
    seller = caller_seller(user)
    if seller is None:
        return qs
    if seller is False:
        return qs.none()
    return qs.filter(seller=seller)


def disputes_for(user):
    qs = Dispute.objects.select_related("chargeback__request", "chargeback__vendor", "chargeback__seller", "raised_by")
    seller = caller_seller(user)
    if seller is None:
        return qs
    if seller is False:
        return qs.none()
    return qs.filter(chargeback__seller=seller)


def scorecard(request: CompensationRequest) -> dict:
    """What a QA user needs beside the request: the audit results, the shipment's events and
    its charge trace (rated vendor cost and seller fee per generation), and the reviews."""
    results = list(request.results.select_related("attribute").order_by("attribute__code"))
    events, charges = [], []
    if request.shipment_id:
        events = list(ShipmentEvent.objects.filter(shipment_id=request.shipment_id).order_by("occurred_at"))
        charges = list(ChargeLine.objects.of_shipments(request.shipment_id).order_by("id"))
    reviews = list(request.reviews.select_related("reviewer").prefetch_related("scores__attribute"))
    return {"results": results, "events": events, "charges": charges, "reviews": reviews}


# --- Reports -----------------------------------------------------------------------------------------


def period_bounds(kind: str, end: date) -> tuple[date, date]:
    days = PERIODS.get(kind, 1)
    return end - timedelta(days=days - 1), end


def _moment_range(start: date, end: date):
    tz = timezone.get_current_timezone()
    return datetime.combine(start, time.min, tzinfo=tz), datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz)


def report(*, start: date, end: date, market: Market | None = None) -> dict:
    """The compensation report of a period: cost by dimension, non-compliance, top failing
    attributes with a root-cause Pareto, recovery rate, open disputes and QA agreement."""
    lo, hi = _moment_range(start, end)
    requests = CompensationRequest.objects.filter(issued_at__gte=lo, issued_at__lt=hi)
    if market is not None:
        requests = requests.filter(market=market)
    by = {}
    for dim in ("market_id", "reason", "instrument", "liable_party", "agent"):
        by[dim] = list(
            requests.values(dim, "currency")
            .annotate(n=Count("id"), amount=Coalesce(Sum("amount"), ZERO))
            .order_by("-amount")[:25]
        )
    audited = requests.exclude(verdict=Verdict.PENDING)
    verdicts = audited.aggregate(
        audited=Count("id"),
        non_compliant=Count("id", filter=Q(verdict=Verdict.NON_COMPLIANT)),
        needs_review=Count("id", filter=Q(verdict=Verdict.NEEDS_REVIEW)),
    )
    rate = Decimal(verdicts["non_compliant"] * 100) / verdicts["audited"] if verdicts["audited"] else None
    failures = list(
        AuditResult.objects.filter(request__in=requests, outcome=AuditResult.Outcome.FAIL)
        .values("attribute__code")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    total_failures = sum(f["n"] for f in failures)
    running = 0
    for row in failures:
        running += row["n"]
        row["cumulative_percent"] = round(Decimal(running * 100) / total_failures, 1)
    compensated = {
        r["currency"]: r["amount"]
        for r in requests.values("currency").annotate(amount=Coalesce(Sum("amount"), ZERO)).order_by()
    }
    recovered = {
        r["request__currency"]: r["amount"]
        for r in Chargeback.objects.filter(request__in=requests)
        .exclude(status=Chargeback.Status.REVERSED)
        .values("request__currency")
        .annotate(amount=Coalesce(Sum("request__amount"), ZERO))
        .order_by()
    }
    recovery = [
        {
            "currency": cur,
            "compensated": amount,
            "recovered": recovered.get(cur, Decimal(0)),
            "rate": round(recovered.get(cur, Decimal(0)) * 100 / amount, 1) if amount else None,
        }
        for cur, amount in sorted(compensated.items())
    ]
    disputes = Dispute.objects.filter(status__in=Dispute.OPEN_STATUSES)
    if market is not None:
        disputes = disputes.filter(chargeback__market=market)
    return {
        "start": start,
        "end": end,
        "market": market,
        "count": requests.count(),
        "by": by,
        "verdicts": verdicts,
        "non_compliance_rate": round(rate, 1) if rate is not None else None,
        "failures": failures,
        "recovery": recovery,
        "open_disputes": disputes.count(),
        "agreement": qa_agreement(),
        "actions": corrective_actions_with_metrics(market=market),
    }


def qa_agreement() -> list[dict]:
    """Calibration: per attribute, of the requests two or more QA users scored, the share where
    they all gave the same outcome."""
    rows = (
        QaScore.objects.values("review__request_id", "attribute__code")
        .annotate(n=Count("id"), outcomes=Count("outcome", distinct=True))
        .filter(n__gte=2)
    )
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        totals[row["attribute__code"]][0] += 1
        totals[row["attribute__code"]][1] += 1 if row["outcomes"] == 1 else 0
    return [
        {"code": code, "requests": n, "agreed": agreed, "rate": round(Decimal(agreed * 100) / n, 1)}
        for code, (n, agreed) in sorted(totals.items())
    ]


def review_agreement(request: CompensationRequest) -> list[dict]:
    """Per attribute of one request: the outcomes each reviewer gave and whether they agree."""
    scores = defaultdict(list)
    for score in QaScore.objects.filter(review__request=request).select_related("attribute", "review__reviewer"):
        scores[score.attribute.code].append((score.review.reviewer.username, score.outcome))
    return [
        {"code": code, "scores": items, "agreed": len({o for _, o in items}) == 1}
        for code, items in sorted(scores.items())
        if len(items) >= 2
    ]


def _failure_rate(*, market, attribute_code: str, agent: str, start, end) -> Decimal | None:
    requests = CompensationRequest.objects.filter(market=market, issued_at__gte=start, issued_at__lt=end).exclude(
        verdict=Verdict.PENDING
    )
    if agent:
        requests = requests.filter(agent=agent)
    total = requests.count()
    if not total:
        return None
    if attribute_code:
        failed = AuditResult.objects.filter(
            request__in=requests, attribute__code=attribute_code, outcome=AuditResult.Outcome.FAIL
        ).count()
    else:
        failed = requests.filter(verdict=Verdict.NON_COMPLIANT).count()
    return round(Decimal(failed * 100) / total, 1)


def corrective_actions_with_metrics(*, market=None) -> list[dict]:
    """Each corrective action with its metric (the attribute's failure rate, or the agent's
    non-compliance rate) over the 30 days before it was opened and since."""
    actions = CorrectiveAction.objects.select_related("owner", "market")
    if market is not None:
        actions = actions.filter(market=market)
    now = timezone.now()
    rows = []
    for action in actions[:50]:
        window = timedelta(days=30)
        rows.append(
            {
                "action": action,
                "before": _failure_rate(
                    market=action.market,
                    attribute_code=action.attribute_code,
                    agent=action.agent,
                    start=action.created_at - window,
                    end=action.created_at,
                ),
                "after": _failure_rate(
                    market=action.market,
                    attribute_code=action.attribute_code,
                    agent=action.agent,
                    start=action.created_at,
                    end=now,
                ),
                "overdue": action.status != CorrectiveAction.Status.DONE and action.due_date < timezone.localdate(),
            }
        )
    return rows


def claims_aging(*, as_of: date | None = None) -> list[dict]:
    """Open guarantee claims with their age in days (from the end of their period)."""
    as_of = as_of or timezone.localdate()
    rows = []
    for claim in GuaranteeClaim.objects.exclude(status=GuaranteeClaim.Status.HONOURED).select_related("vendor"):
        age = (as_of - claim.period_end).days
        bucket = "0-30" if age <= 30 else "31-60" if age <= 60 else "61-90" if age <= 90 else "90+"
        rows.append({"claim": claim, "age": age, "bucket": bucket, "open": claim.amount_open})
    return sorted(rows, key=lambda r: -r["age"])


# --- Charts --------------------------------------------------------------------------------------------


def bar_chart_svg(items: list[tuple[str, Decimal | int]], *, label: str, width: int = 560) -> str:
    """A server-rendered horizontal bar chart (no JavaScript); each bar's number is beside it."""
    items = [(str(k), Decimal(v or 0)) for k, v in items][:12]
    if not items:
        return ""
    row, left = 22, 150
    height = row * len(items) + 10
    top = max((v for _, v in items), default=Decimal(1)) or Decimal(1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}">'
    ]
    for i, (name, value) in enumerate(items):
        y = 5 + i * row
        w = int(Decimal(width - left - 90) * value / top) if value > 0 else 0
        parts.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end" font-size="12">{escape(name[:22])}</text>')
        parts.append(
            f'<rect x="{left}" y="{y}" width="{w}" height="{row - 6}" fill="#1e5b8b"><title>{escape(name)}: '
            f"{escape(f'{value:,}')}</title></rect>"
        )
        parts.append(f'<text x="{left + w + 6}" y="{y + 14}" font-size="11">{escape(f"{value:,}")}</text>')
    parts.append("</svg>")
    return "".join(parts)
