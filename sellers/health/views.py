"""Seller health pages: the staff seller 360 (metrics, trend, percentile position, warnings,
outreach, plans, tickets, balance), the risk-ranked portfolio with its Excel export, the tier-2
warning worklist by market, and the seller's own "My performance" in the portal."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from settlement_ops.charts import Series, line_chart
from settlement_ops.errors import DomainError
from settlement_ops.exports import Column, Sheet, workbook_response
from settlement_ops.models import Market
from settlement_ops.permissions import ActionView, PermissionRequiredPageMixin

from ..models import HealthWarning, ImprovementPlan, OutreachContact, Seller, VolumeBand, WarningRuleSet
from ..permissions import SellerPortalMixin
from ..selectors import seller_account_summary
from . import rules, selectors, services
from .metrics import METRICS

PERM = "sellers.work_seller_health"


def _trend_chart(seller: Seller, metric: str, title: str):
    points = selectors.trend(seller, metric=metric)
    if not points:
        return None
    return line_chart(
        title=title,
        categories=[f"{day:%d %b}" for day, _value in points],
        series=[Series(title, [value for _day, value in points])],
        unit="%",
    )


class SellerHealthView(PermissionRequiredPageMixin, TemplateView):
    template_name = "health/seller_health.html"
    permission_required = PERM

    def get_context_data(self, **kwargs):
        seller = get_object_or_404(Seller.objects.select_related("market"), pk=kwargs["pk"])
        window = int(self.request.GET.get("window") or 30)
        window = window if window in (7, 30, 90) else 30
        day, rows = selectors.metric_rows(seller, window_days=window)
        return {
            **super().get_context_data(**kwargs),
            "seller": seller,
            "window": window,
            "business_date": day,
            "rows": rows,
            "chart": _trend_chart(seller, "late_dispatch_rate", "Late dispatch, 7-day rate (%)"),
            "return_chart": _trend_chart(seller, "return_rate", "Return rate, 7-day (%)"),
            "warnings": selectors.open_warnings(seller=seller),
            "closed_warnings": HealthWarning.objects.filter(seller=seller, state="closed")[:10],
            "contacts": OutreachContact.objects.filter(seller=seller).select_related("created_by")[:20],
            "plans": selectors.plans(seller),
            "tickets": seller.tickets.order_by("-created_at")[:10],
            "summary": seller_account_summary(seller, today=seller.market.local_date()),
            "channels": OutreachContact.Channel.choices,
            "metrics": METRICS,
        }


def _warning_of(seller: Seller, value: str) -> HealthWarning | None:
    """The seller's warning named in a form, or None; another seller's is a 404 like a missing one."""
    if not value:
        return None
    if not value.isdigit():
        raise DomainError("Warning: choose one of the seller's warnings.", field="warning")
    return get_object_or_404(HealthWarning, pk=int(value), seller=seller)


class ContactLogView(ActionView):
    permission_required = PERM

    def back(self, **kwargs) -> str:
        return reverse("sellers:health_seller", args=[kwargs["pk"]])

    def act(self, request, **kwargs):
        seller = get_object_or_404(Seller, pk=kwargs["pk"])
        warning = _warning_of(seller, request.POST.get("warning", ""))
        services.contact_log(
            actor=request.user,
            seller=seller,
            channel=request.POST.get("channel", ""),
            notes=request.POST.get("notes", ""),
            warning=warning,
        )
        return "Contact logged.", self.back(**kwargs)


class PlanCreateView(ActionView):
    permission_required = PERM

    def back(self, **kwargs) -> str:
        return reverse("sellers:health_seller", args=[kwargs["pk"]])

    def act(self, request, **kwargs):
        seller = get_object_or_404(Seller.objects.select_related("market"), pk=kwargs["pk"])
        try:
            review = date.fromisoformat(request.POST.get("review_date", ""))
        except ValueError:
            raise DomainError("Review date: give a date as YYYY-MM-DD.", field="review_date") from None
        warning = _warning_of(seller, request.POST.get("warning", ""))
        plan = services.plan_create(
            actor=request.user,
            seller=seller,
            metric=request.POST.get("metric", ""),
            actions=request.POST.get("actions", ""),
            target_value=request.POST.get("target_value", ""),
            review_date=review,
            warning=warning,
        )
        return f"Improvement plan agreed; review on {plan.review_date:%Y-%m-%d}.", self.back(**kwargs)


class WarningTakeView(ActionView):
    permission_required = PERM

    def back(self, **kwargs) -> str:
        return reverse("sellers:health_worklist")

    def act(self, request, **kwargs):
        warning = get_object_or_404(HealthWarning, pk=kwargs["pk"])
        services.warning_assign(actor=request.user, warning=warning, assignee=request.user)
        return "Warning assigned to you.", reverse("sellers:health_seller", args=[warning.seller_id])


class WorklistView(PermissionRequiredPageMixin, TemplateView):
    """Tier 2's worklist: open warnings of a market, most severe and oldest first."""

    template_name = "health/worklist.html"
    permission_required = PERM

    def get_context_data(self, **kwargs):
        market = self.request.GET.get("market", "")
        return {
            **super().get_context_data(**kwargs),
            "market": market,
            "warnings": selectors.open_warnings(market=market)[:200],
        }


PORTFOLIO_COLUMNS = [
    ("seller__code", "Seller", "text"),
    ("seller__name", "Name", "text"),
    ("market_id", "Market", "text"),
    ("volume_band", "Band", "text"),
    ("warnings", "Open warnings", "int"),
    ("high", "High warnings", "int"),
    ("orders_shipped", "Orders (30 d)", "int"),
    ("late_dispatch_rate", "Late dispatch %", "number"),
    ("return_rate", "Return %", "number"),
    ("lost_damaged_rate", "Lost/damaged %", "number"),
    ("overdue_ar", "Overdue AR", "number"),
    ("dso_days", "DSO days", "number"),
    ("compensation_cost_per_100", "Compensation per 100", "number"),
    ("csat", "CSAT", "number"),
]


class PortfolioView(PermissionRequiredPageMixin, TemplateView):
    """Sellers ranked by risk on the latest night (30-day window), with filters and an Excel export."""

    template_name = "health/portfolio.html"
    permission_required = PERM

    def _filters(self) -> dict:
        get = self.request.GET
        return {
            "market": get.get("market", ""),
            "band": get.get("band", "") if get.get("band", "") in VolumeBand.values else "",
            "severity": get.get("severity", "") if get.get("severity", "") in HealthWarning.Severity.values else "",
            "warned_only": get.get("warned_only") == "1",
        }

    def get(self, request, *args, **kwargs):
        if request.GET.get("format") == "xlsx":
            rows = selectors.portfolio(**self._filters()).values_list(*[c[0] for c in PORTFOLIO_COLUMNS])
            columns = [Column(title, kind=kind, decimals=2) for _f, title, kind in PORTFOLIO_COLUMNS]
            sheet = Sheet(name="Portfolio", columns=columns, rows=(list(r) for r in rows.iterator()))
            return workbook_response(filename="seller-health-portfolio.xlsx", sheets=[sheet])
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        filters = self._filters()
        return {
            **super().get_context_data(**kwargs),
            "filters": filters,
            "bands": VolumeBand.choices,
            "severities": HealthWarning.Severity.choices,
            "rows": selectors.portfolio(**filters)[:200],
        }


# --- Portal ------------------------------------------------------------------------------------

TIPS = {
    "late_dispatch_rate": gettext_lazy(
        "Hand parcels to the carrier within the dispatch allowance; book pick-ups for peak days."
    ),
    "return_rate": gettext_lazy("Check product descriptions and sizes against the most returned items."),
    "lost_damaged_rate": gettext_lazy("Use sturdier packaging for fragile items and seal parcels with tamper tape."),
    "overdue_ar": gettext_lazy("Pay overdue invoices or switch to deduction from your payouts."),
    "compensation_cost_per_100": gettext_lazy(
        "Pack carefully and ship on time: most compensation follows damage and delays."
    ),
}


class PortalPerformanceView(SellerPortalMixin, TemplateView):
    template_name = "health/portal_performance.html"

    def get_context_data(self, **kwargs):
        day, rows = selectors.metric_rows(self.seller, window_days=30)
        warnings = selectors.with_labels(selectors.open_warnings(seller=self.seller))
        return {
            **super().get_context_data(**kwargs),
            "seller": self.seller,
            "business_date": day,
            "rows": rows,
            "chart": _trend_chart(self.seller, "late_dispatch_rate", _("Late dispatch, 7-day rate (%)")),
            "warnings": warnings,
            "plans": selectors.with_labels(selectors.plans(self.seller).filter(status=ImprovementPlan.Status.OPEN)),
            "tips": [TIPS[w.metric] for w in warnings if w.metric in TIPS],
        }


class PortalAcknowledgeView(SellerPortalMixin, View):
    """The seller acknowledges its warning or plan; another seller's is a 404 like a missing one."""

    http_method_names = ["post"]

    def post(self, request, kind: str, pk: int):
        models = {"warning": HealthWarning, "plan": ImprovementPlan}
        if kind not in models:
            raise Http404
        model = models[kind]
        obj = get_object_or_404(model, pk=pk, seller=self.seller)
        services.seller_acknowledge(
            actor=request.user, seller=self.seller, **({"warning": obj} if kind == "warning" else {"plan": obj})
        )
        messages.success(request, _("Thank you: we have noted that you read it."))
        return redirect("portal:health_performance")


# --- Warning rules (versioned per market, four eyes) ------------------------------------------


class RuleSetListView(PermissionRequiredPageMixin, TemplateView):
    template_name = "health/rules.html"
    permission_required = "sellers.view_healthwarning"

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "rule_sets": WarningRuleSet.objects.select_related("author", "approved_by")[:100],
            "defaults": rules.DEFAULT_PARAMS,
            "rule_labels": rules.RULES,
            "markets": Market.objects.filter(is_active=True),
        }


class RuleSetDraftView(ActionView):
    permission_required = "sellers.add_warningruleset"

    def back(self, **kwargs) -> str:
        return reverse("sellers:health_rules")

    def act(self, request, **kwargs):
        market = Market.objects.filter(pk=request.POST.get("market", ""), is_active=True).first()
        if market is None:
            raise DomainError("Market: choose one of the active markets.", field="market")
        params = {name: request.POST[name] for name in rules.DEFAULT_PARAMS if request.POST.get(name, "") != ""}
        rule_set = services.rule_set_draft(
            actor=request.user, market=market, params=params, note=request.POST.get("note", "")
        )
        return f"Draft v{rule_set.version} for {market.code} saved; another user activates it.", self.back()


class RuleSetActivateView(ActionView):
    permission_required = "sellers.approve_warningruleset"

    def back(self, **kwargs) -> str:
        return reverse("sellers:health_rules")

    def act(self, request, **kwargs):
        rule_set = get_object_or_404(WarningRuleSet, pk=kwargs["pk"])
        rule_set = services.rule_set_activate(actor=request.user, rule_set=rule_set)
        return f"{rule_set.market_id} warning rules v{rule_set.version} active.", self.back()
