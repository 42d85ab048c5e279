from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from . import api, views
from .navigation import AREA_APPS, app_module, portal_urlpatterns

router = DefaultRouter()
api.register_routes(router)
for _app in AREA_APPS:
    _api = app_module(_app, "api")
    if _api is not None:
        _api.register_routes(router)

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("accounts/login/", views.SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("ledger/", views.TrialBalanceView.as_view(), name="trial_balance"),
    path("ledger/entries/", views.JournalEntryListView.as_view(), name="journal_list"),
    path("ledger/entries/<int:pk>/", views.JournalEntryDetailView.as_view(), name="journal_detail"),
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
    path("portal/", include((portal_urlpatterns(), "portal"))),
    path("admin/", admin.site.urls),
    path("api/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
]
# Each area's pages live under its own prefix; the seller portal is under /portal/.
for _app in AREA_APPS:
    _urls = app_module(_app, "urls")
    if _urls is not None:
        urlpatterns.append(path(f"{_app}/", include(_urls)))
