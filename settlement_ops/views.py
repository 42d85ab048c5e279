"""Kernel pages: sign-in, staff home, ledger (trial balance, journal), FX rates, audit log."""

from datetime import date

from django.apps import apps
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import DetailView, TemplateView
from django_filters.views import FilterView

from . import selectors
from .errors import DomainError
from .exports import ledger_workbook
from .filters import AuditEventFilter, JournalEntryFilter
from .forms import FxImportForm, SignInForm
from .models import AuditEvent, FxRate, JournalEntry, Market
from .permissions import PermissionRequiredPageMixin
from .roles import Role, is_seller_user, user_roles
from .services import fx_rates_import


class SignInView(auth_views.LoginView):
    template_name = "settlement_ops/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True


class HomeView(PermissionRequiredPageMixin, TemplateView):
    template_name = "settlement_ops/home.html"
    permission_required = "settlement_ops.access_staff_pages"

    def dispatch(self, request, *args, **kwargs):
        if is_seller_user(request.user):
            return redirect("portal:home")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["roles"] = sorted(Role.LABELS[r] for r in user_roles(self.request.user) if r in Role.LABELS)
        ctx["market_summaries"] = selectors.market_position_summary()
        return ctx


def query_date(value: str | None) -> date | None:
    """A YYYY-MM-DD query parameter as a date; missing or malformed gives None (the page default)."""
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


class TrialBalanceView(PermissionRequiredPageMixin, TemplateView):
    template_name = "settlement_ops/trial_balance.html"
    permission_required = "settlement_ops.view_account"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        markets = Market.objects.all()
        market = markets.filter(pk=self.request.GET.get("market") or "GB").first() or markets.first()
        as_of = query_date(self.request.GET.get("as_of"))
        rows = list(selectors.trial_balance(market=market, as_of=as_of)) if market else []
        totals = {}
        for row in rows:
            t = totals.setdefault(row.currency, {"debits": 0, "credits": 0, "net": 0})
            t["debits"] += row.debits
            t["credits"] += row.credits
            t["net"] += row.net
        ctx.update(markets=markets, market=market, as_of=as_of, rows=rows, totals=totals)
        return ctx


class JournalEntryListView(PermissionRequiredPageMixin, FilterView):
    template_name = "settlement_ops/journal_list.html"
    permission_required = "settlement_ops.view_journalentry"
    filterset_class = JournalEntryFilter
    paginate_by = 50

    def get_queryset(self):
        return selectors.journal_entries()


class JournalEntryDetailView(PermissionRequiredPageMixin, DetailView):
    template_name = "settlement_ops/journal_detail.html"
    permission_required = "settlement_ops.view_journalentry"
    model = JournalEntry
    context_object_name = "entry"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["postings"] = self.object.postings.select_related("account")
        ctx["reversal"] = JournalEntry.objects.filter(reverses=self.object).first()
        return ctx


class LedgerExportView(PermissionRequiredPageMixin, View):
    """Journal, postings and trial balance of a market and period, for auditors."""

    permission_required = ("settlement_ops.view_journalentry", "settlement_ops.export_ledger")

    def get(self, request):
        market = get_object_or_404(Market, pk=request.GET.get("market", "GB"))
        return ledger_workbook(
            market=market,
            date_from=query_date(request.GET.get("date_from")),
            date_to=query_date(request.GET.get("date_to")),
        )


class MarketListView(PermissionRequiredPageMixin, TemplateView):
    template_name = "settlement_ops/markets.html"
    permission_required = "settlement_ops.view_market"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "markets": Market.objects.all()}


class FxRateListView(PermissionRequiredPageMixin, FilterView):
    template_name = "settlement_ops/fx_rates.html"
    permission_required = "settlement_ops.view_fxrate"
    filterset_fields = ["currency"]
    model = FxRate
    paginate_by = 50

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.setdefault("form", FxImportForm())
        ctx["can_import"] = self.request.user.has_perm("settlement_ops.add_fxrate")
        return ctx

    def post(self, request):
        if not request.user.has_perm("settlement_ops.add_fxrate"):
            return render(request, "403.html", status=403)
        form = FxImportForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                count = fx_rates_import(
                    csv_text=form.cleaned_data["file"], source=request.FILES["file"].name, actor=request.user
                )
            except DomainError as exc:
                messages.error(request, exc.message)
                self.object_list = self.get_queryset()
                ctx = self.get_context_data(form=form, import_errors=exc.errors)
                return render(request, self.template_name, ctx, status=400)
            messages.success(request, f"Imported {count} FX rates.")
            return redirect("fx_rates")
        self.filterset = self.get_filterset(self.get_filterset_class())
        self.object_list = self.filterset.qs
        return render(request, self.template_name, self.get_context_data(form=form), status=400)


class ChangeHistoryView(PermissionRequiredPageMixin, TemplateView):
    """Who changed a money-relevant record, when, and each field before and after."""

    template_name = "settlement_ops/history.html"

    def dispatch(self, request, *args, **kwargs):
        try:
            self.model = apps.get_model(kwargs["app_label"], kwargs["model_name"])
        except LookupError:
            raise Http404 from None
        if not hasattr(self.model, "history"):
            raise Http404
        self.permission_required = f"{self.model._meta.app_label}.view_{self.model._meta.model_name}"
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        obj = get_object_or_404(self.model, pk=kwargs["pk"])
        return {
            **super().get_context_data(**kwargs),
            "object": obj,
            "verbose_name": self.model._meta.verbose_name,
            "changes": selectors.change_history(obj),
        }


class AuditLogView(PermissionRequiredPageMixin, FilterView):
    template_name = "settlement_ops/audit_log.html"
    permission_required = "settlement_ops.view_auditevent"
    filterset_class = AuditEventFilter
    paginate_by = 50

    def get_queryset(self):
        return AuditEvent.objects.select_related("actor").order_by("-id")
