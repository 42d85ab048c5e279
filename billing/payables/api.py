"""REST endpoints of payables (thin: validate, call one service, render)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from settlement_ops.api import IdempotentMixin
from settlement_ops.errors import DomainError
from settlement_ops.models import Market
from vendors.models import Vendor

from . import selectors, services
from .models import (
    InvoiceImport,
    Payable,
    Payment,
    PaymentRun,
    PaymentRunExclusion,
    VendorDeduction,
    VendorInvoice,
    VendorInvoiceLine,
)

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
    }

    def get_queryset(self):
        return selectors.runs_list().prefetch_related("payments__vendor", "exclusions__vendor", "bank_files")

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


class PaymentViewSet(IdempotentMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = PaymentSerializer
    filterset_fields = ["vendor", "status", "run"]
    required_permissions = {"read": "payables.view_payment", "mark": "payables.prepare_paymentrun"}

    def get_queryset(self):
        return Payment.objects.select_related("vendor", "run").order_by("-id")

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


def register_routes(router) -> None:
    router.register("vendor-invoice-imports", InvoiceImportViewSet, basename="vendorinvoiceimport")
    router.register("vendor-invoices", VendorInvoiceViewSet, basename="vendorinvoice")
    router.register("payables", PayableViewSet, basename="payable")
    router.register("vendor-deductions", VendorDeductionViewSet, basename="vendordeduction")
    router.register("payment-runs", PaymentRunViewSet, basename="paymentrun")
    router.register("payments", PaymentViewSet, basename="payment")
