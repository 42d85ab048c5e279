"""Staff pages of risk: dashboard, findings, cases and holds, rules, nightly jobs. Thin: each
POST calls one service; a DomainError becomes a message on the page it came from."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views import View
from django.views.generic import DetailView, TemplateView
from django_filters.views import FilterView

from billing.payables.models import PaymentRun
from sellers.models import Seller
from settlement_ops.errors import DomainError
from settlement_ops.models import Market
from settlement_ops.permissions import ActionView, PermissionRequiredPageMixin, log_refusal
from vendors.models import Contract, Vendor

from . import exports, holds, nightly_chain, selectors, services
from .filters import CaseFilter, FindingFilter
from .models import Case, Finding, Hold, NightlyStep, RootCause, RuleVersion
from .rules import RULES

VIEW = "risk.view_finding"
WORK = "risk.work_case"


class DashboardView(PermissionRequiredPageMixin, TemplateView):
    template_name = "risk/dashboard.html"
    permission_required = VIEW

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        data = selectors.dashboard()
        ctx.update(data)
        ctx["trend_svg"] = mark_safe(selectors.trend_svg(data["trend"]))  # noqa: S308 - built with escape()
        ctx["work"] = selectors.open_work(self.request.user)
        return ctx


# --- Findings ----------------------------------------------------------------------------------------


class FindingListView(PermissionRequiredPageMixin, FilterView):
    template_name = "risk/finding_list.html"
    permission_required = VIEW
    filterset_class = FindingFilter
    paginate_by = 50

    def get_queryset(self):
        return selectors.findings_list()


class FindingExportView(PermissionRequiredPageMixin, View):
    permission_required = (VIEW, "risk.export_risk")

    def get(self, request):
        return exports.findings_workbook(FindingFilter(request.GET, queryset=selectors.findings_list()).qs)


class FindingDetailView(PermissionRequiredPageMixin, DetailView):
    template_name = "risk/finding_detail.html"
    permission_required = VIEW
    context_object_name = "finding"

    def get_queryset(self):
        return selectors.findings_list()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["links"] = selectors.evidence_links(self.object)
        ctx["rule_name"] = selectors.rule_name(self.object.rule_code)
        ctx["open_cases"] = Case.objects.filter(market=self.object.market).exclude(state=Case.State.CLOSED)[:50]
        return ctx


class FindingDismissView(ActionView):
    permission_required = WORK

    def back(self, pk):
        return reverse("risk:finding_detail", args=[pk])

    def act(self, request, pk):
        finding = get_object_or_404(Finding, pk=pk)
        services.finding_dismiss(actor=request.user, finding=finding, reason=request.POST.get("reason", ""))
        return "The finding is dismissed.", self.back(pk)


class CaseOpenView(ActionView):
    """Open a case from findings (the list's checkboxes or one finding's page), or add them to
    an open case."""

    permission_required = WORK

    def back(self):
        return reverse("risk:finding_list")

    def act(self, request):
        ids = [int(i) for i in request.POST.getlist("findings") if i.isdigit()]
        findings = list(Finding.objects.filter(pk__in=ids))
        case_id = request.POST.get("case")
        if case_id and case_id.isdigit():
            case = get_object_or_404(Case, pk=int(case_id))
            services.case_update(actor=request.user, case=case, add_findings=findings)
            return f"Added to case {case.number}.", reverse("risk:case_detail", args=[case.pk])
        case = services.case_open(actor=request.user, findings=findings, title=request.POST.get("title", ""))
        return f"Case {case.number} opened.", reverse("risk:case_detail", args=[case.pk])


# --- Cases -----------------------------------------------------------------------------------------------


class CaseListView(PermissionRequiredPageMixin, FilterView):
    template_name = "risk/case_list.html"
    permission_required = "risk.view_case"
    filterset_class = CaseFilter
    paginate_by = 50

    def get_queryset(self):
        return selectors.cases_list()


class CaseExportView(PermissionRequiredPageMixin, View):
    permission_required = ("risk.view_case", "risk.export_risk")

    def get(self, request):
        return exports.cases_workbook(CaseFilter(request.GET, queryset=selectors.cases_list()).qs)


class CaseDetailView(PermissionRequiredPageMixin, DetailView):
    template_name = "risk/case_detail.html"
    permission_required = "risk.view_case"
    context_object_name = "case"

    def get_queryset(self):
        return selectors.cases_list()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        case = self.object
        ctx["findings"] = case.findings.all()
        ctx["holds"] = selectors.holds_list().filter(case=case)
        ctx["root_causes"] = RootCause.choices
        ctx["hold_kinds"] = Hold.Kind.choices
        ctx["vendors"] = Vendor.objects.filter(market=case.market).order_by("code")
        ctx["sellers"] = Seller.objects.filter(market=case.market).order_by("code")
        ctx["contracts"] = Contract.objects.filter(market=case.market, status=Contract.Status.ACTIVE).order_by(
            "reference"
        )
        ctx["draft_runs"] = PaymentRun.objects.filter(market=case.market, status=PaymentRun.Status.DRAFT)
        ctx["analysts"] = get_user_model().objects.filter(groups__name="risk_analyst", is_active=True)
        return ctx


def _case_back(pk):
    return reverse("risk:case_detail", args=[pk])


class CaseUpdateView(ActionView):
    permission_required = WORK

    def back(self, pk):
        return _case_back(pk)

    def act(self, request, pk):
        case = get_object_or_404(Case, pk=pk)
        owner = None
        if request.POST.get("owner", "").isdigit():
            owner = get_object_or_404(get_user_model(), pk=int(request.POST["owner"]))
        recovered = request.POST.get("money_recovered", "").strip()
        try:
            recovered = Decimal(recovered) if recovered else None
        except InvalidOperation as exc:
            raise DomainError("Money recovered is a number.", field="money_recovered") from exc
        services.case_update(
            actor=request.user,
            case=case,
            owner=owner,
            root_cause=request.POST.get("root_cause"),
            root_cause_text=request.POST.get("root_cause_text"),
            money_recovered=recovered,
        )
        return "The case is updated.", self.back(pk)


class CaseCloseView(ActionView):
    """Close (or ask to close) a case; approving a requested close is a finance approver's."""

    permission_required = "risk.view_case"

    def back(self, pk):
        return _case_back(pk)

    def act(self, request, pk):
        case = get_object_or_404(Case, pk=pk)
        needed = "risk.approve_case_close" if case.state == Case.State.CLOSE_REQUESTED else WORK
        if not request.user.has_perm(needed):
            log_refusal(request, "page")
            raise PermissionDenied
        case = services.case_close(actor=request.user, case=case, resolution=request.POST.get("resolution", ""))
        if case.is_closed:
            return f"Case {case.number} is closed.", self.back(pk)
        return "Closing needs a second person: a finance approver will confirm it.", self.back(pk)


# --- Holds ------------------------------------------------------------------------------------------------


class HoldPlaceView(ActionView):
    permission_required = "risk.propose_hold"

    def back(self, pk):
        return _case_back(pk)

    def act(self, request, pk):
        case = get_object_or_404(Case, pk=pk)
        subject = {}
        for name, model in (("vendor", Vendor), ("seller", Seller), ("contract", Contract)):
            value = request.POST.get(name, "")
            if value.isdigit():
                subject[name] = get_object_or_404(model, pk=int(value))
        hold = holds.hold_place(
            actor=request.user,
            case=case,
            kind=request.POST.get("kind", ""),
            reason=request.POST.get("reason", ""),
            **subject,
        )
        return f"{hold.get_kind_display()}: in effect now.", self.back(pk)


class HoldRequestReleaseView(ActionView):
    permission_required = "risk.propose_hold"

    def back(self, pk):
        return _case_back(get_object_or_404(Hold, pk=pk).case_id)

    def act(self, request, pk):
        hold = get_object_or_404(Hold, pk=pk)
        holds.hold_request_release(actor=request.user, hold=hold, note=request.POST.get("note", ""))
        return "Release requested: a finance approver decides.", self.back(pk)


class HoldReleaseView(ActionView):
    permission_required = "risk.release_hold"

    def back(self, pk):
        return _case_back(get_object_or_404(Hold, pk=pk).case_id)

    def act(self, request, pk):
        hold = get_object_or_404(Hold, pk=pk)
        holds.hold_release(actor=request.user, hold=hold, note=request.POST.get("note", ""))
        return "The hold is released.", self.back(pk)


class HoldCoApproveView(ActionView):
    permission_required = ("risk.view_hold", "payables.approve_paymentrun")

    def back(self, pk):
        return _case_back(get_object_or_404(Hold, pk=pk).case_id)

    def act(self, request, pk):
        hold = get_object_or_404(Hold, pk=pk)
        run_id = request.POST.get("run", "")
        if not run_id.isdigit():
            raise DomainError("Choose the payment run to co-sign.", field="run")
        run = get_object_or_404(PaymentRun, pk=int(run_id))
        holds.hold_co_approve(actor=request.user, hold=hold, run=run)
        return f"Co-signed {run.number}; another approver approves it.", self.back(pk)


# --- Rules and nightly jobs ------------------------------------------------------------------------------


class RuleListView(PermissionRequiredPageMixin, TemplateView):
    template_name = "risk/rule_list.html"
    permission_required = "risk.view_ruleversion"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        current = {(v.rule_code, v.market_id): v for v in RuleVersion.objects.filter(is_current=True)}
        markets = list(Market.objects.filter(is_active=True).order_by("code"))
        ctx["rules"] = [
            {
                "rule": rule,
                "markets": [
                    {"market": m, "version": current.get((rule.code, m.code)), "defaults": rule.defaults(m)}
                    for m in markets
                ],
            }
            for rule in RULES
        ]
        return ctx


class RuleParamsView(ActionView):
    permission_required = "risk.change_ruleparams"

    def back(self):
        return reverse("risk:rule_list")

    def act(self, request):
        import json

        market = Market.objects.filter(code=request.POST.get("market", "")).first()
        if market is None:
            raise DomainError("Choose the market.", field="market")
        try:
            params = json.loads(request.POST.get("params") or "{}")
        except ValueError as exc:
            raise DomainError('Parameters are JSON, e.g. {"days": 14}.', field="params") from exc
        if not isinstance(params, dict):
            raise DomainError('Parameters are JSON, e.g. {"days": 14}.', field="params")
        version = services.rule_params_change(
            actor=request.user,
            rule_code=request.POST.get("rule_code", ""),
            market=market,
            params=params,
            note=request.POST.get("note", ""),
        )
        return f"{version.rule_code} in {market.code} is now version {version.version}.", self.back()


class NightlyJobsView(PermissionRequiredPageMixin, TemplateView):
    template_name = "risk/nightly.html"
    permission_required = "risk.view_nightlyrun"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["runs"] = selectors.nightly_runs(nights=30)
        ctx["steps"] = nightly_chain.collect_steps()
        return ctx


class NightlyRerunView(ActionView):
    permission_required = "risk.rerun_nightlystep"

    def back(self, pk=None):
        return reverse("risk:nightly")

    def act(self, request, pk):
        step = get_object_or_404(NightlyStep, pk=pk)
        nightly_chain.nightly_step_rerun(actor=request.user, step=step)
        return f"{step.label} of {step.run.market_id} {step.run.business_date} is queued again.", self.back()
