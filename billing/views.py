"""Billing pages: runs (list, detail with totals, exceptions and progress, start, resume, Excel),
shipment search and shipment detail with its full rating history. Thin: read through selectors,
change state through services."""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect
from django.views import View
from django.views.generic import DetailView
from django_filters.views import FilterView

from settlement_ops.errors import DomainError
from settlement_ops.models import Market
from settlement_ops.permissions import PermissionRequiredPageMixin

from . import selectors, services
from .exports import run_workbook_response
from .filters import BillingRunFilter, ExceptionFilter, ShipmentFilter
from .models import BillingRun, Shipment


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


class RunDetailView(PermissionRequiredPageMixin, DetailView):
    template_name = "billing/run_detail.html"
    permission_required = "billing.view_billingrun"
    model = BillingRun
    context_object_name = "run"

    def get_queryset(self):
        return selectors.runs_list()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        run = self.object
        totals = list(selectors.run_totals(run))
        for row in totals:
            row["margin"] = row["seller_net"] - row["vendor_net"]
        grand = selectors.run_grand_total(run)
        grand["margin"] = grand["seller_net"] - grand["vendor_net"]
        exception_filter = ExceptionFilter(self.request.GET, queryset=selectors.run_exceptions(run), prefix="ex")
        page = Paginator(exception_filter.qs, 50).get_page(self.request.GET.get("ex_page"))
        ctx.update(
            totals=totals,
            grand=grand,
            progress=run.progress(),
            health=run.health(),
            exception_counts=selectors.run_exception_counts(run),
            filter=exception_filter,
            exceptions_page=page,
            entries=run.entries.select_related("vendor", "entry"),
            by_seller=selectors.run_totals(run, by=("seller_id", "seller__code"))[:50],
            open_chunks=run.chunks.exclude(status="done").order_by("seq")[:50] if run.status != "completed" else [],
        )
        return ctx


class RunProgressView(RunDetailView):
    """The progress card alone, polled by htmx while the run is active."""

    template_name = "billing/_run_progress.html"

    def get_context_data(self, **kwargs):
        return {"run": self.object, "progress": self.object.progress(), "health": self.object.health()}


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
