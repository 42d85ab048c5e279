from django.urls import path

from . import views

app_name = "risk"

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("findings/", views.FindingListView.as_view(), name="finding_list"),
    path("findings/export/", views.FindingExportView.as_view(), name="finding_export"),
    path("findings/<int:pk>/", views.FindingDetailView.as_view(), name="finding_detail"),
    path("findings/<int:pk>/dismiss/", views.FindingDismissView.as_view(), name="finding_dismiss"),
    path("cases/", views.CaseListView.as_view(), name="case_list"),
    path("cases/open/", views.CaseOpenView.as_view(), name="case_open"),
    path("cases/export/", views.CaseExportView.as_view(), name="case_export"),
    path("cases/<int:pk>/", views.CaseDetailView.as_view(), name="case_detail"),
    path("cases/<int:pk>/update/", views.CaseUpdateView.as_view(), name="case_update"),
    path("cases/<int:pk>/close/", views.CaseCloseView.as_view(), name="case_close"),
    path("cases/<int:pk>/hold/", views.HoldPlaceView.as_view(), name="hold_place"),
    path("holds/<int:pk>/request-release/", views.HoldRequestReleaseView.as_view(), name="hold_request_release"),
    path("holds/<int:pk>/release/", views.HoldReleaseView.as_view(), name="hold_release"),
    path("holds/<int:pk>/co-approve/", views.HoldCoApproveView.as_view(), name="hold_co_approve"),
    path("rules/", views.RuleListView.as_view(), name="rule_list"),
    path("rules/params/", views.RuleParamsView.as_view(), name="rule_params"),
    path("nightly/", views.NightlyJobsView.as_view(), name="nightly"),
    path("nightly/steps/<int:pk>/rerun/", views.NightlyRerunView.as_view(), name="nightly_rerun"),
]

NAV = [
    (
        "Risk",
        [
            ("Risk dashboard", "risk:dashboard", "risk.view_finding"),
            ("Findings", "risk:finding_list", "risk.view_finding"),
            ("Cases", "risk:case_list", "risk.view_case"),
            ("Rules", "risk:rule_list", "risk.view_ruleversion"),
            ("Nightly jobs", "risk:nightly", "risk.view_nightlyrun"),
        ],
    ),
]
