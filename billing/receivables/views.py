"""Receivables staff pages: statements, invoices (PDF, credit notes, write-off proposals),
receipts (import, entry, the unmatched queue, application and reversal), aging, the collections
worklist and write-off approvals. Thin: forms validate, one service call, DomainError -> message."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import ngettext
from django.views import View
from django.views.generic import DetailView, TemplateView
from django_filters.views import FilterView

from sellers.models import Seller
from settlement_ops.errors import DomainError
from settlement_ops.forms import add_domain_error
from settlement_ops.import_jobs import import_job_start
from settlement_ops.models import Market
from settlement_ops.permissions import PermissionRequiredPageMixin
from settlement_ops.selectors import import_jobs_of
from settlement_ops.views import query_date

from . import exports, selectors
from .cash import (
    application_reverse,
    receipt_apply,
    receipt_identify,
    receipt_record,
    receipt_reverse,
)
from .documents import invoice_pdf, labels_for, vat_summary
from .dunning import collection_note_add
from .filters import InvoiceFilter, ReceiptFilter, StatementFilter, WriteOffFilter
from .forms import (
    ApplyForm,
    CollectionNoteForm,
    CreditNoteForm,
    DecisionForm,
    ReasonForm,
    ReceiptForm,
    ReceiptImportForm,
    StatementGenerateForm,
    WriteOffForm,
)
from .imports import BANK_STATEMENT
from .models import Invoice, Receipt, WriteOff
from .services import (
    credit_note_issue,
    statement_period,
    statements_generate,
    write_off_approve,
    write_off_propose,
    write_off_reject,
)


def form_problems(form) -> str:
    """A refused form's errors as one sentence naming each field, for a page message."""
    parts = []
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        label = (field.label if field else None) or name.replace("_", " ").capitalize()
        parts.append(" ".join(errors) if name == "__all__" else f"{label}: {' '.join(errors)}")
    return " ".join(parts)


def _refuse(request):
    from settlement_ops.permissions import log_refusal

    log_refusal(request, "page")
    return render(request, "403.html", status=403)


def pdf_response(invoice: Invoice) -> HttpResponse:
    response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{invoice.number}.pdf"'
    return response


# --- Statements ---------------------------------------------------------------------------------


class StatementListView(PermissionRequiredPageMixin, FilterView):
    template_name = "receivables/statement_list.html"
    permission_required = "receivables.view_statement"
    filterset_class = StatementFilter
    paginate_by = 50

    def get_queryset(self):
        return selectors.statements_for(self.request.user).order_by("-period_end", "seller__code")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        market = Market.objects.filter(pk="GB").first() or Market.objects.first()
        start, end = statement_period(market=market) if market else (None, None)
        ctx.setdefault(
            "form", StatementGenerateForm(initial={"market": market, "period_start": start, "period_end": end})
        )
        ctx["can_generate"] = self.request.user.has_perm("receivables.add_statement")
        return ctx

    def post(self, request):
        if not request.user.has_perm("receivables.add_statement"):
            return _refuse(request)
        form = StatementGenerateForm(request.POST)
        if form.is_valid():
            try:
                statements = statements_generate(actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(
                    request,
                    ngettext(
                        "%(n)d statement written for %(market)s.",
                        "%(n)d statements written for %(market)s.",
                        len(statements),
                    )
                    % {"n": len(statements), "market": form.cleaned_data["market"].code},
                )
                return redirect("receivables:statement_list")
        self.filterset = self.get_filterset(self.get_filterset_class())
        self.object_list = self.filterset.qs
        return render(request, self.template_name, self.get_context_data(form=form), status=400)


class StatementExportListView(PermissionRequiredPageMixin, View):
    permission_required = ("receivables.view_statement", "receivables.export_statement")

    def get(self, request):
        return exports.statements_workbook(
            StatementFilter(request.GET, queryset=selectors.statements_for(request.user)).qs
        )


class StatementDetailView(PermissionRequiredPageMixin, DetailView):
    template_name = "receivables/statement_detail.html"
    permission_required = "receivables.view_statement"
    context_object_name = "statement"

    def get_queryset(self):
        return selectors.statements_for(self.request.user)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["lines"] = selectors.statement_lines(self.object)
        ctx["fees"] = selectors.statement_fee_page(self.object, self.request.GET.get("page"))
        ctx["export_url_name"] = "receivables:statement_export"
        return ctx


class StatementExportView(PermissionRequiredPageMixin, View):
    permission_required = ("receivables.view_statement", "receivables.export_statement")

    def get(self, request, pk):
        return exports.statement_workbook(get_object_or_404(selectors.statements_for(request.user), pk=pk))


# --- Invoices ------------------------------------------------------------------------------------


class InvoiceListView(PermissionRequiredPageMixin, FilterView):
    template_name = "receivables/invoice_list.html"
    permission_required = "receivables.view_invoice"
    filterset_class = InvoiceFilter
    paginate_by = 50

    def get_queryset(self):
        return selectors.invoices_for(self.request.user).order_by("-issue_date", "-id")

    def get(self, request, *args, **kwargs):
        if request.GET.get("format") == "xlsx":
            if not request.user.has_perm("receivables.export_statement"):
                return _refuse(request)
            return exports.invoices_workbook(
                InvoiceFilter(request.GET, queryset=self.get_queryset()).qs, timezone.localdate()
            )
        return super().get(request, *args, **kwargs)


class InvoiceDetailView(PermissionRequiredPageMixin, DetailView):
    template_name = "receivables/invoice_detail.html"
    permission_required = "receivables.view_invoice"
    context_object_name = "invoice"

    def get_queryset(self):
        return selectors.invoices_for(self.request.user)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        invoice = self.object
        user = self.request.user
        ctx.update(
            lines=invoice.lines.select_related("credit_line__invoice")[:1000],
            vat_rows=vat_summary(invoice),
            t=labels_for(invoice.language),
            applications=invoice.applications.select_related("receipt"),
            notices=invoice.dunning_notices.all(),
            write_offs=invoice.write_offs.select_related("proposed_by", "decided_by"),
            credit_notes=invoice.credit_notes.all(),
            can_credit=user.has_perm("receivables.add_invoice") and invoice.is_open,
            can_write_off=user.has_perm("receivables.add_writeoff") and invoice.is_open,
            credit_form=kwargs.get("credit_form") or CreditNoteForm(),
            write_off_form=kwargs.get("write_off_form") or WriteOffForm(),
        )
        return ctx


class InvoicePdfView(PermissionRequiredPageMixin, View):
    permission_required = "receivables.view_invoice"

    def get(self, request, pk):
        return pdf_response(get_object_or_404(selectors.invoices_for(request.user), pk=pk))


class InvoiceCreditNoteView(PermissionRequiredPageMixin, View):
    permission_required = "receivables.add_invoice"

    def post(self, request, pk):
        invoice = get_object_or_404(selectors.invoices_for(request.user), pk=pk)
        form = CreditNoteForm(request.POST)
        if form.is_valid():
            line_ids = request.POST.getlist("line") or None
            try:
                note = credit_note_issue(
                    actor=request.user, invoice=invoice, reason=form.cleaned_data["reason"], line_ids=line_ids
                )
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                noun = "Replacement invoice" if note.replaces_id else note.get_kind_display()
                messages.success(request, f"{noun} {note.number} issued.")
                return redirect("receivables:invoice_detail", note.pk)
        else:
            messages.error(request, "Give a reason for the credit note.")
        return redirect("receivables:invoice_detail", invoice.pk)


class InvoiceWriteOffView(PermissionRequiredPageMixin, View):
    permission_required = "receivables.add_writeoff"

    def post(self, request, pk):
        invoice = get_object_or_404(selectors.invoices_for(request.user), pk=pk)
        form = WriteOffForm(request.POST)
        if form.is_valid():
            try:
                write_off_propose(actor=request.user, invoice=invoice, **form.cleaned_data)
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, "Write-off proposed; another user must approve it.")
        else:
            messages.error(request, "Write-off not proposed: " + form_problems(form))
        return redirect("receivables:invoice_detail", invoice.pk)


# --- Receipts ------------------------------------------------------------------------------------


class ReceiptListView(PermissionRequiredPageMixin, FilterView):
    template_name = "receivables/receipt_list.html"
    permission_required = "receivables.view_receipt"
    filterset_class = ReceiptFilter
    paginate_by = 50
    queue = False

    def get_queryset(self):
        qs = selectors.receipts_for(self.request.user).order_by("-value_date", "-id")
        return qs.filter(status=Receipt.Status.UNMATCHED) if self.queue else qs

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["queue"] = self.queue
        ctx["can_add"] = self.request.user.has_perm("receivables.add_receipt")
        ctx.setdefault("import_form", ReceiptImportForm())
        ctx.setdefault("receipt_form", ReceiptForm(initial={"value_date": timezone.localdate()}))
        ctx["jobs"] = import_jobs_of(kind=BANK_STATEMENT) if ctx["can_add"] and not self.queue else []
        return ctx

    def _rerender(self, request, status=400, **ctx):
        self.filterset = self.get_filterset(self.get_filterset_class())
        self.object_list = self.filterset.qs
        return render(request, self.template_name, self.get_context_data(**ctx), status=status)

    def post(self, request):
        if not request.user.has_perm("receivables.add_receipt"):
            return _refuse(request)
        if "file" in request.FILES or request.POST.get("action") == "import":
            form = ReceiptImportForm(request.POST, request.FILES)
            if not form.is_valid():
                return self._rerender(request, import_form=form)
            upload, market = form.cleaned_data["file"], form.cleaned_data["market"]
            try:
                # Checked by type and size now; read, imported and matched by a background job.
                job = import_job_start(
                    actor=request.user,
                    kind=BANK_STATEMENT,
                    target=market.code,
                    filename=upload.name,
                    content=upload.read(),
                )
            except DomainError as exc:
                add_domain_error(form, exc)
                return self._rerender(request, import_form=form)
            return redirect("import_job", pk=job.pk)
        form = ReceiptForm(request.POST)
        if not form.is_valid():
            return self._rerender(request, receipt_form=form)
        try:
            receipt = receipt_record(actor=request.user, source=Receipt.Source.MANUAL, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
            return self._rerender(request, receipt_form=form)
        messages.success(request, f"Receipt {receipt.bank_reference} recorded: {receipt.get_status_display().lower()}.")
        return redirect("receivables:receipt_detail", receipt.pk)


class ReceiptQueueView(ReceiptListView):
    queue = True


class ReceiptExportView(PermissionRequiredPageMixin, View):
    permission_required = ("receivables.view_receipt", "receivables.export_statement")

    def get(self, request):
        receipts = ReceiptFilter(
            request.GET, queryset=selectors.receipts_for(request.user).order_by("value_date", "pk")
        ).qs
        applications = (
            selectors.applications_for(request.user).filter(receipt__in=receipts).order_by("receipt_id", "pk")
        )
        return exports.receipts_workbook(receipts, applications)


class ReceiptDetailView(PermissionRequiredPageMixin, DetailView):
    template_name = "receivables/receipt_detail.html"
    permission_required = "receivables.view_receipt"
    context_object_name = "receipt"

    def get_queryset(self):
        return selectors.receipts_for(self.request.user)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        receipt = self.object
        ctx["applications"] = receipt.applications.select_related("invoice", "applied_by", "reversed_by")
        ctx["can_apply"] = (
            self.request.user.has_perm("receivables.apply_receipt") and receipt.status != Receipt.Status.REVERSED
        )
        ctx.setdefault("apply_form", ApplyForm())
        ctx["reason_form"] = ReasonForm()
        if receipt.seller_id:
            ctx["open_invoices"] = selectors.open_invoices(seller=receipt.seller).order_by("due_date")[:50]
        ctx["sellers"] = (
            Seller.objects.filter(market=receipt.market_id).order_by("code") if not receipt.seller_id else []
        )
        return ctx


class ReceiptActionView(PermissionRequiredPageMixin, View):
    """POST receipts/<pk>/<action>/: apply (to an invoice number), identify (name the seller), reverse."""

    permission_required = "receivables.apply_receipt"
    action = "apply"

    def post(self, request, pk):
        receipt = get_object_or_404(selectors.receipts_for(request.user), pk=pk)
        try:
            if self.action == "apply":
                form = ApplyForm(request.POST)
                if not form.is_valid():
                    raise DomainError("Enter an invoice number and, if you like, an amount.")
                invoice = Invoice.objects.filter(
                    number=form.cleaned_data["invoice_number"].strip().upper(), market=receipt.market_id
                ).first()
                if invoice is None:
                    raise DomainError(f"No invoice {form.cleaned_data['invoice_number']} in {receipt.market_id}.")
                receipt_apply(actor=request.user, receipt=receipt, invoice=invoice, amount=form.cleaned_data["amount"])
                messages.success(request, f"Applied to {invoice.number}.")
            elif self.action == "identify":
                seller = Seller.objects.filter(pk=request.POST.get("seller") or 0, market=receipt.market_id).first()
                if seller is None:
                    raise DomainError("Choose a seller of the receipt's market.")
                receipt = receipt_identify(actor=request.user, receipt=receipt, seller=seller)
                messages.success(request, f"Receipt assigned to {seller.code}: {receipt.get_status_display().lower()}.")
            else:
                form = ReasonForm(request.POST)
                if not form.is_valid():
                    raise DomainError("Say why the receipt is reversed.")
                receipt_reverse(actor=request.user, receipt=receipt, reason=form.cleaned_data["reason"])
                messages.success(request, "Receipt reversed.")
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("receivables:receipt_detail", receipt.pk)


class ApplicationReverseView(PermissionRequiredPageMixin, View):
    permission_required = "receivables.apply_receipt"

    def post(self, request, pk):
        application = get_object_or_404(selectors.applications_for(request.user), pk=pk)
        form = ReasonForm(request.POST)
        try:
            if not form.is_valid():
                raise DomainError("Say why the application is reversed.")
            application_reverse(actor=request.user, application=application, reason=form.cleaned_data["reason"])
            messages.success(
                request, f"Application to {application.invoice.number} reversed; the money is unapplied again."
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("receivables:receipt_detail", application.receipt_id)


# --- Aging and collections -------------------------------------------------------------------------


class AgingView(PermissionRequiredPageMixin, TemplateView):
    template_name = "receivables/aging.html"
    permission_required = "receivables.view_invoice"

    def report(self):
        market = Market.objects.filter(pk=self.request.GET.get("market") or "").first()
        as_of = query_date(self.request.GET.get("as_of")) or timezone.localdate()
        return market, selectors.aging(as_of=as_of, market=market, user=self.request.user)

    def get(self, request, *args, **kwargs):
        if request.GET.get("format") == "xlsx":
            if not request.user.has_perm("receivables.export_statement"):
                return _refuse(request)
            return exports.aging_workbook(self.report()[1])
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        market, report = self.report()
        # Totals and the chart cover every seller; the table shows a page of them (10,000 sellers
        # would be a page of 60,000 links).
        page_obj = Paginator(report["rows"], 100).get_page(self.request.GET.get("page"))
        ctx.update(
            report=report,
            page_obj=page_obj,
            rows=page_obj.object_list,
            market=market,
            markets=Market.objects.all(),
            buckets=selectors.BUCKETS,
            chart=selectors.aging_chart_svg(report["reporting"], report["reporting_currency"]),
        )
        return ctx


class WorklistView(PermissionRequiredPageMixin, TemplateView):
    """Sellers with overdue invoices, most overdue money first, with their latest note and promise."""

    template_name = "receivables/worklist.html"
    permission_required = "receivables.view_collectionnote"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        today = timezone.localdate()
        market = Market.objects.filter(pk=self.request.GET.get("market") or "").first()
        rows = selectors.collections_worklist(today=today, market=market)
        ctx.update(rows=rows, markets=Market.objects.all(), market=market, today=today)
        return ctx


class SellerCollectionsView(PermissionRequiredPageMixin, TemplateView):
    template_name = "receivables/seller_collections.html"
    permission_required = "receivables.view_collectionnote"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        seller = get_object_or_404(Seller.objects.select_related("market"), pk=self.kwargs["pk"])
        ctx.update(
            seller=seller,
            form=kwargs.get("form") or CollectionNoteForm(seller=seller),
            notes=seller.collection_notes.select_related("author", "invoice")[:100],
            invoices=selectors.open_invoices(seller=seller).order_by("due_date"),
            can_note=self.request.user.has_perm("receivables.manage_collections"),
        )
        return ctx

    def post(self, request, pk):
        if not request.user.has_perm("receivables.manage_collections"):
            return _refuse(request)
        seller = get_object_or_404(Seller, pk=pk)
        form = CollectionNoteForm(request.POST, seller=seller)
        if form.is_valid():
            try:
                collection_note_add(actor=request.user, seller=seller, **form.cleaned_data)
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, "Saved.")
                return redirect("receivables:seller_collections", seller.pk)
        return render(request, self.template_name, self.get_context_data(form=form), status=400)


class WriteOffListView(PermissionRequiredPageMixin, FilterView):
    template_name = "receivables/write_off_list.html"
    permission_required = "receivables.view_writeoff"
    filterset_class = WriteOffFilter
    paginate_by = 50

    def get_queryset(self):
        return WriteOff.objects.select_related("invoice", "invoice__seller", "proposed_by", "decided_by").order_by(
            "-proposed_at", "-id"
        )

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["can_decide"] = self.request.user.has_perm("receivables.approve_writeoff")
        return ctx


class WriteOffDecideView(PermissionRequiredPageMixin, View):
    permission_required = "receivables.approve_writeoff"

    def post(self, request, pk):
        write_off = get_object_or_404(WriteOff, pk=pk)
        form = DecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose approve or reject.")
            return redirect("receivables:write_off_list")
        try:
            if form.cleaned_data["decision"] == "approve":
                write_off_approve(actor=request.user, write_off=write_off, note=form.cleaned_data["note"])
                messages.success(request, f"Write-off of {write_off.invoice.number} approved and posted.")
            else:
                write_off_reject(actor=request.user, write_off=write_off, note=form.cleaned_data["note"])
                messages.success(request, "Write-off rejected.")
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("receivables:write_off_list")
