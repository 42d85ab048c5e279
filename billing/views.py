"""Billing pages: runs (list, detail with totals, exceptions and progress, start, resume, Excel),
shipment search and shipment detail with its full rating history, seller fee schedules (list,
detail, draft, approve / reject with four eyes). Thin: read through selectors, change state
through services."""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib import messages
from django.core.cache import cache
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.views import View
from django.views.generic import DetailView
from django_filters.views import FilterView

from settlement_ops.errors import DomainError
from settlement_ops.forms import add_domain_error
from settlement_ops.models import Market
from settlement_ops.pagination import EstimatingPaginator
from settlement_ops.permissions import ActionView, PermissionRequiredPageMixin

from . import fee_schedules, selectors, services
from .exports import fee_schedules_workbook, run_workbook_response
from .filters import BillingRunFilter, ExceptionFilter, FeeScheduleFilter, ShipmentFilter
from .forms import FeeLineFormSet, FeeScheduleForm
from .models import BillingRun, SellerFeeSchedule, Shipment


class RunListView(PermissionRequiredPageMixin, FilterView):
    template_name = "billing/run_list.html"
    permission_required = "billing.view_billingrun"
    filterset_class = BillingRunFilter
    paginate_by = 50

    def get_queryset(self):
        return selectors.runs_list()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["markets"] = Market.objects.filter(is_active=True)
        ctx["default_date"] = date.today() - timedelta(days=1)
        return ctx


# A completed run's totals, entries and exception counts never change (corrections are later
# runs' deltas): the run page caches their rendered tables this long (an hour, so a new page
# layout shows up soon after a deploy).
SUMMARY_CACHE_SECONDS = 3600


class RunDetailView(PermissionRequiredPageMixin, DetailView):
    template_name = "billing/run_detail.html"
    permission_required = "billing.view_billingrun"
    model = BillingRun
    context_object_name = "run"

    def get_queryset(self):
        return selectors.runs_list()

    def _summary(self, run: BillingRun) -> dict:
        """The run's totals by vendor and service, overall and for its first 50 sellers, from the
        totals its chunks stored, its ledger entries and its exception counts. A completed run's
        are summed once and cached: on a big night the stored totals hold hundreds of thousands
        of rows, too many to sum on every visit."""
        # The creation time too: a database recreated under a shared cache reuses run ids.
        key = f"billing:run-summary:{run.pk}:{run.created_at.timestamp()}"
        if run.status == BillingRun.Status.COMPLETED:
            cached = cache.get(key)
            if cached is not None:
                return cached
        totals = list(selectors.run_totals(run))
        for row in totals:
            row["margin"] = row["seller_net"] - row["vendor_net"]
        grand = selectors.run_grand_total(run)
        grand["margin"] = grand["seller_net"] - grand["vendor_net"]
        result = {
            "totals": totals,
            "grand": grand,
            "by_seller": list(selectors.run_totals(run, by=("seller_id", "seller__code"))[:50]),
            "entries": list(run.entries.select_related("vendor")),
            "exception_counts": list(selectors.run_exception_counts(run)),
        }
        if run.status == BillingRun.Status.COMPLETED:
            cache.set(key, result, timeout=24 * 3600)
        return result

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        run = self.object
        completed = run.status == BillingRun.Status.COMPLETED
        exception_filter = page = None
        if not completed or run.exception_count:
            # (A completed run without exceptions has nothing to filter: no form, no list.)
            exception_filter = ExceptionFilter(self.request.GET, queryset=selectors.run_exceptions(run), prefix="ex")
            # A bounded count: a run with a million exceptions must not count them on every visit.
            page = EstimatingPaginator(exception_filter.qs, 50).get_page(self.request.GET.get("ex_page"))
        ctx.update(
            # Read only when the template renders the summary tables, which it caches for a
            # completed run (a cache time of 0 renders them every time).
            summary=SimpleLazyObject(lambda: self._summary(run)),
            summary_cache_seconds=SUMMARY_CACHE_SECONDS if completed else 0,
            progress=selectors.run_progress(run),
            health=run.health(),
            filter=exception_filter,
            exceptions_page=page,
            open_chunks=run.chunks.exclude(status="done").order_by("seq")[:50] if not completed else [],
        )
        return ctx


class RunProgressView(RunDetailView):
    """The progress card alone, polled by htmx while the run is active."""

    template_name = "billing/_run_progress.html"

    def get_context_data(self, **kwargs):
        return {"run": self.object, "progress": selectors.run_progress(self.object), "health": self.object.health()}


class RunStartView(PermissionRequiredPageMixin, View):
    permission_required = "billing.start_billingrun"

    def post(self, request):
        market = Market.objects.filter(pk=request.POST.get("market"), is_active=True).first()
        try:
            business_date = date.fromisoformat(request.POST.get("business_date", ""))
        except ValueError:
            business_date = None
        if market is None or business_date is None:
            messages.error(request, "Choose a market and a business date.")
            return redirect("billing:run_list")
        try:
            run = services.billing_run_start(market=market, business_date=business_date, actor=request.user)
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("billing:run_list")
        if run.business_date != business_date:
            messages.warning(
                request,
                f"Billing run {run.pk} of {market.code} for {run.business_date} is not finished, so it was "
                f"resumed first: its charge lines are posted once it completes. Start {business_date} after that.",
            )
        else:
            messages.success(request, f"Billing run {run.pk} of {market.code} for {business_date} started.")
        return redirect("billing:run_detail", pk=run.pk)


class RunResumeView(PermissionRequiredPageMixin, View):
    permission_required = "billing.start_billingrun"

    def post(self, request, pk):
        run = get_object_or_404(BillingRun, pk=pk)
        try:
            services.billing_run_resume(run=run, actor=request.user)
            messages.success(request, f"Billing run {run.pk} resumed.")
        except DomainError as error:
            messages.error(request, error.message)
        return redirect("billing:run_detail", pk=run.pk)


class RunExportView(PermissionRequiredPageMixin, View):
    permission_required = ("billing.view_billingrun", "billing.export_billing")

    def get(self, request, pk):
        return run_workbook_response(get_object_or_404(BillingRun, pk=pk))


class ShipmentListView(PermissionRequiredPageMixin, FilterView):
    template_name = "billing/shipment_list.html"
    permission_required = "billing.view_shipment"
    filterset_class = ShipmentFilter
    paginate_by = 50

    def get_queryset(self):
        return selectors.shipments_search()


class ShipmentDetailView(PermissionRequiredPageMixin, DetailView):
    template_name = "billing/shipment_detail.html"
    permission_required = "billing.view_shipment"
    model = Shipment
    context_object_name = "shipment"

    def get_queryset(self):
        return selectors.shipments_search()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["events"] = self.object.events.all()
        if self.request.user.has_perm("billing.view_chargeline"):
            ctx["history"] = selectors.shipment_history(self.object)
        return ctx


# --- Seller fee schedules (four eyes) ---------------------------------------------------------------


class FeeScheduleListView(PermissionRequiredPageMixin, FilterView):
    template_name = "billing/fee_schedule_list.html"
    permission_required = "billing.view_sellerfeeschedule"
    filterset_class = FeeScheduleFilter
    paginate_by = 50

    def get_queryset(self):
        return selectors.fee_schedules_list()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["today"] = timezone.localdate()
        ctx["in_force_ids"] = selectors.fee_schedules_in_force_ids(on=ctx["today"])
        return ctx


class FeeScheduleExportView(PermissionRequiredPageMixin, View):
    permission_required = ("billing.view_sellerfeeschedule", "billing.export_billing")

    def get(self, request):
        schedules = FeeScheduleFilter(request.GET, queryset=selectors.fee_schedules_list()).qs
        return fee_schedules_workbook(schedules)


class FeeScheduleDetailView(PermissionRequiredPageMixin, DetailView):
    template_name = "billing/fee_schedule_detail.html"
    permission_required = "billing.view_sellerfeeschedule"
    context_object_name = "schedule"

    def get_queryset(self):
        return selectors.fee_schedule_with_lines()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user, schedule = self.request.user, self.object
        ctx.update(
            today=timezone.localdate(),
            in_force=schedule.pk in selectors.fee_schedules_in_force_ids(on=timezone.localdate()),
            # The maker is refused anyway (four eyes); a button they cannot use is not shown.
            can_decide=schedule.is_editable
            and user.has_perm("billing.approve_sellerfeeschedule")
            and schedule.created_by_id != user.pk,
            history=schedule.history.select_related("history_user").order_by("-history_date")[:20],
        )
        return ctx


class FeeScheduleCreateView(PermissionRequiredPageMixin, View):
    permission_required = "billing.add_sellerfeeschedule"
    template_name = "billing/fee_schedule_form.html"

    def get(self, request):
        form = FeeScheduleForm(initial={"valid_from": timezone.localdate(), "service_level": "standard"})
        return render(request, self.template_name, {"form": form, "lines": FeeLineFormSet(prefix="lines")})

    def post(self, request):
        form, lines = FeeScheduleForm(request.POST), FeeLineFormSet(request.POST, prefix="lines")
        if form.is_valid() and lines.is_valid():
            # Blank rows are skipped; `filled` maps the service's row numbers back to form rows.
            filled = [line for line in lines.forms if not line.is_blank()]
            try:
                schedule = fee_schedules.seller_fee_schedule_create(
                    actor=request.user, lines=[line.cleaned_data for line in filled], **form.cleaned_data
                )
            except DomainError as exc:
                add_domain_error(form, exc, fields=() if exc.errors else None)
                for error in exc.errors:
                    line = filled[error["row"] - 1]
                    line.add_error(error["field"] if error["field"] in line.fields else None, error["message"])
            else:
                messages.success(
                    request,
                    f"Fee schedule {schedule.name} drafted. Another user with approval rights approves it before "
                    "it rates.",
                )
                return redirect("billing:fee_schedule_detail", pk=schedule.pk)
        return render(request, self.template_name, {"form": form, "lines": lines}, status=400)


class FeeScheduleApproveView(ActionView):
    permission_required = "billing.approve_sellerfeeschedule"

    def back(self, pk):
        return reverse("billing:fee_schedule_detail", args=[pk])

    def act(self, request, pk):
        schedule = fee_schedules.seller_fee_schedule_approve(
            actor=request.user, schedule=get_object_or_404(SellerFeeSchedule, pk=pk)
        )
        return f"Fee schedule {schedule.name} approved: it rates shipments from {schedule.valid_from}.", self.back(pk)


class FeeScheduleRejectView(ActionView):
    permission_required = "billing.approve_sellerfeeschedule"

    def back(self, pk):
        return reverse("billing:fee_schedule_detail", args=[pk])

    def act(self, request, pk):
        schedule = fee_schedules.seller_fee_schedule_reject(
            actor=request.user,
            schedule=get_object_or_404(SellerFeeSchedule, pk=pk),
            reason=request.POST.get("reason", ""),
        )
        return f"Fee schedule {schedule.name} rejected.", self.back(pk)
