"""Staff pages for vendors, bank details, contracts, rate cards and quotes. Thin: a form, one
service call, a message."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import DetailView
from django_filters.views import FilterView

from settlement_ops.errors import DomainError
from settlement_ops.exports import workbook_response
from settlement_ops.forms import add_domain_error
from settlement_ops.import_jobs import import_job_start
from settlement_ops.permissions import PermissionRequiredPageMixin
from settlement_ops.selectors import import_jobs_of

from . import pricing, selectors, services
from .exports import contracts_sheets
from .filters import ContractFilter, RateLineFilter, VendorFilter
from .forms import (
    BankChangeForm,
    ContractForm,
    QuoteForm,
    RateCardImportForm,
    ReasonForm,
    TerminateForm,
    VendorForm,
    VersionForm,
)
from .imports import RATE_CARD
from .models import Contract, ContractVersion, Vendor, VendorBankChangeRequest
from .resources import rate_card_sheets


def _perm(user, name: str) -> bool:
    return user.has_perm(f"vendors.{name}")


# --- Vendors and bank details ------------------------------------------------------------------------


class VendorListView(PermissionRequiredPageMixin, FilterView):
    template_name = "vendors/vendor_list.html"
    permission_required = "vendors.view_vendor"
    filterset_class = VendorFilter
    paginate_by = 50

    def get_queryset(self):
        return selectors.vendors_list()


class VendorDetailView(PermissionRequiredPageMixin, DetailView):
    template_name = "vendors/vendor_detail.html"
    permission_required = "vendors.view_vendor"
    model = Vendor
    context_object_name = "vendor"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        ctx["bank_accounts"] = (
            selectors.vendor_bank_accounts(vendor=self.object) if _perm(user, "view_vendorbankaccount") else None
        )
        ctx["change_requests"] = (
            selectors.bank_change_requests(vendor=self.object)[:20]
            if _perm(user, "view_vendorbankchangerequest")
            else None
        )
        ctx["contracts"] = selectors.contracts_list(vendor=self.object) if _perm(user, "view_contract") else None
        ctx["reject_form"] = ReasonForm()
        ctx["summary"] = selectors.vendor_account_summary(self.object, today=self.object.market.local_date())
        return ctx


class VendorCreateView(PermissionRequiredPageMixin, View):
    permission_required = "vendors.add_vendor"
    template_name = "vendors/vendor_form.html"

    def get(self, request):
        return render(request, self.template_name, {"form": VendorForm()})

    def post(self, request):
        form = VendorForm(request.POST)
        if form.is_valid():
            try:
                vendor = services.vendor_create(actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, f"Vendor {vendor.code} created. Add its bank account next.")
                return redirect("vendors:vendor_detail", pk=vendor.pk)
        return render(request, self.template_name, {"form": form}, status=400)


class VendorEditView(PermissionRequiredPageMixin, View):
    permission_required = "vendors.change_vendor"
    template_name = "vendors/vendor_form.html"

    def get(self, request, pk):
        vendor = get_object_or_404(Vendor, pk=pk)
        initial = {name: getattr(vendor, name) for name in services.VENDOR_FIELDS}
        return render(
            request, self.template_name, {"form": VendorForm(initial=initial, vendor=vendor), "vendor": vendor}
        )

    def post(self, request, pk):
        vendor = get_object_or_404(Vendor, pk=pk)
        form = VendorForm(request.POST, vendor=vendor)
        if form.is_valid():
            changed = {
                name: value
                for name, value in form.cleaned_data.items()
                if name in services.VENDOR_FIELDS and value != getattr(vendor, name) and value is not None
            }
            try:
                services.vendor_update(actor=request.user, vendor=vendor, **changed)
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, f"Vendor {vendor.code} saved." if changed else "Nothing changed.")
                return redirect("vendors:vendor_detail", pk=vendor.pk)
        return render(request, self.template_name, {"form": form, "vendor": vendor}, status=400)


class BankChangeRequestView(PermissionRequiredPageMixin, View):
    """Form to request new bank details for a vendor (takes effect on approval by someone else)."""

    permission_required = "vendors.add_vendorbankchangerequest"
    template_name = "vendors/bank_change_form.html"

    def get(self, request, pk):
        vendor = get_object_or_404(Vendor, pk=pk)
        form = BankChangeForm(initial={"currency": vendor.market.currency, "account_holder": vendor.legal_name})
        return render(request, self.template_name, {"vendor": vendor, "form": form})

    def post(self, request, pk):
        vendor = get_object_or_404(Vendor, pk=pk)
        form = BankChangeForm(request.POST)
        if form.is_valid():
            try:
                services.vendor_bank_change_request(actor=request.user, vendor=vendor, **form.cleaned_data)
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, "Bank detail change requested; another user must approve it.")
                return redirect("vendors:vendor_detail", pk=vendor.pk)
        return render(request, self.template_name, {"vendor": vendor, "form": form}, status=400)


class BankChangeDecisionView(PermissionRequiredPageMixin, View):
    permission_required = "vendors.approve_vendorbankchangerequest"
    decision = "approve"

    def post(self, request, pk):
        change = get_object_or_404(VendorBankChangeRequest, pk=pk)
        try:
            if self.decision == "approve":
                services.vendor_bank_change_approve(actor=request.user, change_request=change)
                messages.success(request, "Bank details approved; payments now go to the new account.")
            else:
                services.vendor_bank_change_reject(
                    actor=request.user, change_request=change, note=request.POST.get("reason", "")
                )
                messages.success(request, "Bank detail change rejected.")
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("vendors:vendor_detail", pk=change.vendor_id)


# --- Contracts ---------------------------------------------------------------------------------------


class ContractListView(PermissionRequiredPageMixin, FilterView):
    template_name = "vendors/contract_list.html"
    permission_required = "vendors.view_contract"
    filterset_class = ContractFilter
    paginate_by = 50

    def get_queryset(self):
        return selectors.contracts_list()


class ContractExportView(PermissionRequiredPageMixin, View):
    """Contracts and their versions (as filtered on the list page), for auditors."""

    permission_required = ("vendors.view_contract", "vendors.export_contract")

    def get(self, request):
        contracts = ContractFilter(request.GET, queryset=selectors.contracts_list()).qs
        return workbook_response(
            filename=f"contracts-{timezone.localdate():%Y%m%d}.xlsx", sheets=contracts_sheets(contracts)
        )


class ContractCreateView(PermissionRequiredPageMixin, View):
    permission_required = "vendors.add_contract"
    template_name = "vendors/contract_form.html"

    def get(self, request):
        initial = {"volumetric_divisor": 5000, "currency": "GBP"}
        if request.GET.get("vendor"):
            vendor = Vendor.objects.filter(pk=request.GET["vendor"]).select_related("market").first()
            if vendor:
                initial.update(
                    vendor=vendor, currency=vendor.market.currency, payment_terms_days=vendor.payment_terms_days
                )
        return render(request, self.template_name, {"form": ContractForm(initial=initial)})

    def post(self, request):
        form = ContractForm(request.POST)
        if form.is_valid():
            try:
                contract = services.contract_create(actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(
                    request, f"Contract {contract.reference} created as a draft. Import its rate card next."
                )
                return redirect("vendors:contract_detail", pk=contract.pk)
        return render(request, self.template_name, {"form": form}, status=400)


class ContractDetailView(PermissionRequiredPageMixin, DetailView):
    """The review screen: terms, versions, and the actions the user's role allows."""

    template_name = "vendors/contract_detail.html"
    permission_required = "vendors.view_contract"
    context_object_name = "contract"

    def get_queryset(self):
        return Contract.objects.select_related(
            "vendor", "market", "author", "submitted_by", "approved_by", "terminated_by"
        )

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user, contract = self.request.user, self.object
        ctx.update(
            versions=selectors.contract_versions(contract=contract),
            can_prepare=_perm(user, "change_contract"),
            can_approve=_perm(user, "approve_contract"),
            reject_form=ReasonForm(),
            terminate_form=TerminateForm(initial={"end_date": timezone.localdate()}),
            version_form=VersionForm(initial={"effective_from": timezone.localdate()}),
            history=contract.history.select_related("history_user").order_by("-history_date")[:20],
        )
        return ctx


class ContractActionView(PermissionRequiredPageMixin, View):
    """POST submit / approve / reject / terminate / amend on a contract."""

    action = ""

    def post(self, request, pk):
        contract = get_object_or_404(Contract, pk=pk)
        try:
            if self.action == "submit":
                services.contract_submit(actor=request.user, contract=contract)
                messages.success(request, "Contract sent for review.")
            elif self.action == "approve":
                services.contract_approve(actor=request.user, contract=contract)
                messages.success(request, "Contract approved and active.")
            elif self.action == "reject":
                services.contract_reject(actor=request.user, contract=contract, reason=request.POST.get("reason", ""))
                messages.success(request, "Contract sent back to draft.")
            elif self.action == "terminate":
                form = TerminateForm(request.POST)
                if not form.is_valid():
                    raise DomainError("Give an end date and a reason to terminate.", field="end_date")
                services.contract_terminate(actor=request.user, contract=contract, **form.cleaned_data)
                messages.success(request, "Contract terminated.")
            elif self.action == "amend":
                form = VersionForm(request.POST)
                if not form.is_valid():
                    raise DomainError("Give the date the new version takes effect.", field="effective_from")
                version = services.contract_version_create(actor=request.user, contract=contract, **form.cleaned_data)
                messages.success(request, f"Version {version.number} created as a draft with the current prices.")
                return redirect("vendors:rate_card", pk=version.pk)
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("vendors:contract_detail", pk=contract.pk)


# --- Versions and rate cards ------------------------------------------------------------------------


class RateCardView(PermissionRequiredPageMixin, FilterView):
    """A contract version: its rate lines (filterable, paginated) and surcharges."""

    template_name = "vendors/rate_card.html"
    permission_required = "vendors.view_contract"
    filterset_class = RateLineFilter
    paginate_by = 100

    def dispatch(self, request, *args, **kwargs):
        # Permission before lookup: another object and a missing one answer alike.
        refused = self.check_access(request)
        if refused is not None:
            return refused
        self.version = get_object_or_404(
            ContractVersion.objects.select_related("contract__vendor", "contract__market"), pk=kwargs["pk"]
        )
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.rate_lines(version=self.version)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        ctx.update(
            version=self.version,
            contract=self.version.contract,
            surcharges=selectors.surcharges(version=self.version),
            can_prepare=_perm(user, "change_contract"),
            can_approve=_perm(user, "approve_contract"),
            can_export=_perm(user, "export_contract"),
            reject_form=ReasonForm(),
        )
        return ctx


class RateCardExportView(PermissionRequiredPageMixin, View):
    permission_required = ("vendors.view_contract", "vendors.export_contract")

    def get(self, request, pk):
        version = get_object_or_404(ContractVersion.objects.select_related("contract"), pk=pk)
        return workbook_response(
            filename=f"rate-card-{version.contract.reference}-v{version.number}.xlsx", sheets=rate_card_sheets(version)
        )


class RateCardImportView(PermissionRequiredPageMixin, View):
    """Upload a rate-card workbook: checked by type and size at once, then imported by a
    background job (settlement_ops.import_jobs) whose page shows its progress and any problems."""

    permission_required = "vendors.change_contract"
    template_name = "vendors/rate_card_import.html"

    def _context(self, version, form):
        return {
            "version": version,
            "contract": version.contract,
            "form": form,
            "jobs": import_jobs_of(kind=RATE_CARD, target=version.pk),
        }

    def get(self, request, pk):
        version = get_object_or_404(ContractVersion.objects.select_related("contract__vendor"), pk=pk)
        return render(request, self.template_name, self._context(version, RateCardImportForm()))

    def post(self, request, pk):
        version = get_object_or_404(ContractVersion.objects.select_related("contract__vendor"), pk=pk)
        form = RateCardImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = import_job_start(
                    actor=request.user,
                    kind=RATE_CARD,
                    target=version.pk,
                    filename=upload.name,
                    content=upload.read(),
                )
            except DomainError as exc:
                add_domain_error(form, exc)
                return render(request, self.template_name, self._context(version, form), status=400)
            return redirect("import_job", pk=job.pk)
        return render(request, self.template_name, self._context(version, form), status=400)


class VersionActionView(PermissionRequiredPageMixin, View):
    action = ""

    def post(self, request, pk):
        version = get_object_or_404(ContractVersion, pk=pk)
        try:
            if self.action == "submit":
                services.contract_version_submit(actor=request.user, version=version)
                messages.success(request, f"Version {version.number} sent for review.")
            elif self.action == "approve":
                version = services.contract_version_approve(actor=request.user, version=version)
                note = (
                    " It is retroactive: re-rated shipments from its start date get its prices."
                    if version.is_retroactive
                    else ""
                )
                messages.success(request, f"Version {version.number} approved and active.{note}")
            elif self.action == "reject":
                services.contract_version_reject(
                    actor=request.user, version=version, reason=request.POST.get("reason", "")
                )
                messages.success(request, f"Version {version.number} rejected.")
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("vendors:rate_card", pk=version.pk)


# --- Quote -------------------------------------------------------------------------------------------


class QuoteView(PermissionRequiredPageMixin, View):
    """Price a shipment line by line, showing the contract version and rate line used."""

    permission_required = "vendors.view_contract"
    template_name = "vendors/quote.html"

    def get(self, request):
        quote, error = None, None
        form = QuoteForm(request.GET or None, initial={"ship_date": timezone.localdate()})
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            vendor = data.pop("vendor")
            data["cod_value"] = data.get("cod_value") or 0
            try:
                quote = pricing.rate(pricing.ShipmentAttrs(market=vendor.market_id, vendor_id=vendor.pk, **data))
            except DomainError as exc:
                error = exc.message
        ctx = {"form": form, "quote": quote, "error": error}
        if quote is not None:
            ctx["version_url"] = reverse("vendors:rate_card", kwargs={"pk": quote.contract_version_id})
        return render(request, self.template_name, ctx, status=400 if error else 200)
