"""Risk reads shared by pages, API and exports."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Q, Sum
from django.urls import NoReverseMatch, reverse
from django.utils.html import escape

from .models import Case, Finding, Hold, NightlyRun
from .rules import RULES_BY_CODE

# Evidence links: the page of each kind of record, where one exists.
_EVIDENCE_PAGES = {
    ("payables", "vendorinvoice"): "payables:invoice_detail",
    ("payables", "paymentrun"): "payables:run_detail",
    ("vendors", "vendor"): "vendors:vendor_detail",
    ("vendors", "contract"): "vendors:contract_detail",
    ("receivables", "invoice"): "receivables:invoice_detail",
}


def evidence_links(finding: Finding) -> list[dict]:
    links = []
    for item in finding.evidence or []:
        name = _EVIDENCE_PAGES.get((item.get("app"), item.get("model")))
        url = None
        if name:
            try:
                url = reverse(name, kwargs={"pk": item["pk"]})
            except NoReverseMatch:
                url = None
        if url is None:
            url = reverse(
                "change_history", kwargs={"app_label": item["app"], "model_name": item["model"], "pk": item["pk"]}
            )
        links.append({"label": item.get("label", ""), "url": url})
    return links


def findings_list():
    return Finding.objects.select_related("market", "case", "rule_version").order_by(
        "-last_seen_on", "-money_at_risk_eur", "pk"
    )


def cases_list():
    return (
        Case.objects.select_related("market", "owner")
        .annotate(finding_count=Count("findings"))
        .order_by("-created_at", "-id")
    )


def holds_list():
    return Hold.objects.select_related("case", "vendor", "seller", "contract", "placed_by", "released_by")


def rule_name(code: str) -> str:
    rule = RULES_BY_CODE.get(code)
    return rule.name if rule else code


def dashboard() -> dict:
    live = Finding.objects.exclude(state=Finding.State.DISMISSED)
    by_market_rule = list(
        live.values("market_id", "rule_code")
        .annotate(count=Count("id"), eur=Sum("money_at_risk_eur"))
        .order_by("market_id", "-eur")
    )
    for row in by_market_rule:
        row["rule_name"] = rule_name(row["rule_code"])
    cases_by_state = {s: 0 for s, _ in Case.State.choices}
    for row in Case.objects.values("state").annotate(count=Count("id")):
        cases_by_state[row["state"]] = row["count"]
    money = list(
        Case.objects.values("currency")
        .annotate(at_risk=Sum("money_at_risk"), stopped=Sum("money_stopped"), recovered=Sum("money_recovered"))
        .order_by("currency")
    )
    return {
        "by_market_rule": by_market_rule,
        "total_eur": sum((r["eur"] or Decimal(0) for r in by_market_rule), Decimal(0)),
        "open_findings": live.filter(state=Finding.State.OPEN).count(),
        "cases_by_state": [(label, cases_by_state[s], s) for s, label in Case.State.choices],
        "money": money,
        "active_holds": Hold.objects.filter(status__in=Hold.ACTIVE_STATUSES).count(),
        "trend": exposure_trend(),
    }


def exposure_trend(*, nights: int = 90, today: date | None = None) -> list[tuple[date, Decimal]]:
    """Money at risk (EUR) of the findings alive each night: seen on or before it and last seen
    on or after it. One statement over the findings table."""
    from django.utils import timezone

    today = today or timezone.localdate()
    start = today - timedelta(days=nights - 1)
    table = connection.ops.quote_name(Finding._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT d::date, COALESCE(sum(f.money_at_risk_eur), 0)
            FROM generate_series(%s::date, %s::date, interval '1 day') d
            LEFT JOIN {table} f ON f.first_seen_on <= d AND f.last_seen_on >= d AND f.state <> 'dismissed'
            GROUP BY d ORDER BY d
            """,
            [start, today],
        )
        return [(row[0], row[1]) for row in cursor.fetchall()]


def trend_svg(points: list[tuple[date, Decimal]]) -> str:
    """A server-rendered line chart (no JavaScript, no CDN); each point has its value as a title."""
    width, height, pad = 720, 220, 40
    values = [v for _, v in points] or [Decimal(0)]
    top = max(max(values), Decimal(1))
    step = (width - 2 * pad) / max(len(points) - 1, 1)

    def y(v):
        return height - pad - float(v / top) * (height - 2 * pad)

    coords = " ".join(f"{pad + i * step:.1f},{y(v):.1f}" for i, (_, v) in enumerate(points))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Money at risk in EUR over the last {len(points)} nights">',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#999"/>',
        f'<text x="{pad}" y="{pad - 10}" font-size="11">EUR {top:,.0f}</text>',
        f'<polyline fill="none" stroke="#b42318" stroke-width="2" points="{coords}"/>',
    ]
    for i, (day, value) in enumerate(points):
        parts.append(
            f'<circle cx="{pad + i * step:.1f}" cy="{y(value):.1f}" r="2" fill="#b42318">'
            f"<title>{escape(f'{day:%Y-%m-%d}: EUR {value:,.2f}')}</title></circle>"
        )
    if points:
        parts.append(f'<text x="{pad}" y="{height - 15}" font-size="11">{points[0][0]:%Y-%m-%d}</text>')
        parts.append(
            f'<text x="{width - pad}" y="{height - 15}" font-size="11" text-anchor="end">{points[-1][0]:%Y-%m-%d}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def nightly_runs(*, nights: int = 30, today: date | None = None):
    from django.utils import timezone

    today = today or timezone.localdate()
    return (
        NightlyRun.objects.filter(business_date__gt=today - timedelta(days=nights + 1))
        .prefetch_related("steps")
        .order_by("-business_date", "market_id")
    )


def open_work(user) -> dict:
    return {
        "open_findings": Finding.objects.filter(state=Finding.State.OPEN).count(),
        "my_cases": Case.objects.filter(owner=user).exclude(state=Case.State.CLOSED).count(),
        "release_requests": Hold.objects.filter(status=Hold.Status.RELEASE_REQUESTED).count(),
        "close_requests": Case.objects.filter(Q(state=Case.State.CLOSE_REQUESTED)).count(),
    }
