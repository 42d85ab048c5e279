"""Seller health demo: three GB sellers with a story over the last 28 nights.

- S-GB-001 degrades: late dispatch climbs from 4 % to 18 % and returns double; the nightly rules
  raise warnings (above the market p90 for 7 nights, week-over-week rise), tier 2 calls them.
- S-GB-002 improves after a plan: late dispatch was 15 %, a plan agreed 3 weeks ago targets 6 %;
  by its review date it is at 5 %: "improved".
- S-GB-003 is stable around the market median.
The history is written as nightly snapshots and benchmarks (the demo has weeks of story but only
a few thousand shipments); the rules and the plan review then run through the real services.
`health(ctx)` is for seed_demo, after the desk phase (it needs the demo users).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model

from settlement_ops.models import Market

from .health import rules, services
from .models import ImprovementPlan, MarketBenchmark, Seller, SellerMetricSnapshot, WarningRuleSet

NIGHTS = 28


def _late(story: str, age: int) -> Decimal:
    """Late-dispatch rate (%) of a story `age` nights ago."""
    if story == "degrading":
        return Decimal(4) + Decimal(14) * (NIGHTS - age) / NIGHTS if age < 14 else Decimal(4)
    if story == "improving":
        return Decimal(15) if age > 21 else max(Decimal(5), Decimal(15) - Decimal(21 - age) / 2)
    return Decimal(5) + Decimal(age % 3) / 2


def _returns(story: str, age: int) -> Decimal:
    return Decimal(12) if story == "degrading" and age < 7 else Decimal(5)


def health(ctx) -> None:
    gb = Market.objects.get(code="GB")
    sellers = {s.code: s for s in Seller.objects.filter(code__in=["S-GB-001", "S-GB-002", "S-GB-003"])}
    if len(sellers) < 3 or WarningRuleSet.objects.filter(market=gb).exists():
        return
    User = get_user_model()
    specialist, approver = User.objects.get(username="specialist"), User.objects.get(username="approver")
    tier2 = User.objects.get(username="support2")
    for market in Market.objects.filter(is_active=True):
        draft = services.rule_set_draft(actor=specialist, market=market, params={}, note="Demo defaults")
        services.rule_set_activate(actor=approver, rule_set=draft)
    today = gb.local_date()
    stories = {"S-GB-001": "degrading", "S-GB-002": "improving", "S-GB-003": "stable"}
    for age in range(NIGHTS, 0, -1):
        night = today - timedelta(days=age)
        rows = []
        for code, story in stories.items():
            for window in (7, 30, 90):
                rows.append(
                    SellerMetricSnapshot(
                        seller=sellers[code],
                        market=gb,
                        business_date=night,
                        window_days=window,
                        volume_band="medium",
                        currency="GBP",
                        orders_shipped=window * 4,
                        late_dispatch_rate=_late(story, age),
                        delivery_success_rate=Decimal(100) - _returns(story, age) - 2,
                        return_rate=_returns(story, age),
                        failed_delivery_rate=Decimal(2),
                        lost_damaged_rate=Decimal("0.8"),
                        cod_failure_rate=Decimal(3),
                        avg_fee_per_parcel=Decimal("5.99"),
                        overdue_ar=Decimal("0"),
                        dso_days=Decimal("28.0"),
                        chargebacks_per_100=Decimal("0.5"),
                        compensation_cost_per_100=Decimal("40.00"),
                        ticket_rate_per_100=Decimal("2.00"),
                        csat=Decimal("4.20"),
                    )
                )
        SellerMetricSnapshot.objects.bulk_create(rows, ignore_conflicts=True)
        MarketBenchmark.objects.bulk_create(
            [
                MarketBenchmark(
                    market=gb,
                    business_date=night,
                    window_days=window,
                    volume_band="medium",
                    metric=metric,
                    sellers=3,
                    p50=p50,
                    p90=p90,
                )
                for window in (7, 30, 90)
                for metric, p50, p90 in (("late_dispatch_rate", 5, 9), ("return_rate", 5, 8))
            ],
            ignore_conflicts=True,
        )
        rules.warnings_refresh(market=gb, business_date=night)
    degrading, improving = sellers["S-GB-001"], sellers["S-GB-002"]
    warning = degrading.health_warnings.filter(state="open").first()
    services.contact_log(
        actor=tier2,
        seller=degrading,
        channel="call",
        notes="Called the warehouse lead: a picker left; they will book extra pick-ups on Mondays.",
        warning=warning,
    )
    # The improving seller's plan was agreed 3 weeks ago and is due: the review runs as at night.
    ImprovementPlan.objects.create(
        seller=improving,
        metric="late_dispatch_rate",
        actions="Book carrier pick-up at 16:00 daily\nPrint labels the evening before",
        baseline_value=_late("improving", 22),
        target_value=Decimal(6),
        review_date=today - timedelta(days=1),
        created_by=tier2,
    )
    services.contact_log(
        actor=tier2, seller=improving, channel="meeting", notes="Agreed the dispatch plan with the owner."
    )
    services.plans_review_due(market=gb, on=today - timedelta(days=1))
