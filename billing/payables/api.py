"""REST endpoints of payables (thin: validate, call one service, render)."""

from __future__ import annotations

import django_filters
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from settlement_ops.api import IdempotentMixin
from settlement_ops.errors import ConflictError, DomainError
from settlement_ops.models import Market
from settlement_ops.money import CURRENCY_CHOICES
from settlement_ops.schema import ERROR_BODY
from vendors.models import Vendor

from . import exports, selectors, services
from .models import (
    InvoiceColumnMapping,
    InvoiceImport,
    Payable,
    Payment,
    PaymentRun,
    PaymentRunExclusion,
    VendorDeduction,
    VendorInvoice,
    VendorInvoiceLine,
)
from .parsing import FEE_CHARGE_KINDS, MAPPING_FIELDS

VIEW_INVOICE = "payables.view_vendorinvoice"


class InvoiceImportSerializer(serializers.ModelSerializer):
    vendor = serializers.CharField(source="vendor.code")
    invoice = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = InvoiceImport
        fields = [
            "id",
            "vendor",
            "kind",
            "header",
            "filename",
            "sha256",
            "size",
            "source",
            "status",
            "total_rows",
            "processed_rows",
            "progress_percent",
            "error_count",
            "errors",
            "message",
            "invoice",
            "created_at",
            "finished_at",
        ]


class InvoiceUploadSerializer(serializers.Serializer):
    vendor = serializers.CharField(help_text="Vendor code")
    kind = serializers.ChoiceField(choices=VendorInvoice.Kind.choices, default=VendorInvoice.Kind.INVOICE)
    file = serializers.FileField()
    invoice_number = serializers.CharField(required=False, allow_blank=True, max_length=64)
    invoice_date = serializers.DateField(required=False, allow_null=True)
    currency = serializers.CharField(required=False, allow_blank=True, max_length=3)
    net_total = serializers.DecimalField(max_digits=20, decimal_places=4)
    vat_total = serializers.DecimalField(max_digits=20, decimal_places=4)
    gross_total = serializers.DecimalField(max_digits=20, decimal_places=4)
    credited_invoice_number = serializers.CharField(required=False, allow_blank=True, max_length=64)

    def validate_vendor(self, value):
        vendor = Vendor.objects.filter(code=value).first()
        if vendor is None:
            raise serializers.ValidationError(f"unknown vendor {value!r}")
        return vendor


class InvoiceImportViewSet(IdempotentMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Upload a vendor invoice file (multipart); it is checked, stored and audited by a job.
    Poll the import until `status` is done (then `invoice` is set) or refused (`errors` lists
    every bad row and field; nothing was stored)."""

    serializer_class = InvoiceImportSerializer
    parser_classes = [MultiPartParser, FormParser]
    filterset_fields = ["status", "kind"]
    required_permissions = {"read": "payables.view_invoiceimport", "create": "payables.import_vendorinvoice"}

    def get_queryset(self):
        return selectors.imports_list().order_by("-id")

    @extend_schema(request=InvoiceUploadSerializer, responses={202: InvoiceImportSerializer})
    def create(self, request, *args, **kwargs):
        upload = InvoiceUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        data = upload.validated_data
        job = services.invoice_import_create(
            actor=request.user,
            vendor=data["vendor"],
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
            source="api",
        )
        return Response(InvoiceImportSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class VendorInvoiceSerializer(serializers.ModelSerializer):
    vendor = serializers.CharField(source="vendor.code")
    credited_invoice = serializers.CharField(
        source="credited_invoice.number", default=None, allow_null=True, read_only=True
    )

    class Meta:
        model = VendorInvoice
        fields = [
            "id",
            "vendor",
            "market",
            "kind",
            "number",
            "invoice_date",
            "currency",
            "net_total",
            "vat_total",
            "gross_total",
            "credited_invoice",
            "status",
            "line_count",
            "pending_count",
            "flagged_count",
            "expected_total",
            "approved_total",
            "disputed_total",
            "savings_total",
            "approved_net",
            "approved_vat",
            "accrual_relieved",
            "audited_at",
            "approved_at",
            "entry",
        ]


class VendorInvoiceLineSerializer(serializers.ModelSerializer):
    flags = serializers.ListField(source="flag_codes", child=serializers.CharField())
    decided_by = serializers.CharField(source="decided_by.username", default=None, allow_null=True, read_only=True)

    class Meta:
        model = VendorInvoiceLine
        fields = [
            "id",
            "line_no",
            "tracking_number",
            "ship_date",
            "billed_weight_kg",
            "chargeable_weight_kg",
            "billed_base",
            "billed_fuel",
            "billed_remote_area",
            "billed_oversize",
            "billed_cod",
            "billed_peak",
            "billed_returns",
            "billed_insurance",
            "billed_handling",
            "billed_other",
            "billed_net",
            "billed_vat",
            "billed_gross",
            "expected_net",
            "expected_vat",
            "shipment",
            "charge_line",
            "contract_version",
            "rate_line",
            "flags",
            "decision",
            "approved_net",
            "approved_vat",
            "reason",
            "decided_by",
            "decided_at",
        ]


class VendorInvoiceDecideSerializer(serializers.Serializer):
    lines = serializers.ListField(child=serializers.IntegerField(), allow_empty=False)
    decision = serializers.ChoiceField(choices=["approved", "short_paid", "disputed"])
    reason = serializers.CharField(required=False, allow_blank=True, max_length=255)


class VendorInvoiceViewSet(IdempotentMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = VendorInvoiceSerializer
    filterset_fields = ["vendor", "market", "kind", "status", "number"]
    required_permissions = {
        "read": VIEW_INVOICE,
        "decide": "payables.audit_vendorinvoice",
        "approve": "payables.audit_vendorinvoice",
        "reaudit": "payables.audit_vendorinvoice",
    }

    def get_queryset(self):
        return selectors.invoices_list()

    @action(detail=True, methods=["get"])
    def lines(self, request, pk=None):
        invoice = self.get_object()
        page = self.paginate_queryset(
            selectors.invoice_lines(invoice, flagged_only=request.query_params.get("flagged") == "1")
        )
        return self.get_paginated_response(VendorInvoiceLineSerializer(page, many=True).data)

    @extend_schema(request=VendorInvoiceDecideSerializer, responses=VendorInvoiceSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        body = VendorInvoiceDecideSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        invoice = services.invoice_lines_decide(
            actor=request.user,
            invoice=self.get_object(),
            line_ids=body.validated_data["lines"],
            decision=body.validated_data["decision"],
            reason=body.validated_data.get("reason", ""),
        )
        return Response(VendorInvoiceSerializer(invoice).data)

    @extend_schema(request=None, responses=VendorInvoiceSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return Response(
            VendorInvoiceSerializer(services.invoice_approve(actor=request.user, invoice=self.get_object())).data
        )

    @extend_schema(request=None, responses=VendorInvoiceSerializer)
    @action(detail=True, methods=["post"])
    def reaudit(self, request, pk=None):
        return Response(
            VendorInvoiceSerializer(services.invoice_audit(invoice_id=self.get_object().pk, actor=request.user)).data
        )


class PayableSerializer(serializers.ModelSerializer):
    vendor = serializers.CharField(source="vendor.code")
    held_by = serializers.CharField(source="held_by.username", default=None, allow_null=True, read_only=True)

    class Meta:
        model = Payable
        fields = [
            "id",
            "vendor",
            "market",
            "currency",
            "kind",
            "invoice",
            "deduction",
            "reference",
            "amount",
            "due_date",
            "status",
            "payment_run",
            "payment",
            "on_hold",
            "hold_reason",
            "held_by",
            "held_at",
            "last_rejection_reason",
            "paid_at",
        ]


class PayablesReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True)


class PayableViewSet(IdempotentMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = PayableSerializer
    filterset_fields = ["vendor", "market", "status", "kind", "on_hold"]
    required_permissions = {
        "read": "payables.view_payable",
        "hold": "payables.hold_payable",
        "release": "payables.hold_payable",
    }

    def get_queryset(self):
        return selectors.payables_list()

    @extend_schema(request=PayablesReasonSerializer, responses=PayableSerializer)
    @action(detail=True, methods=["post"])
    def hold(self, request, pk=None):
        payable = services.payable_hold(
            actor=request.user, payable=self.get_object(), reason=request.data.get("reason", "")
        )
        return Response(PayableSerializer(payable).data)

    @extend_schema(request=PayablesReasonSerializer, responses=PayableSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        payable = services.payable_release(
            actor=request.user, payable=self.get_object(), note=request.data.get("reason", "")
        )
        return Response(PayableSerializer(payable).data)


class DeductionSerializer(serializers.ModelSerializer):
    vendor = serializers.SlugRelatedField(slug_field="code", queryset=Vendor.objects.all())

    class Meta:
        model = VendorDeduction
        fields = [
            "id",
            "vendor",
            "currency",
            "amount",
            "reason",
            "source_type",
            "source_id",
            "counter_account_kind",
            "entry",
            "created_at",
        ]
        read_only_fields = ["entry", "created_at"]
        # money_field() has a default, which would make the amount optional (a blank form value
        # would then reach the service as a missing argument): it is required here.
        extra_kwargs = {
            "amount": {"required": True},
            "currency": {"required": False},
            "counter_account_kind": {"required": False},
        }
        validators = []  # the service answers a repeated source with the first deduction


class VendorDeductionViewSet(IdempotentMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = DeductionSerializer
    filterset_fields = ["vendor", "source_type"]
    required_permissions = {"read": "payables.view_vendordeduction", "create": "payables.add_vendordeduction"}

    def get_queryset(self):
        return VendorDeduction.objects.select_related("vendor").order_by("-id")

    def create(self, request, *args, **kwargs):
        body = DeductionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        deduction = services.vendor_deduction_create(actor=request.user, **body.validated_data)
        return Response(DeductionSerializer(deduction).data, status=status.HTTP_201_CREATED)


class PaymentSerializer(serializers.ModelSerializer):
    vendor = serializers.CharField(source="vendor.code")
    run = serializers.CharField(source="run.number")

    class Meta:
        model = Payment
        fields = [
            "id",
            "run",
            "vendor",
            "currency",
            "amount",
            "end_to_end_id",
            "account_holder",
            "iban",
            "bic",
            "account_number",
            "bank_code",
            "status",
            "rejection_reason",
            "confirmed_at",
            "entry",
            "reversal_entry",
        ]


class ExclusionSerializer(serializers.ModelSerializer):
    vendor = serializers.CharField(source="vendor.code")

    class Meta:
        model = PaymentRunExclusion
        fields = ["payable", "vendor", "amount", "code", "reason"]


class RunSerializer(serializers.ModelSerializer):
    prepared_by = serializers.CharField(source="prepared_by.username")
    approved_by = serializers.CharField(source="approved_by.username", default=None, allow_null=True, read_only=True)
    payments = PaymentSerializer(many=True, read_only=True)
    exclusions = ExclusionSerializer(many=True, read_only=True)
    bank_file_sha256 = serializers.SerializerMethodField()

    class Meta:
        model = PaymentRun
        fields = [
            "id",
            "number",
            "market",
            "currency",
            "pay_date",
            "bank_change_days",
            "status",
            "total_amount",
            "payment_count",
            "prepared_by",
            "prepared_at",
            "approved_by",
            "approved_at",
            "payments",
            "exclusions",
            "bank_file_sha256",
        ]

    def get_bank_file_sha256(self, run) -> str | None:
        bank_file = run.bank_files.first()
        return bank_file.sha256 if bank_file else None


class RunPrepareSerializer(serializers.Serializer):
    market = serializers.PrimaryKeyRelatedField(queryset=Market.objects.all())
    pay_date = serializers.DateField()
    bank_change_days = serializers.IntegerField(min_value=0, default=14)
    currency = serializers.CharField(required=False, max_length=3)


class RunRemoveSerializer(serializers.Serializer):
    payable = serializers.IntegerField()
    reason = serializers.CharField(max_length=255)


class PaymentRunViewSet(IdempotentMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = RunSerializer
    filterset_fields = ["market", "status", "currency"]
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    required_permissions = {
        "read": "payables.view_paymentrun",
        "create": "payables.prepare_paymentrun",
        "approve": "payables.approve_paymentrun",
        "export": "payables.prepare_paymentrun",
        "cancel": "payables.prepare_paymentrun",
        "remove_item": "payables.prepare_paymentrun",
        "results": "payables.prepare_paymentrun",
        # The staff page's permissions: whoever may download the file from the run page.
        "bank_file": ("payables.view_bankfile", "payables.export_payables"),
    }

    def get_queryset(self):
        return selectors.runs_list().prefetch_related("payments__vendor", "exclusions__vendor", "bank_files")

    @extend_schema(
        description="The run's bank file, byte for byte as stored when the run was exported (its SHA-256 is in "
        "the `X-Content-SHA256` header and the run's `bank_file_sha256`): SEPA pain.001 XML or a CSV for "
        "local transfers. 404 before the run is exported.",
        responses={
            (200, "application/xml"): OpenApiResponse(OpenApiTypes.BINARY, description="SEPA pain.001.001.03"),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="Local transfer CSV"),
        },
    )
    @action(detail=True, methods=["get"], url_path="bank-file")
    def bank_file(self, request, pk=None):
        found = selectors.run_bank_file(self.get_object())
        if found is None:
            raise Http404("This run has no bank file yet; it is written when the run is exported.")
        bank_file, content_type = found
        response = HttpResponse(bytes(bank_file.content), content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{bank_file.filename}"'
        response["X-Content-SHA256"] = bank_file.sha256
        return response

    @extend_schema(request=RunPrepareSerializer, responses={201: RunSerializer})
    def create(self, request, *args, **kwargs):
        body = RunPrepareSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        run = services.payment_run_prepare(
            actor=request.user,
            market=data["market"],
            currency=data.get("currency") or data["market"].currency,
            pay_date=data["pay_date"],
            bank_change_days=data["bank_change_days"],
        )
        return Response(RunSerializer(run).data, status=status.HTTP_201_CREATED)

    def _fresh(self, run):
        return Response(RunSerializer(self.get_queryset().get(pk=run.pk)).data)

    @extend_schema(request=None, responses=RunSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._fresh(services.payment_run_approve(actor=request.user, run=self.get_object()))

    @extend_schema(request=None, responses=RunSerializer)
    @action(detail=True, methods=["post"])
    def export(self, request, pk=None):
        bank_file = services.payment_run_export(actor=request.user, run=self.get_object())
        return self._fresh(bank_file.run)

    @extend_schema(request=PayablesReasonSerializer, responses=RunSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._fresh(
            services.payment_run_cancel(
                actor=request.user, run=self.get_object(), reason=request.data.get("reason", "")
            )
        )

    @extend_schema(request=RunRemoveSerializer, responses=RunSerializer)
    @action(detail=True, methods=["post"], url_path="remove-item")
    def remove_item(self, request, pk=None):
        body = RunRemoveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        payable = get_object_or_404(Payable, pk=body.validated_data["payable"])
        return self._fresh(
            services.payment_run_remove_item(
                actor=request.user, run=self.get_object(), payable=payable, reason=body.validated_data["reason"]
            )
        )

    @action(detail=True, methods=["post"])
    def results(self, request, pk=None):
        upload = request.FILES.get("file")
        if upload is None:
            raise DomainError("Send the bank's result file as `file`.", field="file")
        counts = services.payment_results_import(actor=request.user, run=self.get_object(), content=upload.read())
        return Response(counts)


class PaymentMarkSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["paid", "rejected"])
    reason = serializers.CharField(required=False, allow_blank=True, max_length=255)


class LineageRowSerializer(serializers.Serializer):
    """One row of a payment's lineage: the payment, its run and bank file, the payable, and the
    invoice line (or deduction) it pays with its decision, shipment, contract and rate line."""

    payment = serializers.CharField(help_text="End-to-end id")
    payment_status = serializers.CharField()
    payment_amount = serializers.DecimalField(max_digits=20, decimal_places=4)
    currency = serializers.CharField()
    vendor = serializers.CharField(help_text="Vendor code")
    run = serializers.CharField(help_text="Payment run number")
    pay_date = serializers.DateField()
    prepared_by = serializers.CharField()
    prepared_at = serializers.DateTimeField()
    run_approved_by = serializers.CharField()
    run_approved_at = serializers.DateTimeField(allow_null=True)
    bank_file = serializers.CharField(help_text="File name; empty before export")
    bank_file_sha256 = serializers.CharField()
    confirmed_by = serializers.CharField()
    confirmed_at = serializers.DateTimeField(allow_null=True)
    payable = serializers.IntegerField()
    payable_kind = serializers.CharField()
    payable_amount = serializers.DecimalField(max_digits=20, decimal_places=4)
    due_date = serializers.DateField()
    document = serializers.CharField(help_text="Invoice or credit note number, or 'Deduction <id>'")
    invoice_date = serializers.DateField(default=None, allow_null=True)
    invoice_approved_by = serializers.CharField(default="")
    invoice_approved_at = serializers.DateTimeField(default=None, allow_null=True)
    line = serializers.IntegerField(allow_null=True, help_text="Row of the invoice file; null for a deduction")
    tracking_number = serializers.CharField()
    billed_gross = serializers.DecimalField(max_digits=20, decimal_places=4, default=None, allow_null=True)
    expected_gross = serializers.DecimalField(max_digits=20, decimal_places=4, default=None, allow_null=True)
    approved_gross = serializers.DecimalField(max_digits=20, decimal_places=4, default=None, allow_null=True)
    decision = serializers.CharField(help_text="The line's decision, or the deduction's reason")
    flags = serializers.CharField(default="", help_text="Audit flag codes, comma-separated")
    reason = serializers.CharField(default="")
    decided_by = serializers.CharField()
    decided_at = serializers.DateTimeField(allow_null=True)
    shipment = serializers.IntegerField(default=None, allow_null=True)
    ship_date = serializers.DateField(default=None, allow_null=True)
    charge_line = serializers.IntegerField(default=None, allow_null=True)
    contract = serializers.CharField(default="")
    contract_version = serializers.IntegerField(default=None, allow_null=True)
    rate_line = serializers.CharField(default="")
    rate_line_id = serializers.IntegerField(default=None, allow_null=True)


LINEAGE_EXAMPLE = {
    "payment": "PR-GB-2026-0007-001",
    "payment_status": "Paid",
    "payment_amount": "4.9500",
    "currency": "GBP",
    "vendor": "V-PARCELNET",
    "run": "PR-GB-2026-0007",
    "pay_date": "2026-05-01",
    "payable": 41,
    "payable_kind": "Invoice",
    "payable_amount": "4.9500",
    "document": "INV-2026-11-0042",
    "line": 2,
    "tracking_number": "PN7734100012GB",
    "billed_gross": "5.9400",
    "expected_gross": "5.9400",
    "approved_gross": "5.9400",
    "decision": "Approved (within tolerance)",
    "contract": "PN-2026",
    "contract_version": 1,
}


class PaymentViewSet(IdempotentMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = PaymentSerializer
    filterset_fields = ["vendor", "status", "run"]
    required_permissions = {
        "read": "payables.view_payment",
        "mark": "payables.prepare_paymentrun",
        # The staff lineage export's permissions.
        "lineage": ("payables.view_payment", "payables.export_payables"),
        "lineage_xlsx": ("payables.view_payment", "payables.export_payables"),
    }

    def get_queryset(self):
        return selectors.payments_list()

    @extend_schema(
        description="Every amount of the payment traced back, one row per invoice line (or deduction) it pays: "
        "payable, document, decision and who took it, shipment, contract version and rate line, run and bank "
        "file. The same rows as the staff lineage workbook (`lineage/xlsx/`), paginated.",
        responses=LineageRowSerializer(many=True),
        examples=[OpenApiExample("A paid invoice line", value=LINEAGE_EXAMPLE, response_only=True)],
    )
    @action(detail=True, methods=["get"])
    def lineage(self, request, pk=None):
        page = self.paginate_queryset(selectors.LineageRows(self.get_object()))
        return self.get_paginated_response(LineageRowSerializer(page, many=True).data)

    @extend_schema(
        description="The payment lineage as the auditors' workbook: numbers as numbers in the currency's "
        "decimals, dates as dates.",
        responses={
            (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): OpenApiResponse(
                OpenApiTypes.BINARY
            )
        },
    )
    @action(detail=True, methods=["get"], url_path="lineage/xlsx")
    def lineage_xlsx(self, request, pk=None):
        return exports.lineage_workbook(self.get_object())

    @extend_schema(request=PaymentMarkSerializer, responses=PaymentSerializer)
    @action(detail=True, methods=["post"])
    def mark(self, request, pk=None):
        body = PaymentMarkSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        payment = services.payment_mark(
            actor=request.user,
            payment=self.get_object(),
            status=body.validated_data["status"],
            reason=body.validated_data.get("reason", ""),
        )
        return Response(PaymentSerializer(payment).data)


# --- Vendor column mappings ---------------------------------------------------------------------------

MAPPING_EXAMPLE = {
    "vendor": "V-GHN",
    "file_type": "xlsx",
    "delimiter": ",",
    "decimal_separator": ",",
    "date_format": "%d/%m/%Y",
    "header_row": 5,
    "total_labels": "",
    "columns": {
        "tracking_number": "Mã vận đơn",
        "ship_date": "Ngày gửi",
        "base": "Cước chính",
        "fuel": "Phụ phí xăng dầu",
        "insurance": "Phí bảo hiểm",
        "net": "Thành tiền",
        "vat": "Thuế GTGT (8%)",
    },
    "fee_kinds": {"insurance": ""},
}


class MappingSerializer(serializers.ModelSerializer):
    vendor = serializers.CharField(source="vendor.code", read_only=True, help_text="Vendor code")
    columns = serializers.DictField(
        child=serializers.CharField(), help_text="Field -> the column name in the vendor's files"
    )
    fee_kinds = serializers.DictField(
        child=serializers.CharField(),
        help_text="Fee field (insurance, handling, other) -> the charge kind it is billed as",
    )
    updated_by = serializers.CharField(source="updated_by.username", default=None, allow_null=True, read_only=True)

    class Meta:
        model = InvoiceColumnMapping
        fields = [
            "vendor",
            "file_type",
            "delimiter",
            "decimal_separator",
            "date_format",
            "header_row",
            "total_labels",
            "columns",
            "fee_kinds",
            "updated_by",
            "updated_at",
        ]


class MappingWriteSerializer(serializers.Serializer):
    """A vendor's invoice file layout, checked as the staff mapping page checks it."""

    vendor = serializers.CharField(max_length=30, help_text="Vendor code (create only; the URL names it on update)")
    file_type = serializers.ChoiceField(choices=InvoiceColumnMapping.FileType.choices, default="csv")
    # Not trimmed: a tab is a delimiter, not blank space.
    delimiter = serializers.CharField(
        max_length=2,
        required=False,
        allow_blank=True,
        default=",",
        trim_whitespace=False,
        help_text="CSV only: , ; | or tab (\\t)",
    )
    decimal_separator = serializers.ChoiceField(choices=[(".", "Point"), (",", "Comma")], default=".")
    date_format = serializers.ChoiceField(
        choices=InvoiceColumnMapping.DateFormat.choices, default=InvoiceColumnMapping.DateFormat.AUTO
    )
    header_row = serializers.IntegerField(min_value=1, max_value=1000, default=1)
    total_labels = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    columns = serializers.DictField(
        child=serializers.CharField(max_length=100, allow_blank=True),
        help_text="Field -> column name. Fields: "
        + ", ".join(name for name, _, _ in MAPPING_FIELDS)
        + "; tracking_number and net are required.",
    )
    fee_kinds = serializers.DictField(
        child=serializers.ChoiceField(choices=FEE_CHARGE_KINDS, allow_blank=True),
        required=False,
        default=dict,
        help_text="Fee field (insurance, handling, other) -> charge kind (base or a surcharge kind) it is "
        "compared with; empty or absent: a charge we never expect, flagged for a dispute.",
    )


class MappingFilter(django_filters.FilterSet):
    vendor = django_filters.CharFilter(field_name="vendor__code", help_text="Vendor code")
    market = django_filters.CharFilter(field_name="vendor__market_id", help_text="Market code")
    file_type = django_filters.ChoiceFilter(choices=InvoiceColumnMapping.FileType.choices)

    class Meta:
        model = InvoiceColumnMapping
        fields = ["vendor", "market", "file_type"]


@extend_schema(
    examples=[
        OpenApiExample("A Vietnamese carrier's workbook", value=MAPPING_EXAMPLE, request_only=True),
        OpenApiExample("Saved", value={**MAPPING_EXAMPLE, "updated_by": "integration"}, response_only=True),
    ]
)
class InvoiceColumnMappingViewSet(IdempotentMixin, viewsets.ReadOnlyModelViewSet):
    """How each vendor's invoice files are laid out (one mapping per vendor, addressed by vendor code):
    which column holds which field, the file type, decimal mark, date format, the header row (title
    rows above it are skipped), extra totals labels, and the charge kind of each extra fee column.
    A vendor needs one before its first invoice upload. Checked exactly as the staff mapping page."""

    serializer_class = MappingSerializer
    filterset_class = MappingFilter
    lookup_field = "vendor__code"
    lookup_url_kwarg = "vendor"
    required_permissions = {
        "read": "payables.view_invoicecolumnmapping",
        "create": "payables.change_invoicecolumnmapping",
        "update": "payables.change_invoicecolumnmapping",
        "partial_update": "payables.change_invoicecolumnmapping",
    }

    def get_queryset(self):
        return selectors.mappings_list()

    def _save(self, vendor, data: dict):
        mapping = services.mapping_save(
            actor=self.request.user,
            vendor=vendor,
            columns=data["columns"],
            fee_kinds=data.get("fee_kinds") or {},
            delimiter=data.get("delimiter") or "",
            decimal_separator=data["decimal_separator"],
            date_format=data["date_format"],
            header_row=data["header_row"],
            file_type=data["file_type"],
            total_labels=data.get("total_labels") or "",
        )
        return MappingSerializer(selectors.mappings_list().get(pk=mapping.pk)).data

    @extend_schema(
        request=MappingWriteSerializer,
        responses={
            201: MappingSerializer,
            409: OpenApiResponse(ERROR_BODY, description="The vendor has a mapping already: PUT to replace it."),
        },
    )
    def create(self, request, *args, **kwargs):
        body = MappingWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        vendor = Vendor.objects.filter(code=body.validated_data["vendor"]).first()
        if vendor is None:
            raise DomainError(f"No vendor {body.validated_data['vendor']!r}.", field="vendor")
        if InvoiceColumnMapping.objects.filter(vendor=vendor).exists():
            raise ConflictError(
                f"{vendor.code} has a column mapping already; replace it with PUT.", code="mapping_exists"
            )
        return Response(self._save(vendor, body.validated_data), status=status.HTTP_201_CREATED)

    @extend_schema(request=MappingWriteSerializer, responses=MappingSerializer)
    def update(self, request, *args, **kwargs):
        mapping = self.get_object()
        if not hasattr(request.data, "keys"):
            raise serializers.ValidationError({"non_field_errors": ["Send the mapping as an object."]})
        sent = {key: request.data[key] for key in request.data}
        if kwargs.get("partial"):
            # PATCH: the fields sent over the mapping as it is.
            body = MappingWriteSerializer(
                data={**MappingSerializer(mapping).data, **sent, "vendor": mapping.vendor.code}
            )
        else:
            body = MappingWriteSerializer(data={**sent, "vendor": mapping.vendor.code})
        body.is_valid(raise_exception=True)
        return Response(self._save(mapping.vendor, body.validated_data))

    @extend_schema(request=MappingWriteSerializer, responses=MappingSerializer)
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)


# --- Vendor statements -------------------------------------------------------------------------------


class StatementRowSerializer(serializers.Serializer):
    on = serializers.DateField()
    kind = serializers.CharField(help_text="Invoice, Credit note, Deduction, Payment or Payment returned")
    reference = serializers.CharField()
    description = serializers.CharField()
    amount = serializers.DecimalField(
        max_digits=20, decimal_places=4, help_text="+ increases what the platform owes, - reduces it"
    )
    balance = serializers.DecimalField(max_digits=20, decimal_places=4, help_text="Running balance")


class OpenPayableSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payable
        fields = ["id", "kind", "reference", "amount", "due_date", "status", "on_hold"]


class VendorStatementSerializer(serializers.Serializer):
    vendor = serializers.CharField(help_text="Vendor code")
    vendor_name = serializers.CharField()
    currency = serializers.CharField()
    rows = StatementRowSerializer(many=True)
    balance = serializers.DecimalField(
        max_digits=20, decimal_places=4, help_text="What the platform owes the vendor by the documents"
    )
    ledger_balance = serializers.DecimalField(
        max_digits=20, decimal_places=4, help_text="The vendor payable balance of the ledger"
    )
    ties = serializers.BooleanField(help_text="The documents and the ledger agree")
    open_payables = OpenPayableSerializer(many=True)


class VendorStatementViewSet(viewsets.GenericViewSet):
    """A vendor's statement: approved invoices and credit notes, deductions and payments with a running
    balance of what the platform owes, and the ledger's vendor payable balance beside it (the same
    figures as the staff statement page)."""

    serializer_class = VendorStatementSerializer
    queryset = Vendor.objects.select_related("market").order_by("code")
    lookup_field = "code"
    lookup_url_kwarg = "vendor"
    filter_backends = []
    pagination_class = None
    required_permissions = {"read": "payables.view_payable"}

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "currency",
                str,
                description="Statement currency (default: the vendor market's)",
                enum=[code for code, _ in CURRENCY_CHOICES],
            )
        ],
        examples=[
            OpenApiExample(
                "One invoice, paid",
                response_only=True,
                value={
                    "vendor": "V-PARCELNET",
                    "vendor_name": "ParcelNet Ltd",
                    "currency": "GBP",
                    "rows": [
                        {
                            "on": "2026-03-12",
                            "kind": "Invoice",
                            "reference": "INV-1",
                            "description": "Billed 5.94, approved 5.94",
                            "amount": "5.9400",
                            "balance": "5.9400",
                        },
                        {
                            "on": "2026-05-01",
                            "kind": "Payment",
                            "reference": "PR-GB-2026-0007-001",
                            "description": "Run PR-GB-2026-0007",
                            "amount": "-5.9400",
                            "balance": "0.0000",
                        },
                    ],
                    "balance": "0.0000",
                    "ledger_balance": "0.0000",
                    "ties": True,
                    "open_payables": [],
                },
            )
        ],
    )
    def retrieve(self, request, vendor=None):
        vendor = self.get_object()
        currency = request.query_params.get("currency") or vendor.market.currency
        if currency not in dict(CURRENCY_CHOICES):
            raise DomainError(f"Unknown currency {currency!r}.", field="currency")
        statement = selectors.vendor_statement(vendor, currency=currency)
        data = {
            **statement,
            "vendor": vendor.code,
            "vendor_name": vendor.legal_name,
            "open_payables": statement["open_payables"].order_by("due_date", "id"),
        }
        return Response(VendorStatementSerializer(data).data)


def register_routes(router) -> None:
    router.register("vendor-invoice-imports", InvoiceImportViewSet, basename="vendorinvoiceimport")
    router.register("vendor-invoices", VendorInvoiceViewSet, basename="vendorinvoice")
    router.register("payables", PayableViewSet, basename="payable")
    router.register("vendor-deductions", VendorDeductionViewSet, basename="vendordeduction")
    router.register("payment-runs", PaymentRunViewSet, basename="paymentrun")
    router.register("payments", PaymentViewSet, basename="payment")
    router.register("vendor-invoice-mappings", InvoiceColumnMappingViewSet, basename="vendorinvoicemapping")
    router.register("vendor-statements", VendorStatementViewSet, basename="vendorstatement")
