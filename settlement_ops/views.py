"""Kernel pages: sign-in, staff home, ledger (trial balance, journal), FX rates, audit log."""

from datetime import UTC, date, datetime, time, timedelta

from django.apps import apps
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import DetailView, ListView, TemplateView
from django_filters.views import FilterView

from . import periods, selectors, work_queue
from .api_tokens import api_token_create, api_token_revoke
from .audit_log import readable
from .errors import DomainError
from .exports import ledger_workbook
from .filters import AuditEventFilter, JournalEntryFilter
from .forms import ApiTokenForm, FxImportForm, SignInForm
from .models import (
    Account,
    AccountingPeriod,
    AccountKind,
    ApiToken,
    AuditEvent,
    FxRate,
    JournalEntry,
    Market,
    PeriodWorkbook,
    month_start,
)
from .navigation import area_modules
from .parties import party_labels
from .period_workbook import period_workbook_response, period_workbook_start
from .permissions import PermissionRequiredPageMixin, log_refusal
from .roles import Role, is_seller_user, user_roles
from .services import fx_rates_import
from .source_documents import attach_sources, source_documents


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
        user = self.request.user
        ctx["roles"] = sorted(Role.LABELS[r] for r in user_roles(user) if r in Role.LABELS)
        ctx["today"] = timezone.localdate()
        ctx["work"] = work_queue.grouped(work_queue.work_items(user, today=ctx["today"]))
        # Bank and ledger balances only for roles that may read the ledger.
        ledger = user.has_perm("settlement_ops.view_account")
        ctx["market_summaries"] = selectors.market_position_summary() if ledger else None
        ctx["can_overview"] = user.has_perm(FinanceOverviewView.permission_required)
        return ctx


class FinanceOverviewView(PermissionRequiredPageMixin, TemplateView):
    """Charts of one market (margin per day, accrued/invoiced/paid, AR aging, DSO trend), each
    with its numbers under it; the area apps draw them (`<app>/overview.py`)."""

    template_name = "settlement_ops/overview.html"
    permission_required = "settlement_ops.view_account"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        markets = Market.objects.filter(is_active=True)
        market = markets.filter(pk=self.request.GET.get("market") or "GB").first() or markets.first()
        today = market.local_date() if market else timezone.localdate()
        charts = []
        if market is not None:
            for module in area_modules("overview"):
                charts.extend(module.charts(market, today=today))
        # A link the user cannot follow is not shown; the numbers stay under the chart.
        for chart in charts:
            if chart.link_permission and not self.request.user.has_perm(chart.link_permission):
                chart.link = ""
        ctx.update(markets=markets, market=market, today=today, charts=charts)
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
        rows = selectors.trial_balance_rows(market=market, as_of=as_of) if market else []
        totals = {}
        for row in rows:
            t = totals.setdefault(row.currency, {"debits": 0, "credits": 0})
            t["debits"] += row.debits
            t["credits"] += row.credits
        ctx.update(markets=markets, market=market, as_of=as_of, rows=rows, totals=totals)
        return ctx


class JournalEntryListView(PermissionRequiredPageMixin, FilterView):
    template_name = "settlement_ops/journal_list.html"
    permission_required = "settlement_ops.view_journalentry"
    filterset_class = JournalEntryFilter
    paginate_by = 50

    def get_queryset(self):
        return selectors.journal_entries()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        # The page's entries only: their source documents and amounts in one query each.
        entries = attach_sources(ctx["object_list"], user=self.request.user)
        totals = selectors.entry_totals(e.pk for e in entries)
        for entry in entries:
            entry.amounts = totals.get(entry.pk, [])
        ctx["object_list"] = entries
        return ctx


class JournalEntryDetailView(PermissionRequiredPageMixin, DetailView):
    template_name = "settlement_ops/journal_detail.html"
    permission_required = "settlement_ops.view_journalentry"
    model = JournalEntry
    context_object_name = "entry"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        postings = list(self.object.postings.select_related("account"))
        labels = party_labels((p.party_type, p.party_id) for p in postings)
        for posting in postings:
            posting.party_label = labels.get((posting.party_type, posting.party_id), "")
        ctx["postings"] = postings
        ctx["source"] = source_documents([self.object], user=self.request.user)[
            (self.object.source_type, self.object.source_id)
        ]
        ctx["reversal"] = JournalEntry.objects.filter(reverses=self.object).first()
        return ctx


class AccountPostingsView(PermissionRequiredPageMixin, ListView):
    """The trial balance's drill-down: one account's postings, each with its entry and source
    document, debits and credits in their own columns."""

    template_name = "settlement_ops/journal_postings.html"
    permission_required = ("settlement_ops.view_account", "settlement_ops.view_journalentry")
    paginate_by = 100

    def get_queryset(self):
        self.account = get_object_or_404(Account, pk=self.kwargs["pk"])
        self.as_of = query_date(self.request.GET.get("as_of"))
        return selectors.account_postings(account=self.account, as_of=self.as_of)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        postings = list(ctx["object_list"])
        entries = attach_sources([p.entry for p in postings], user=self.request.user)
        for posting, entry in zip(postings, entries, strict=True):
            posting.source = entry.source
        account = self.account
        party = party_labels([(account.party_type, account.party_id)]).get((account.party_type, account.party_id), "")
        ctx.update(
            object_list=postings,
            account=account,
            kind_label=AccountKind(account.kind).label,
            party_label=party,
            as_of=self.as_of,
            totals=selectors.account_totals(account=account, as_of=self.as_of),
        )
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
                ctx = self.get_context_data(form=form, import_errors=exc.errors, import_error_count=exc.error_count)
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

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["object_list"] = readable(ctx["object_list"])
        return ctx


# --- API tokens -----------------------------------------------------------------------------------------

API_TOKEN_DAYS = 90


class ApiTokenListView(PermissionRequiredPageMixin, TemplateView):
    """Integration tokens: list, create (the key is shown once, on the answer to the POST), revoke."""

    template_name = "settlement_ops/api_tokens.html"
    permission_required = "settlement_ops.manage_apitoken"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.setdefault("form", ApiTokenForm(initial={"expires_on": date.today() + timedelta(days=API_TOKEN_DAYS)}))
        ctx["tokens"] = ApiToken.objects.select_related("user", "scope", "created_by", "revoked_by")
        ctx["now"] = timezone.now()
        return ctx

    def post(self, request):
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            expires_at = datetime.combine(data["expires_on"], time.max, tzinfo=UTC)
            try:
                token, key = api_token_create(
                    actor=request.user, name=data["name"], user=data["user"], scope=data["scope"], expires_at=expires_at
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                # Rendered, not redirected: the key exists only in this answer.
                response = render(request, self.template_name, self.get_context_data(new_token=token, new_key=key))
                response["Cache-Control"] = "no-store"
                return response
        return render(request, self.template_name, self.get_context_data(form=form), status=400)


class ApiTokenRevokeView(PermissionRequiredPageMixin, View):
    permission_required = "settlement_ops.manage_apitoken"

    def post(self, request, pk):
        token = api_token_revoke(actor=request.user, token=get_object_or_404(ApiToken, pk=pk))
        messages.success(request, f"Token {token.name} ({token.prefix}) is revoked.")
        return redirect("api_tokens")


# --- Period close -------------------------------------------------------------------------------------

PERIODS_SHOWN = 12


class PeriodListView(PermissionRequiredPageMixin, TemplateView):
    """The periods of a market (the last twelve months), their state, tie-outs and workbooks."""

    template_name = "settlement_ops/periods.html"
    permission_required = "settlement_ops.view_accountingperiod"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        markets = Market.objects.all()
        market = markets.filter(pk=self.request.GET.get("market") or "GB").first() or markets.first()
        rows = []
        if market is not None:
            stored = {p.month: p for p in selectors.periods_of(market=market)}
            workbooks = {}
            for wb in PeriodWorkbook.objects.filter(market=market).select_related("period", "requested_by"):
                workbooks.setdefault(wb.period.month, []).append(wb)
            month = month_start(market.local_date())
            for _ in range(PERIODS_SHOWN):
                period = stored.get(month) or AccountingPeriod(market=market, month=month)
                rows.append({"period": period, "workbooks": workbooks.get(month, [])})
                month = month_start(month - timedelta(days=1))
        running = any(wb.status in ("queued", "running") for row in rows for wb in row["workbooks"])
        user = self.request.user
        ctx.update(
            markets=markets,
            market=market,
            rows=rows,
            running=running,
            today=market.local_date() if market else None,
            can_prepare=user.has_perm("settlement_ops.change_accountingperiod"),
            can_close=user.has_perm("settlement_ops.close_accountingperiod"),
            can_workbook=user.has_perm("settlement_ops.download_periodworkbook"),
        )
        return ctx


class PeriodActionView(PermissionRequiredPageMixin, View):
    """POST: soft-close, close, ask to reopen, reopen, or start a workbook of a market and month."""

    permission_required = "settlement_ops.view_accountingperiod"
    ACTIONS = {
        "soft_close": "settlement_ops.change_accountingperiod",
        "reopen_request": "settlement_ops.change_accountingperiod",
        "close": "settlement_ops.close_accountingperiod",
        "reopen": "settlement_ops.close_accountingperiod",
        "workbook": "settlement_ops.download_periodworkbook",
    }

    def post(self, request):
        action = request.POST.get("action", "")
        market = Market.objects.filter(pk=request.POST.get("market", "")).first()
        month = query_date(request.POST.get("month"))
        if action not in self.ACTIONS or market is None or month is None:
            messages.error(request, "Choose a market, a month and what to do.")
            return redirect(reverse("periods") + (f"?market={market.pk}" if market else ""))
        if not request.user.has_perm(self.ACTIONS[action]):
            log_refusal(request, "page")
            return render(request, "403.html", status=403)
        try:
            if action == "soft_close":
                period = periods.period_soft_close(actor=request.user, market=market, month=month)
                messages.success(request, f"{market.pk} {period.label} is soft-closed; a second person closes it.")
            elif action == "workbook":
                period_workbook_start(actor=request.user, market=market, month=month)
                messages.success(request, f"The workbook of {market.pk} {month:%Y-%m} is being written.")
            else:
                period = get_object_or_404(AccountingPeriod, market=market, month=month_start(month))
                if action == "close":
                    periods.period_close(actor=request.user, period=period)
                    messages.success(request, f"{market.pk} {period.label} is closed; every tie-out passed.")
                elif action == "reopen_request":
                    periods.period_reopen_request(
                        actor=request.user, period=period, reason=request.POST.get("reason", "")
                    )
                    messages.success(request, f"Reopening {market.pk} {period.label} waits for a second person.")
                else:
                    periods.period_reopen_approve(actor=request.user, period=period)
                    messages.success(request, f"{market.pk} {period.label} is open again.")
        except DomainError as exc:
            messages.error(request, exc.message)
            for error in exc.errors:
                messages.error(request, error["message"])
        return redirect(f"{reverse('periods')}?market={market.pk}")


class PeriodWorkbookDownloadView(PermissionRequiredPageMixin, View):
    """The stored workbook file, byte for byte what was hashed."""

    permission_required = ("settlement_ops.view_periodworkbook", "settlement_ops.download_periodworkbook")

    def get(self, request, pk):
        workbook = get_object_or_404(PeriodWorkbook, pk=pk)
        try:
            return period_workbook_response(workbook=workbook)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect(f"{reverse('periods')}?market={workbook.market_id}")
