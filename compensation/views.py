"""Compensation staff pages: requests with the QA scorecard, uploads with a preview, policy
versions, audit runs, the QA sample, chargebacks and disputes, guarantee claims with their aging,
reports and corrective actions. Thin: a form validates, one service call, DomainError -> message."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import ngettext
from django.views import View
from django.views.generic import DetailView, ListView, TemplateView
from django_filters.views import FilterView

from settlement_ops.errors import DomainError
from settlement_ops.forms import add_domain_error
from settlement_ops.models import Market
from settlement_ops.permissions import PermissionRequiredPageMixin

from . import exports, selectors, services
from .filters import ChargebackFilter, DisputeFilter, RequestFilter
from .forms import (
    AttributeForm,
    CorrectiveActionForm,
    DecisionForm,
    MarketForm,
    OverrideForm,
    ReasonForm,
    ReviewForm,
    UploadForm,
)
from .models import AuditPolicy, AuditRun, CorrectiveAction, Dispute, GuaranteeClaim, IntakeUpload, QaSample


def _date(value, default: date) -> date:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        return default


# --- Requests -------------------------------------------------------------------------------------


class RequestListView(PermissionRequiredPageMixin, FilterView):
    template_name = "compensation/request_list.html"
    permission_required = "compensation.view_compensationrequest"
    filterset_class = RequestFilter
    paginate_by = 50

    def get_queryset(self):
        return selectors.requests_search().order_by("-issued_at", "-id")

    def get(self, request, *args, **kwargs):
        if request.GET.get("format") == "xlsx":
            if not request.user.has_perm("compensation.export_compensationrequest"):
                return render(request, "403.html", status=403)
            filterset = RequestFilter(request.GET, queryset=self.get_queryset())
            return exports.requests_workbook(filterset.qs)
        return super().get(request, *args, **kwargs)


class RequestDetailView(PermissionRequiredPageMixin, DetailView):
    """The request and, for QA, its scorecard: results, shipment events and charge trace beside
    it, a verdict per attribute, the liable party and the chargeback."""

    template_name = "compensation/request_detail.html"
    permission_required = "compensation.view_compensationrequest"
    context_object_name = "req"

    def get_queryset(self):
        return selectors.requests_search()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        req = self.object
        attributes = req.policy.attributes.all() if req.policy_id else []
        ctx.update(
            selectors.scorecard(req),
            agreement=selectors.review_agreement(req),
            review_form=kwargs.get("review_form") or ReviewForm(attributes=attributes),
            override_form=OverrideForm(),
            chargeback=getattr(req, "chargeback", None) if hasattr(req, "chargeback") else None,
        )
        return ctx


class RequestActionView(PermissionRequiredPageMixin, View):
    """POST requests/<pk>/<action>/: review (scorecard), override (liable party), chargeback."""

    action = "review"
    PERMISSIONS = {
        "review": "compensation.add_qareview",
        "override": "compensation.audit_compensationrequest",
        "chargeback": "compensation.add_chargeback",
    }

    def dispatch(self, request, *args, **kwargs):
        self.permission_required = self.PERMISSIONS[self.action]
        return super().dispatch(request, *args, **kwargs)

    def post(self, request, pk):
        req = get_object_or_404(selectors.requests_search(), pk=pk)
        try:
            if self.action == "review":
                form = ReviewForm(request.POST, attributes=req.policy.attributes.all() if req.policy_id else [])
                if not form.is_valid():
                    raise DomainError("Score every attribute and choose a verdict.")
                services.qa_review_submit(
                    actor=request.user,
                    request=req,
                    verdict=form.cleaned_data["verdict"],
                    scores=form.scores(),
                    comment=form.cleaned_data["comment"],
                )
                messages.success(request, "Scorecard saved.")
            elif self.action == "override":
                form = OverrideForm(request.POST)
                if not form.is_valid():
                    raise DomainError("Choose the liable party and give the reason.")
                services.liable_override(
                    actor=request.user,
                    request=req,
                    party=form.cleaned_data["party"],
                    reason=form.cleaned_data["reason"],
                )
                messages.success(request, "Liable party changed.")
            else:
                chargeback = services.chargeback_post(actor=request.user, request=req)
                messages.success(request, f"Charged back: {chargeback}.")
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("compensation:request_detail", pk)


# --- Upload ---------------------------------------------------------------------------------------


class UploadView(PermissionRequiredPageMixin, View):
    template_name = "compensation/upload.html"
    permission_required = "compensation.add_compensationrequest"

    def get(self, request):
        return render(request, self.template_name, {"form": UploadForm()})

    def post(self, request):
        form = UploadForm(request.POST, request.FILES)
        ctx = {"form": form}
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                stored, problems = services.upload_preview(actor=request.user, filename=upload.name, data=upload.read())
            except DomainError as exc:
                add_domain_error(form, exc, fields=("file",))
            else:
                ctx.update(upload=stored, problems=problems, rows=stored.records[:50], count=len(stored.records))
        return render(request, self.template_name, ctx)


class UploadConfirmView(PermissionRequiredPageMixin, View):
    permission_required = "compensation.add_compensationrequest"

    def post(self, request, pk):
        upload = get_object_or_404(IntakeUpload, pk=pk, uploaded_by=request.user)
        try:
            result = services.upload_confirm(actor=request.user, upload=upload)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("compensation:upload")
        if result.rejected:
            messages.error(
                request,
                ngettext(
                    "%(n)d row was refused; nothing was imported.",
                    "%(n)d rows were refused; nothing was imported.",
                    len(result.rejected),
                )
                % {"n": len(result.rejected)},
            )
            return redirect("compensation:upload")
        messages.success(request, f"Imported {result.created} new request(s), {result.updated} updated.")
        return redirect("compensation:request_list")


# --- Policies and audit runs ---------------------------------------------------------------------------


class PolicyListView(PermissionRequiredPageMixin, ListView):
    template_name = "compensation/policy_list.html"
    permission_required = "compensation.view_auditpolicy"
    paginate_by = 50

    def get_queryset(self):
        return AuditPolicy.objects.select_related("author", "approved_by").order_by("market", "-version")

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "market_form": MarketForm()}


class PolicyNewView(PermissionRequiredPageMixin, View):
    permission_required = "compensation.add_auditpolicy"

    def post(self, request):
        form = MarketForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose a market.")
            return redirect("compensation:policy_list")
        try:
            policy = services.policy_draft_create(actor=request.user, market=form.cleaned_data["market"])
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("compensation:policy_list")
        return redirect("compensation:policy_detail", policy.pk)


class PolicyDetailView(PermissionRequiredPageMixin, DetailView):
    template_name = "compensation/policy_detail.html"
    permission_required = "compensation.view_auditpolicy"
    context_object_name = "policy"
    queryset = AuditPolicy.objects.select_related("author", "approved_by", "market")

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "attribute_form": AttributeForm()}


class PolicyActionView(PermissionRequiredPageMixin, View):
    """POST policies/<pk>/attribute/ (draft edit) or /activate/ (four eyes)."""

    action = "attribute"

    def dispatch(self, request, *args, **kwargs):
        self.permission_required = (
            "compensation.add_auditpolicy" if self.action == "attribute" else "compensation.approve_auditpolicy"
        )
        return super().dispatch(request, *args, **kwargs)

    def post(self, request, pk):
        policy = get_object_or_404(AuditPolicy, pk=pk)
        try:
            if self.action == "attribute":
                form = AttributeForm(request.POST)
                if not form.is_valid():
                    raise DomainError("Fill in the attribute's code, description and severity.")
                services.policy_attribute_save(actor=request.user, policy=policy, **form.cleaned_data)
                messages.success(request, "Attribute saved.")
            else:
                services.policy_activate(actor=request.user, policy=policy)
                messages.success(request, f"Version {policy.version} is active.")
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("compensation:policy_detail", pk)


class AuditRunListView(PermissionRequiredPageMixin, ListView):
    template_name = "compensation/audit_runs.html"
    permission_required = "compensation.view_auditrun"
    paginate_by = 50

    def get_queryset(self):
        return AuditRun.objects.select_related("policy", "started_by", "market").order_by("-started_at")

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "market_form": MarketForm()}


class AuditRunStartView(PermissionRequiredPageMixin, View):
    permission_required = "compensation.add_auditrun"

    def post(self, request):
        form = MarketForm(request.POST)
        try:
            if not form.is_valid():
                raise DomainError("Choose a market.")
            market = form.cleaned_data["market"]
            run = services.audit_run(market=market, actor=request.user)
            posted = services.chargebacks_post_due(actor=request.user, market=market)
            messages.success(
                request,
                f"Audited {run.audited}: {run.compliant} compliant, {run.non_compliant} non-compliant, "
                f"{run.needs_review} to review; {posted} chargeback(s) posted.",
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("compensation:audit_runs")


class SampleView(PermissionRequiredPageMixin, TemplateView):
    """The QA work queue: the day's sample per market, with what is still unscored."""

    template_name = "compensation/sample.html"
    permission_required = "compensation.add_qareview"

    def get_context_data(self, **kwargs):
        day = _date(self.request.GET.get("day"), timezone.localdate())
        samples = (
            QaSample.objects.filter(sample_date=day)
            .select_related("request")
            .prefetch_related("request__reviews")
            .order_by("market_id", "why", "request_id")
        )
        return {**super().get_context_data(**kwargs), "day": day, "samples": samples[:500], "market_form": MarketForm()}


class SampleDrawView(PermissionRequiredPageMixin, View):
    permission_required = "compensation.add_qareview"

    def post(self, request):
        form = MarketForm(request.POST)
        day = _date(request.POST.get("day"), timezone.localdate())
        if form.is_valid():
            count = services.qa_sample_draw(market=form.cleaned_data["market"], day=day, actor=request.user)
            messages.success(request, f"{count} request(s) added to the sample.")
        else:
            messages.error(request, "Choose a market.")
        return redirect(f"{request.path.rsplit('draw/', 1)[0]}?day={day.isoformat()}")


# --- Chargebacks and disputes --------------------------------------------------------------------


class ChargebackListView(PermissionRequiredPageMixin, FilterView):
    template_name = "compensation/chargeback_list.html"
    permission_required = "compensation.view_chargeback"
    filterset_class = ChargebackFilter
    paginate_by = 50

    def get_queryset(self):
        return selectors.chargebacks_for(self.request.user).order_by("-created_at", "-id")

    def get(self, request, *args, **kwargs):
        if request.GET.get("format") == "xlsx":
            if not request.user.has_perm("compensation.export_compensationrequest"):
                return render(request, "403.html", status=403)
            return exports.chargebacks_workbook(ChargebackFilter(request.GET, queryset=self.get_queryset()).qs)
        return super().get(request, *args, **kwargs)


class ChargebackDetailView(PermissionRequiredPageMixin, DetailView):
    template_name = "compensation/chargeback_detail.html"
    permission_required = "compensation.view_chargeback"
    context_object_name = "chargeback"

    def get_queryset(self):
        return selectors.chargebacks_for(self.request.user)

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "disputes": self.object.disputes.select_related("raised_by", "decided_by", "approved_by"),
            "reason_form": ReasonForm(),
        }


class ChargebackDisputeView(PermissionRequiredPageMixin, View):
    """Staff record the vendor's (or a seller's) dispute of a chargeback."""

    permission_required = "compensation.add_dispute"

    def post(self, request, pk):
        chargeback = get_object_or_404(selectors.chargebacks_for(request.user), pk=pk)
        form = ReasonForm(request.POST)
        try:
            if not form.is_valid():
                raise DomainError("Say why the chargeback is disputed.")
            services.dispute_open(actor=request.user, chargeback=chargeback, reason=form.cleaned_data["reason"])
            messages.success(request, "Dispute recorded; compensation QA decides it.")
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("compensation:chargeback_detail", pk)


class DisputeListView(PermissionRequiredPageMixin, FilterView):
    template_name = "compensation/dispute_list.html"
    permission_required = "compensation.view_dispute"
    filterset_class = DisputeFilter
    paginate_by = 50

    def get_queryset(self):
        return selectors.disputes_for(self.request.user).order_by("-created_at")


class DisputeActionView(PermissionRequiredPageMixin, View):
    """POST disputes/<pk>/decide/ (QA accepts or rejects) or /approve/ (finance reverses)."""

    action = "decide"

    def dispatch(self, request, *args, **kwargs):
        self.permission_required = (
            "compensation.decide_dispute" if self.action == "decide" else "compensation.approve_dispute"
        )
        return super().dispatch(request, *args, **kwargs)

    def post(self, request, pk):
        dispute = get_object_or_404(Dispute, pk=pk)
        try:
            if self.action == "decide":
                form = DecisionForm(request.POST)
                if not form.is_valid():
                    raise DomainError("Accept or reject the dispute.")
                services.dispute_decide(
                    actor=request.user,
                    dispute=dispute,
                    accept=form.cleaned_data["decision"] == "accept",
                    note=form.cleaned_data["note"],
                )
                messages.success(request, "Dispute decided.")
            else:
                services.dispute_approve(actor=request.user, dispute=dispute, note=request.POST.get("note", ""))
                messages.success(request, "Chargeback reversed.")
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("compensation:dispute_list")


# --- Guarantee claims --------------------------------------------------------------------------------


class ClaimListView(PermissionRequiredPageMixin, TemplateView):
    """Unpaid guarantee claims by age, and every claim."""

    template_name = "compensation/claim_list.html"
    permission_required = "compensation.view_guaranteeclaim"

    def get_context_data(self, **kwargs):
        aging = selectors.claims_aging()
        buckets: dict[str, int] = {}
        for row in aging:
            buckets[row["bucket"]] = buckets.get(row["bucket"], 0) + 1
        return {
            **super().get_context_data(**kwargs),
            "aging": aging,
            "chart": selectors.bar_chart_svg(list(buckets.items()), label="Open claims by age (days)"),
            "claims": GuaranteeClaim.objects.select_related("vendor").order_by("-period_end")[:200],
            "market_form": MarketForm(),
        }


class ClaimDetailView(PermissionRequiredPageMixin, DetailView):
    template_name = "compensation/claim_detail.html"
    permission_required = "compensation.view_guaranteeclaim"
    context_object_name = "claim"
    queryset = GuaranteeClaim.objects.select_related("vendor", "credited_by")


class ClaimLetterView(PermissionRequiredPageMixin, View):
    permission_required = "compensation.view_guaranteeclaim"

    def get(self, request, pk):
        return exports.claim_letter_workbook(get_object_or_404(GuaranteeClaim.objects.select_related("vendor"), pk=pk))


class ClaimsBuildView(PermissionRequiredPageMixin, View):
    permission_required = "compensation.add_guaranteeclaim"

    def post(self, request):
        form = MarketForm(request.POST)
        try:
            if not form.is_valid():
                raise DomainError("Choose a market.")
            claims = services.guarantee_claims_build(market=form.cleaned_data["market"], actor=request.user)
            credited = services.guarantee_claims_check_credits(market=form.cleaned_data["market"])
            messages.success(request, f"{len(claims)} claim(s) built or extended; {credited} matched to credits.")
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("compensation:claim_list")


# --- Reports and corrective actions ------------------------------------------------------------------------


class ReportView(PermissionRequiredPageMixin, TemplateView):
    template_name = "compensation/report.html"
    permission_required = "compensation.view_qareview"

    def get(self, request, *args, **kwargs):
        if request.GET.get("format") == "xlsx":
            if not request.user.has_perm("compensation.export_compensationrequest"):
                return render(request, "403.html", status=403)
            return exports.report_workbook(self._figures())
        return super().get(request, *args, **kwargs)

    def _figures(self):
        period = self.request.GET.get("period", "weekly")
        end = _date(self.request.GET.get("end"), timezone.localdate())
        start, end = selectors.period_bounds(period, end)
        market = Market.objects.filter(pk=self.request.GET.get("market") or "").first()
        return selectors.report(start=start, end=end, market=market)

    def get_context_data(self, **kwargs):
        figures = self._figures()
        charts = {
            dim: selectors.bar_chart_svg(
                [(r[dim] or "—", r["amount"]) for r in rows], label=f"Compensation cost by {dim}"
            )
            for dim, rows in figures["by"].items()
            if dim in ("reason", "liable_party", "agent")
        }
        charts["pareto"] = selectors.bar_chart_svg(
            [(f["attribute__code"], f["n"]) for f in figures["failures"]], label="Failures by attribute"
        )
        return {
            **super().get_context_data(**kwargs),
            "report": figures,
            "charts": charts,
            "period": self.request.GET.get("period", "weekly"),
            "markets": Market.objects.filter(is_active=True),
        }


class ActionListView(PermissionRequiredPageMixin, TemplateView):
    template_name = "compensation/actions.html"
    permission_required = "compensation.view_correctiveaction"

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "rows": selectors.corrective_actions_with_metrics(),
            "form": kwargs.get("form") or CorrectiveActionForm(),
        }


class ActionSaveView(PermissionRequiredPageMixin, View):
    """POST actions/ (new) or actions/<pk>/ (update status, owner, due date)."""

    permission_required = "compensation.add_correctiveaction"

    def post(self, request, pk=None):
        action = get_object_or_404(CorrectiveAction, pk=pk) if pk else None
        form = CorrectiveActionForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Fill in the title, market, owner, due date and status.")
            return redirect("compensation:actions")
        try:
            services.corrective_action_save(actor=request.user, action=action, **form.cleaned_data)
            messages.success(request, "Corrective action saved.")
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("compensation:actions")
