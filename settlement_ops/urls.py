from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.urls import include, path
from django.utils import translation
from django.views.i18n import set_language
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from . import api, import_job_views, views
from .navigation import AREA_APPS, app_module, portal_urlpatterns


class CachedSchemaView(SpectacularAPIView):
    """`/api/schema/` built and rendered once per process, language and format: the schema depends
    only on the code (SERVE_PUBLIC), and generating it walks every view and serializer (seconds
    per request), rendering it as YAML a few hundred ms more."""

    _rendered: dict = {}

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        version = self.api_version or request.version or self._get_version_parameter(request)
        language = request.GET.get("lang") or translation.get_language()
        key = (version, language, request.accepted_media_type)
        cached = self._rendered.get(key)
        if cached is None:
            response = super().get(request, *args, **kwargs)
            response.accepted_renderer = request.accepted_renderer
            response.accepted_media_type = request.accepted_media_type
            response.renderer_context = self.get_renderer_context()
            response.render()
            cached = self._rendered[key] = (response.content, response["Content-Type"], response["Content-Disposition"])
        content, content_type, disposition = cached
        return HttpResponse(content, content_type=content_type, headers={"Content-Disposition": disposition})


router = DefaultRouter()
api.register_routes(router)
for _app in AREA_APPS:
    _api = app_module(_app, "api")
    if _api is not None:
        _api.register_routes(router)

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("overview/", views.FinanceOverviewView.as_view(), name="finance_overview"),
    path("accounts/login/", views.SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The language switch (Django's set_language: POST language + next, kept in a cookie); open to
    # anyone, like sign-in, so it sits beside it.
    path("accounts/language/", set_language, name="set_language"),
    path("ledger/", views.TrialBalanceView.as_view(), name="trial_balance"),
    path("ledger/entries/", views.JournalEntryListView.as_view(), name="journal_list"),
    path("ledger/entries/<int:pk>/", views.JournalEntryDetailView.as_view(), name="journal_detail"),
    path("ledger/accounts/<int:pk>/postings/", views.AccountPostingsView.as_view(), name="account_postings"),
    path("ledger/export/", views.LedgerExportView.as_view(), name="ledger_export"),
    path("ledger/periods/", views.PeriodListView.as_view(), name="periods"),
    path("ledger/periods/action/", views.PeriodActionView.as_view(), name="period_action"),
    path(
        "ledger/periods/workbooks/<int:pk>/download/",
        views.PeriodWorkbookDownloadView.as_view(),
        name="period_workbook_download",
    ),
    path("markets/", views.MarketListView.as_view(), name="markets"),
    path("fx-rates/", views.FxRateListView.as_view(), name="fx_rates"),
    path("audit-log/", views.AuditLogView.as_view(), name="audit_log"),
    path("api-tokens/", views.ApiTokenListView.as_view(), name="api_tokens"),
    path("api-tokens/<int:pk>/revoke/", views.ApiTokenRevokeView.as_view(), name="api_token_revoke"),
    path(
        "history/<slug:app_label>/<slug:model_name>/<int:pk>/", views.ChangeHistoryView.as_view(), name="change_history"
    ),
    path("imports/<int:pk>/", import_job_views.ImportJobDetailView.as_view(), name="import_job"),
    path("imports/<int:pk>/progress/", import_job_views.ImportJobProgressView.as_view(), name="import_job_progress"),
    path(
        "imports/<int:pk>/problems.<str:fmt>", import_job_views.ImportJobErrorsView.as_view(), name="import_job_errors"
    ),
    path("portal/", include((portal_urlpatterns(), "portal"))),
    path("admin/", admin.site.urls),
    path("api/", include(router.urls)),
    path("api/schema/", CachedSchemaView.as_view(), name="api_schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
]
# Each area's pages live under its own prefix; the seller portal is under /portal/.
for _app in AREA_APPS:
    _urls = app_module(_app, "urls")
    if _urls is not None:
        urlpatterns.append(path(f"{_app}/", include(_urls)))
