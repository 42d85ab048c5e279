from django.urls import path

from . import views

app_name = "vendors"

urlpatterns = [
    path("", views.VendorListView.as_view(), name="vendor_list"),
    path("new/", views.VendorCreateView.as_view(), name="vendor_create"),
    path("<int:pk>/", views.VendorDetailView.as_view(), name="vendor_detail"),
    path("<int:pk>/edit/", views.VendorEditView.as_view(), name="vendor_edit"),
    path("<int:pk>/bank-change/", views.BankChangeRequestView.as_view(), name="bank_change_request"),
    path(
        "bank-changes/<int:pk>/approve/",
        views.BankChangeDecisionView.as_view(decision="approve"),
        name="bank_change_approve",
    ),
    path(
        "bank-changes/<int:pk>/reject/",
        views.BankChangeDecisionView.as_view(decision="reject"),
        name="bank_change_reject",
    ),
    path("contracts/", views.ContractListView.as_view(), name="contract_list"),
    path("contracts/new/", views.ContractCreateView.as_view(), name="contract_create"),
    path("contracts/export/", views.ContractExportView.as_view(), name="contract_export"),
    path("contracts/<int:pk>/", views.ContractDetailView.as_view(), name="contract_detail"),
    path(
        "contracts/<int:pk>/submit/",
        views.ContractActionView.as_view(action="submit", permission_required="vendors.change_contract"),
        name="contract_submit",
    ),
    path(
        "contracts/<int:pk>/approve/",
        views.ContractActionView.as_view(action="approve", permission_required="vendors.approve_contract"),
        name="contract_approve",
    ),
    path(
        "contracts/<int:pk>/reject/",
        views.ContractActionView.as_view(action="reject", permission_required="vendors.approve_contract"),
        name="contract_reject",
    ),
    path(
        "contracts/<int:pk>/terminate/",
        views.ContractActionView.as_view(action="terminate", permission_required="vendors.approve_contract"),
        name="contract_terminate",
    ),
    path(
        "contracts/<int:pk>/amend/",
        views.ContractActionView.as_view(action="amend", permission_required="vendors.change_contract"),
        name="contract_amend",
    ),
    path("versions/<int:pk>/", views.RateCardView.as_view(), name="rate_card"),
    path("versions/<int:pk>/export/", views.RateCardExportView.as_view(), name="rate_card_export"),
    path("versions/<int:pk>/import/", views.RateCardImportView.as_view(), name="rate_card_import"),
    path(
        "versions/<int:pk>/submit/",
        views.VersionActionView.as_view(action="submit", permission_required="vendors.change_contract"),
        name="version_submit",
    ),
    path(
        "versions/<int:pk>/approve/",
        views.VersionActionView.as_view(action="approve", permission_required="vendors.approve_contract"),
        name="version_approve",
    ),
    path(
        "versions/<int:pk>/reject/",
        views.VersionActionView.as_view(action="reject", permission_required="vendors.approve_contract"),
        name="version_reject",
    ),
    path("quote/", views.QuoteView.as_view(), name="quote"),
]

NAV = [
    (
        "Vendors",
        [
            ("Vendors", "vendors:vendor_list", "vendors.view_vendor"),
            ("Contracts", "vendors:contract_list", "vendors.view_contract"),
            ("Quote", "vendors:quote", "vendors.view_contract"),
        ],
    ),
]
