"""Seller portal pages for statements, invoices (with PDF) and payments. Every queryset comes
from the same caller-scoped selectors the API's `get_queryset` uses (selectors.statements_for,
invoices_for, ...), so both doors show a seller user only their own seller's rows: another
seller's statement or invoice is a 404 like a missing one."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.views import View
from django.views.generic import DetailView
from django_filters.views import FilterView

from billing.models import ChargeLine
from sellers.permissions import SellerPortalMixin

from . import exports, selectors
from .documents import labels_for, vat_summary
from .filters import PortalInvoiceFilter
from .models import Invoice, PayoutDeduction, Receipt, Statement
from .views import pdf_response

# Choice labels the portal shows in the reader's language ({% translate obj.get_status_display %});
# the catalogue extractor (settlement_ops.catalogues) puts them into the .po files.
TRANSLATED_CHOICES = [Invoice.Kind, Invoice.Status, Receipt.Status, PayoutDeduction.Status, ChargeLine.Kind]


class PortalStatementListView(SellerPortalMixin, FilterView):
    template_name = "receivables/portal/statement_list.html"
    filterset_fields = ["period_end"]
    model = Statement
    paginate_by = 24

    def get_queryset(self):
        return selectors.statements_for(self.request.user).order_by("-period_end")

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "seller": self.seller}


class PortalStatementDetailView(SellerPortalMixin, DetailView):
    template_name = "receivables/statement_detail.html"
    context_object_name = "statement"

    def get_queryset(self):
        return selectors.statements_for(self.request.user)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(
            seller=self.seller,
            portal=True,
            lines=selectors.statement_lines(self.object),
            fees=selectors.statement_fee_page(self.object, self.request.GET.get("page")),
            export_url_name="portal:statement_export",
        )
        return ctx


class PortalStatementExportView(SellerPortalMixin, View):
    def get(self, request, pk):
        return exports.statement_workbook(get_object_or_404(selectors.statements_for(request.user), pk=pk))


class PortalInvoiceListView(SellerPortalMixin, FilterView):
    template_name = "receivables/portal/invoice_list.html"
    filterset_class = PortalInvoiceFilter
    paginate_by = 50

    def get_queryset(self):
        return selectors.invoices_for(self.request.user).order_by("-issue_date", "-id")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        # An open invoice past its due date (the market's business date) reads "Overdue · N days".
        today = self.seller.market.local_date()
        for invoice in ctx["object_list"]:
            past_due = invoice.status in Invoice.OPEN_STATUSES and invoice.due_date < today
            invoice.days_overdue = (today - invoice.due_date).days if past_due else 0
        return {**ctx, "seller": self.seller}


class PortalInvoiceDetailView(SellerPortalMixin, DetailView):
    template_name = "receivables/invoice_detail.html"
    context_object_name = "invoice"

    def get_queryset(self):
        return selectors.invoices_for(self.request.user)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        invoice = self.object
        ctx.update(
            seller=self.seller,
            portal=True,
            lines=invoice.lines.all()[:1000],
            vat_rows=vat_summary(invoice),
            t=labels_for(invoice.language),
            applications=invoice.applications.select_related("receipt"),
            credit_notes=invoice.credit_notes.all(),
        )
        return ctx


class PortalInvoicePdfView(SellerPortalMixin, View):
    def get(self, request, pk):
        return pdf_response(get_object_or_404(selectors.invoices_for(request.user), pk=pk))


class PortalPaymentListView(SellerPortalMixin, FilterView):
    template_name = "receivables/portal/payment_list.html"
    filterset_fields = ["status"]
    model = Receipt
    paginate_by = 50

    def get_queryset(self):
        return (
            selectors.receipts_for(self.request.user)
            .exclude(status=Receipt.Status.REVERSED)
            .prefetch_related("applications__invoice")
            .order_by("-value_date", "-id")
        )

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["seller"] = self.seller
        ctx["deductions"] = selectors.deductions_for(self.request.user).order_by("-id")[:50]
        return ctx
