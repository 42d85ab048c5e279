from django.urls import path

from . import views

app_name = "compensation"

urlpatterns = [
    path("requests/", views.RequestListView.as_view(), name="request_list"),
    path("requests/<int:pk>/", views.RequestDetailView.as_view(), name="request_detail"),
    path("requests/<int:pk>/review/", views.RequestActionView.as_view(action="review"), name="request_review"),
    path("requests/<int:pk>/override/", views.RequestActionView.as_view(action="override"), name="request_override"),
    path(
        "requests/<int:pk>/chargeback/", views.RequestActionView.as_view(action="chargeback"), name="request_chargeback"
    ),
    path("upload/", views.UploadView.as_view(), name="upload"),
    path("upload/<int:pk>/confirm/", views.UploadConfirmView.as_view(), name="upload_confirm"),
    path("policies/", views.PolicyListView.as_view(), name="policy_list"),
    path("policies/new/", views.PolicyNewView.as_view(), name="policy_new"),
    path("policies/<int:pk>/", views.PolicyDetailView.as_view(), name="policy_detail"),
    path("policies/<int:pk>/attribute/", views.PolicyActionView.as_view(action="attribute"), name="policy_attribute"),
    path("policies/<int:pk>/activate/", views.PolicyActionView.as_view(action="activate"), name="policy_activate"),
    path("audit-runs/", views.AuditRunListView.as_view(), name="audit_runs"),
    path("audit-runs/start/", views.AuditRunStartView.as_view(), name="audit_run_start"),
    path("qa/sample/", views.SampleView.as_view(), name="sample"),
    path("qa/sample/draw/", views.SampleDrawView.as_view(), name="sample_draw"),
    path("chargebacks/", views.ChargebackListView.as_view(), name="chargeback_list"),
    path("chargebacks/<int:pk>/", views.ChargebackDetailView.as_view(), name="chargeback_detail"),
    path("chargebacks/<int:pk>/dispute/", views.ChargebackDisputeView.as_view(), name="chargeback_dispute"),
    path("disputes/", views.DisputeListView.as_view(), name="dispute_list"),
    path("disputes/<int:pk>/decide/", views.DisputeActionView.as_view(action="decide"), name="dispute_decide"),
    path("disputes/<int:pk>/approve/", views.DisputeActionView.as_view(action="approve"), name="dispute_approve"),
    path("claims/", views.ClaimListView.as_view(), name="claim_list"),
    path("claims/build/", views.ClaimsBuildView.as_view(), name="claims_build"),
    path("claims/<int:pk>/", views.ClaimDetailView.as_view(), name="claim_detail"),
    path("claims/<int:pk>/letter/", views.ClaimLetterView.as_view(), name="claim_letter"),
    path("reports/", views.ReportView.as_view(), name="report"),
    path("actions/", views.ActionListView.as_view(), name="actions"),
    path("actions/new/", views.ActionSaveView.as_view(), name="action_new"),
    path("actions/<int:pk>/", views.ActionSaveView.as_view(), name="action_update"),
]

NAV = [
    (
        "Compensation",
        [
            ("Requests", "compensation:request_list", "compensation.view_compensationrequest"),
            ("Upload requests", "compensation:upload", "compensation.add_compensationrequest"),
            ("QA sample", "compensation:sample", "compensation.add_qareview"),
            ("Chargebacks", "compensation:chargeback_list", "compensation.view_chargeback"),
            ("Disputes", "compensation:dispute_list", "compensation.view_dispute"),
            ("Audit policies", "compensation:policy_list", "compensation.view_auditpolicy"),
            ("Audit runs", "compensation:audit_runs", "compensation.view_auditrun"),
            ("Guarantee claims", "compensation:claim_list", "compensation.view_guaranteeclaim"),
            ("Reports", "compensation:report", "compensation.view_qareview"),
            ("Corrective actions", "compensation:actions", "compensation.view_correctiveaction"),
        ],
    ),
]
