"""Staff pages of payables: invoice inbox and audit, payables, payment runs, vendor statements."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import ngettext
from django.views import View
from django.views.generic import DetailView, TemplateView
from django_filters.views import FilterView

from settlement_ops.errors import DomainError
from settlement_ops.forms import add_domain_error
from settlement_ops.import_jobs import MAX_ERRORS_SHOWN, REPORT_FORMATS, error_report_response
from settlement_ops.pagination import EstimatingPaginator
from settlement_ops.permissions import ActionView, PermissionRequiredPageMixin
from vendors.models import Vendor

from . import exports, selectors, services
from .filters import InvoiceFilter, LineFilter, PayableFilter, RunFilter
from .forms import DecideForm, MappingForm, PolicyForm, ResultUploadForm, RunPrepareForm, UploadForm
from .models import InvoiceColumnMapping, InvoiceImport, Payable, Payment, PaymentRun, VendorAuditPolicy, VendorInvoice
from .parsing import MAPPING_FIELDS, detect_headers

VIEW = "payables.view_vendorinvoice"


# --- Invoices ---------------------------------------------------------------------------------------


class InvoiceListView(PermissionRequiredPageMixin, FilterView):
    template_name = "payables/invoice_list.html"
    permission_required = VIEW
    filterset_class = InvoiceFilter
    paginate_by = 50

    def get_queryset(self):
        return selectors.invoices_list()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["imports"] = selectors.imports_list().exclude(status=InvoiceImport.Status.DONE)[:10]
        return ctx


class InvoiceExportView(PermissionRequiredPageMixin, View):
    permission_required = (VIEW, "payables.export_payables")

    def get(self, request):
        return exports.invoices_workbook(InvoiceFilter(request.GET, queryset=selectors.invoices_list()).qs)


class InvoiceUploadView(PermissionRequiredPageMixin, TemplateView):
    template_name = "payables/invoice_upload.html"
    permission_required = "payables.import_vendorinvoice"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.setdefault("form", UploadForm(initial={"vendor": self.request.GET.get("vendor")}))
        ctx["mapped_vendor_ids"] = list(InvoiceColumnMapping.objects.values_list("vendor_id", flat=True))
        return ctx

    def post(self, request):
        form = UploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return render(request, self.template_name, self.get_context_data(form=form), status=400)
        data = form.cleaned_data
        vendor = data["vendor"]
        if not hasattr(vendor, "invoice_mapping"):
            messages.warning(
                request, f"Choose how {vendor.code}'s files are laid out first; the mapping is kept for its next files."
            )
            return redirect("payables:mapping_edit", pk=vendor.pk)
        try:
            job = services.invoice_import_create(
                actor=request.user,
                vendor=vendor,
                filename=data["file"].name,
                content=data["file"].read(),
                kind=data["kind"],
                header={
                    k: data.get(k)
                    for k in (
                        "invoice_number",
                        "invoice_date",
                        "currency",
                        "net_total",
                        "vat_total",
                        "gross_total",
                        "credited_invoice_number",
                    )
                },
            )
        except DomainError as exc:
            add_domain_error(form, exc)
            return render(request, self.template_name, self.get_context_data(form=form), status=400)
        return redirect("payables:import_detail", pk=job.pk)


class ImportDetailView(PermissionRequiredPageMixin, DetailView):
    template_name = "payables/import_detail.html"
    permission_required = "payables.view_invoiceimport"
    context_object_name = "job"

    def get_queryset(self):
        return selectors.imports_list()

    def get_context_data(self, **kwargs):
        # The kernel's error block: the first 100 on the page, all stored problems as a file.
        ctx = super().get_context_data(**kwargs)
        job = self.object
        ctx["errors_shown"] = job.errors[:MAX_ERRORS_SHOWN]
        ctx["error_count"] = job.error_count
        ctx["report_urls"] = (
            [(fmt.upper(), reverse("payables:import_errors", args=[job.pk, fmt])) for fmt in REPORT_FORMATS]
            if job.status == InvoiceImport.Status.REFUSED
            else []
        )
        return ctx


class ImportProgressView(ImportDetailView):
    """The progress block alone, polled by htmx while the job runs."""

    template_name = "payables/partials/import_progress.html"


class ImportErrorsView(PermissionRequiredPageMixin, View):
    """The problems of a refused invoice file as CSV or xlsx, through the kernel's error report."""

    permission_required = "payables.view_invoiceimport"

    def get(self, request, pk, fmt):
        job = get_object_or_404(selectors.imports_list(), pk=pk, status=InvoiceImport.Status.REFUSED)
        if fmt not in REPORT_FORMATS:
            raise Http404
        return error_report_response(errors=job.errors, name=f"invoice-import-{job.pk}-problems", fmt=fmt)


class MappingEditView(PermissionRequiredPageMixin, TemplateView):
    template_name = "payables/mapping_edit.html"
    permission_required = "payables.change_invoicecolumnmapping"

    def dispatch(self, request, *args, **kwargs):
        # Permission before lookup: another object and a missing one answer alike.
        refused = self.check_access(request)
        if refused is not None:
            return refused
        self.vendor = get_object_or_404(Vendor, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def _initial(self):
        mapping = InvoiceColumnMapping.objects.filter(vendor=self.vendor).first()
        if mapping is None:
            return {
                "file_type": "csv",
                "delimiter": ",",
                "decimal_separator": ".",
                "date_format": "auto",
                "header_row": 1,
            }, []
        initial = {
            "file_type": mapping.file_type,
            "total_labels": mapping.total_labels,
            "delimiter": mapping.delimiter,
            "decimal_separator": mapping.decimal_separator,
            "date_format": mapping.date_format,
            "header_row": mapping.header_row,
        }
        initial.update({f"col_{k}": v for k, v in mapping.columns.items()})
        initial.update({f"kind_{k}": v for k, v in (mapping.fee_kinds or {}).items()})
        return initial, []

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        initial, _ = self._initial()
        ctx.setdefault("form", MappingForm(initial=initial))
        policy = VendorAuditPolicy.objects.filter(vendor=self.vendor).first() or VendorAuditPolicy(vendor=self.vendor)
        ctx.setdefault(
            "policy_form",
            PolicyForm(
                initial={
                    "tolerance_amount": policy.tolerance_amount,
                    "tolerance_percent": policy.tolerance_percent,
                    "weight_tolerance_kg": policy.weight_tolerance_kg,
                }
            ),
        )
        ctx["vendor"] = self.vendor
        ctx["fields"] = MAPPING_FIELDS
        ctx.setdefault("headers", [])
        return ctx

    def post(self, request, pk):
        if "tolerance_amount" in request.POST:
            form = PolicyForm(request.POST)
            if not form.is_valid():
                return render(request, self.template_name, self.get_context_data(policy_form=form), status=400)
            services.audit_policy_save(actor=request.user, vendor=self.vendor, **form.cleaned_data)
            messages.success(request, f"Audit tolerances of {self.vendor.code} saved.")
            return redirect("payables:mapping_edit", pk=pk)
        form = MappingForm(request.POST, request.FILES)
        if not form.is_valid():
            return render(request, self.template_name, self.get_context_data(form=form), status=400)
        data = form.cleaned_data
        if data.get("sample"):
            try:
                headers = detect_headers(
                    content=data["sample"].read(),
                    filename=data["sample"].name,
                    delimiter=data["delimiter"] or ",",
                    header_row=data["header_row"],
                )
            except DomainError as exc:
                add_domain_error(form, exc, fields=("sample",))
                return render(request, self.template_name, self.get_context_data(form=form), status=400)
            messages.info(request, f"Read {len(headers)} column names from the sample; pick them below and save.")
            return render(request, self.template_name, self.get_context_data(form=form, headers=headers))
        try:
            services.mapping_save(
                actor=request.user,
                vendor=self.vendor,
                columns=form.columns(),
                fee_kinds=form.fee_kinds(),
                delimiter=data["delimiter"],
                decimal_separator=data["decimal_separator"],
                date_format=data["date_format"],
                header_row=data["header_row"],
                file_type=data["file_type"] or InvoiceColumnMapping.FileType.CSV,
                total_labels=data["total_labels"],
            )
        except DomainError as exc:
            add_domain_error(form, exc, fields=(f"col_{exc.field}", exc.field))
            return render(request, self.template_name, self.get_context_data(form=form), status=400)
        messages.success(request, f"Column mapping of {self.vendor.code} saved; upload its invoices now.")
        return redirect(reverse("payables:invoice_upload") + f"?vendor={self.vendor.pk}")


class InvoiceDetailView(PermissionRequiredPageMixin, FilterView):
    template_name = "payables/invoice_detail.html"
    permission_required = VIEW
    filterset_class = LineFilter
    # 50 lines a page like the other lists (rendering a line costs about half a millisecond), and
    # a carrier invoice has up to hundreds of thousands of them: never COUNT(*) them per page.
    paginate_by = 50
    paginator_class = EstimatingPaginator

    def dispatch(self, request, *args, **kwargs):
        # Permission before lookup: another object and a missing one answer alike.
        refused = self.check_access(request)
        if refused is not None:
            return refused
        self.invoice = get_object_or_404(selectors.invoices_list(), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.invoice_lines(self.invoice)

    def get_paginator(self, queryset, per_page, orphans=0, allow_empty_first_page=True, **kwargs):
        form = self.filterset.form
        filtered = self.filterset.is_bound and (
            not form.is_valid() or any(form.cleaned_data.get(name) not in (None, "") for name in self.filterset.filters)
        )
        if not filtered:
            # Every line of the invoice: the count its import stored.
            kwargs["known_count"] = self.invoice.line_count
        return super().get_paginator(queryset, per_page, orphans, allow_empty_first_page, **kwargs)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["invoice"] = self.invoice
        ctx["decide_form"] = DecideForm()
        ctx["payable"] = Payable.objects.filter(invoice=self.invoice).first()
        ctx["credit_notes"] = self.invoice.credit_notes.all()
        ctx["can_audit"] = self.request.user.has_perm("payables.audit_vendorinvoice")
        return ctx


class InvoiceDecideView(ActionView):
    permission_required = "payables.audit_vendorinvoice"

    def back(self, pk):
        return reverse("payables:invoice_detail", args=[pk])

    def act(self, request, pk):
        invoice = get_object_or_404(VendorInvoice, pk=pk)
        form = DecideForm(request.POST)
        if not form.is_valid():
            raise DomainError("Choose a decision.", field="decision")
        invoice = services.invoice_lines_decide(
            actor=request.user,
            invoice=invoice,
            line_ids=request.POST.getlist("lines"),
            decision=form.cleaned_data["decision"],
            reason=form.cleaned_data["reason"],
        )
        note = " The invoice is approved." if invoice.status == VendorInvoice.Status.APPROVED else ""
        decided = len(request.POST.getlist("lines"))
        return ngettext("%(n)d line decided.", "%(n)d lines decided.", decided) % {"n": decided} + note, self.back(pk)


class InvoiceReauditView(ActionView):
    permission_required = "payables.audit_vendorinvoice"

    def back(self, pk):
        return reverse("payables:invoice_detail", args=[pk])

    def act(self, request, pk):
        invoice = services.invoice_audit(invoice_id=get_object_or_404(VendorInvoice, pk=pk).pk, actor=request.user)
        waiting = invoice.pending_count
        message = ngettext(
            "Audit re-run: %(n)d line waits for review.", "Audit re-run: %(n)d lines wait for review.", waiting
        )
        return message % {"n": waiting}, self.back(pk)


class CreditNoteApproveView(ActionView):
    permission_required = "payables.audit_vendorinvoice"

    def back(self, pk):
        return reverse("payables:invoice_detail", args=[pk])

    def act(self, request, pk):
        invoice = services.invoice_approve(actor=request.user, invoice=get_object_or_404(VendorInvoice, pk=pk))
        return f"Credit note {invoice.number} approved.", self.back(pk)


class InvoiceLinesExportView(PermissionRequiredPageMixin, View):
    permission_required = (VIEW, "payables.export_payables")

    def get(self, request, pk):
        return exports.invoice_lines_workbook(get_object_or_404(selectors.invoices_list(), pk=pk))


class DisputeLetterView(PermissionRequiredPageMixin, View):
    permission_required = (VIEW, "payables.export_payables")

    def get(self, request, pk):
        vendor = get_object_or_404(Vendor, pk=pk)
        invoice = None
        if request.GET.get("invoice"):
            invoice = get_object_or_404(VendorInvoice, pk=request.GET["invoice"], vendor=vendor)
        return exports.dispute_letter_workbook(vendor, invoice)


# --- Payables -----------------------------------------------------------------------------------------


class PayableListView(PermissionRequiredPageMixin, FilterView):
    template_name = "payables/payable_list.html"
    permission_required = "payables.view_payable"
    filterset_class = PayableFilter
    paginate_by = 50

    def get_queryset(self):
        return selectors.payables_list()


class PayableExportView(PermissionRequiredPageMixin, View):
    permission_required = ("payables.view_payable", "payables.export_payables")

    def get(self, request):
        return exports.payables_workbook(PayableFilter(request.GET, queryset=selectors.payables_list()).qs)


class PayableHoldView(ActionView):
    permission_required = "payables.hold_payable"

    def back(self, pk):
        return reverse("payables:payable_list")

    def act(self, request, pk):
        payable = services.payable_hold(
            actor=request.user, payable=get_object_or_404(Payable, pk=pk), reason=request.POST.get("reason", "")
        )
        return f"Payable {payable.pk} is on hold.", self.back(pk)


class PayableReleaseView(ActionView):
    permission_required = "payables.hold_payable"

    def back(self, pk):
        return reverse("payables:payable_list")

    def act(self, request, pk):
        payable = services.payable_release(
            actor=request.user, payable=get_object_or_404(Payable, pk=pk), note=request.POST.get("note", "")
        )
        return f"Hold of payable {payable.pk} released.", self.back(pk)


class VendorStatementView(PermissionRequiredPageMixin, TemplateView):
    template_name = "payables/vendor_statement.html"
    permission_required = "payables.view_payable"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        vendor = get_object_or_404(Vendor.objects.select_related("market"), pk=kwargs["pk"])
        ctx.update(
            vendor=vendor,
            statement=selectors.vendor_statement(vendor),
            deductions=vendor.deductions.all()[:50],
            vendors=Vendor.objects.order_by("code"),
        )
        return ctx


class VendorStatementExportView(PermissionRequiredPageMixin, View):
    permission_required = ("payables.view_payable", "payables.export_payables")

    def get(self, request, pk):
        vendor = get_object_or_404(Vendor, pk=pk)
        return exports.statement_workbook(vendor, selectors.vendor_statement(vendor))


# --- Payment runs ------------------------------------------------------------------------------------


class RunListView(PermissionRequiredPageMixin, FilterView):
    template_name = "payables/run_list.html"
    permission_required = "payables.view_paymentrun"
    filterset_class = RunFilter
    paginate_by = 50

    def get_queryset(self):
        return selectors.runs_list()


class RunPrepareView(PermissionRequiredPageMixin, TemplateView):
    template_name = "payables/run_prepare.html"
    permission_required = "payables.prepare_paymentrun"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.setdefault("form", RunPrepareForm(initial={"bank_change_days": 14}))
        return ctx

    def post(self, request):
        form = RunPrepareForm(request.POST)
        if not form.is_valid():
            return render(request, self.template_name, self.get_context_data(form=form), status=400)
        data = form.cleaned_data
        try:
            run = services.payment_run_prepare(
                actor=request.user,
                market=data["market"],
                currency=data["market"].currency,
                pay_date=data["pay_date"],
                bank_change_days=data["bank_change_days"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
            return render(request, self.template_name, self.get_context_data(form=form), status=400)
        messages.success(request, f"Payment run {run.number} prepared; another person approves it.")
        return redirect("payables:run_detail", pk=run.pk)


class RunDetailView(PermissionRequiredPageMixin, DetailView):
    template_name = "payables/run_detail.html"
    permission_required = "payables.view_paymentrun"
    context_object_name = "run"

    def get_queryset(self):
        return selectors.runs_list()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        run = self.object
        ctx["payments"] = run.payments.select_related("vendor")
        ctx["items"] = run.items.select_related("vendor", "payable__invoice", "payable__deduction", "payment")
        ctx["exclusions"] = run.exclusions.select_related("vendor")
        ctx["bank_file"] = run.bank_files.first()
        user = self.request.user
        ctx["can_prepare"] = user.has_perm("payables.prepare_paymentrun")
        ctx["can_approve"] = user.has_perm("payables.approve_paymentrun") and run.prepared_by_id != user.pk
        ctx["result_form"] = ResultUploadForm()
        return ctx


class _RunAction(ActionView):
    def back(self, pk, **kwargs):
        return reverse("payables:run_detail", args=[pk])


class RunApproveView(_RunAction):
    permission_required = "payables.approve_paymentrun"

    def act(self, request, pk):
        run = services.payment_run_approve(actor=request.user, run=get_object_or_404(PaymentRun, pk=pk))
        return f"Payment run {run.number} approved.", self.back(pk)


class RunExportView(_RunAction):
    permission_required = "payables.prepare_paymentrun"

    def act(self, request, pk):
        bank_file = services.payment_run_export(actor=request.user, run=get_object_or_404(PaymentRun, pk=pk))
        return f"Bank file {bank_file.filename} created (SHA-256 {bank_file.sha256[:12]}…).", self.back(pk)


class RunCancelView(_RunAction):
    permission_required = "payables.prepare_paymentrun"

    def act(self, request, pk):
        run = services.payment_run_cancel(
            actor=request.user, run=get_object_or_404(PaymentRun, pk=pk), reason=request.POST.get("reason", "")
        )
        return f"Payment run {run.number} cancelled; its payables are open again.", self.back(pk)


class RunRemoveItemView(_RunAction):
    permission_required = "payables.prepare_paymentrun"

    def act(self, request, pk):
        payable = Payable.objects.filter(pk=request.POST.get("payable") or 0).first()
        if payable is None:
            raise DomainError("Choose a payable of the run.", field="payable")
        services.payment_run_remove_item(
            actor=request.user,
            run=get_object_or_404(PaymentRun, pk=pk),
            payable=payable,
            reason=request.POST.get("reason", ""),
        )
        return f"Payable {payable.pk} removed from the run.", self.back(pk)


class RunResultsView(_RunAction):
    permission_required = "payables.prepare_paymentrun"

    def act(self, request, pk):
        form = ResultUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            raise DomainError("Upload the bank's result file (CSV).", field="file")
        counts = services.payment_results_import(
            actor=request.user, run=get_object_or_404(PaymentRun, pk=pk), content=form.cleaned_data["file"]
        )
        return (
            f"Results applied: {counts['paid']} paid, {counts['rejected']} rejected, {counts['unchanged']} unchanged.",
            self.back(pk),
        )


class PaymentMarkView(ActionView):
    permission_required = "payables.prepare_paymentrun"

    def back(self, pk):
        return reverse("payables:run_detail", args=[get_object_or_404(Payment, pk=pk).run_id])

    def act(self, request, pk):
        payment = services.payment_mark(
            actor=request.user,
            payment=get_object_or_404(Payment, pk=pk),
            status=request.POST.get("status", ""),
            reason=request.POST.get("reason", ""),
        )
        return f"Payment {payment.end_to_end_id} marked {payment.get_status_display().lower()}.", self.back(pk)


class BankFileDownloadView(PermissionRequiredPageMixin, View):
    permission_required = ("payables.view_bankfile", "payables.export_payables")

    def get(self, request, pk):
        found = selectors.run_bank_file(get_object_or_404(PaymentRun, pk=pk))
        if found is None:
            raise Http404("No bank file yet")
        bank_file, content_type = found
        response = HttpResponse(bytes(bank_file.content), content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{bank_file.filename}"'
        response["X-Content-SHA256"] = bank_file.sha256
        return response


class RunWorkbookView(PermissionRequiredPageMixin, View):
    permission_required = ("payables.view_paymentrun", "payables.export_payables")

    def get(self, request, pk):
        return exports.run_workbook(get_object_or_404(selectors.runs_list(), pk=pk))


class RemittanceView(PermissionRequiredPageMixin, View):
    permission_required = ("payables.view_payment", "payables.export_payables")

    def get(self, request, pk):
        payment = get_object_or_404(Payment.objects.select_related("vendor", "run"), pk=pk)
        if request.GET.get("format") == "pdf":
            response = HttpResponse(exports.remittance_pdf(payment), content_type="application/pdf")
            response["Content-Disposition"] = f'attachment; filename="remittance_{payment.end_to_end_id}.pdf"'
            return response
        return exports.remittance_workbook(payment)


class LineageView(PermissionRequiredPageMixin, View):
    permission_required = ("payables.view_payment", "payables.export_payables")

    def get(self, request, pk):
        return exports.lineage_workbook(get_object_or_404(selectors.payments_list(), pk=pk))
