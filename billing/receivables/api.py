"""Receivables REST API. Every queryset is scoped to the caller's seller when the caller is a
seller user, so another seller's object answers 404 exactly like a missing one."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from sellers.models import Seller
from settlement_ops.api import IdempotentMixin
from settlement_ops.errors import DomainError
from settlement_ops.models import Market

from . import selectors
from .cash import receipt_record
from .documents import invoice_pdf
from .models import Invoice, InvoiceLine, PayoutDeduction, Receipt, ReceiptApplication, Statement
from .services import payout_deduction_confirm


class StatementSerializer(serializers.ModelSerializer):
    seller_code = serializers.CharField(source="seller.code", read_only=True)
    invoices = serializers.SlugRelatedField(many=True, read_only=True, slug_field="number")

    class Meta:
        model = Statement
        fields = [
            "id",
            "market",
            "seller",
            "seller_code",
            "period_start",
            "period_end",
            "currency",
            "opening_balance",
            "charges_total",
            "credits_total",
            "payments_total",
            "adjustments_total",
            "closing_balance",
            "invoices",
            "created_at",
        ]


class InvoiceLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = InvoiceLine
        fields = ["id", "tracking_number", "ship_date", "service_level", "line_kind", "vat_rate", "net", "vat", "gross"]


class InvoiceSerializer(serializers.ModelSerializer):
    seller_code = serializers.CharField(source="seller.code", read_only=True)
    credited_invoice = serializers.SlugRelatedField(read_only=True, slug_field="number")

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "kind",
            "market",
            "seller",
            "seller_code",
            "issue_date",
            "due_date",
            "period_start",
            "period_end",
            "currency",
            "language",
            "collection",
            "net_total",
            "vat_total",
            "gross_total",
            "amount_open",
            "status",
            "dunning_level",
            "credited_invoice",
            "reason",
        ]


class InvoiceDetailSerializer(InvoiceSerializer):
    lines = InvoiceLineSerializer(many=True, read_only=True)

    class Meta(InvoiceSerializer.Meta):
        fields = InvoiceSerializer.Meta.fields + ["lines"]


class ApplicationSerializer(serializers.ModelSerializer):
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)

    class Meta:
        model = ReceiptApplication
        fields = ["id", "invoice_number", "amount", "rule", "applied_at", "reversed_at", "reversal_reason"]


class ReceiptSerializer(serializers.ModelSerializer):
    seller_code = serializers.CharField(source="seller.code", read_only=True, default=None, allow_null=True)
    applications = ApplicationSerializer(many=True, read_only=True)

    class Meta:
        model = Receipt
        fields = [
            "id",
            "market",
            "seller",
            "seller_code",
            "currency",
            "amount",
            "amount_unapplied",
            "value_date",
            "bank_reference",
            "reference",
            "payer_name",
            "source",
            "status",
            "applications",
            "created_at",
        ]


class ReceiptCreateSerializer(serializers.Serializer):
    market = serializers.SlugRelatedField(queryset=Market.objects.all(), slug_field="code")
    amount = serializers.DecimalField(max_digits=20, decimal_places=4)
    currency = serializers.CharField(max_length=3)
    value_date = serializers.DateField()
    bank_reference = serializers.CharField(max_length=100)
    reference = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    payer_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    seller_code = serializers.CharField(max_length=30, required=False, allow_blank=True, default="")


class PayoutDeductionSerializer(serializers.ModelSerializer):
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)
    seller_code = serializers.CharField(source="seller.code", read_only=True)

    class Meta:
        model = PayoutDeduction
        fields = [
            "id",
            "invoice",
            "invoice_number",
            "market",
            "seller",
            "seller_code",
            "currency",
            "amount",
            "status",
            "payout_reference",
            "confirmed_at",
        ]


class DeductionConfirmSerializer(serializers.Serializer):
    payout_reference = serializers.CharField(max_length=100)


class StatementViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = StatementSerializer
    filterset_fields = ["market", "seller", "period_start", "period_end"]
    required_permissions = {"read": "receivables.view_statement"}

    def get_queryset(self):
        return selectors.statements_for(self.request.user).prefetch_related("invoices")


class InvoiceViewSet(viewsets.ReadOnlyModelViewSet):
    filterset_fields = ["market", "seller", "kind", "status", "collection"]
    required_permissions = {"read": "receivables.view_invoice"}

    def get_queryset(self):
        return selectors.invoices_for(self.request.user).order_by("-issue_date", "-id")

    def get_serializer_class(self):
        return InvoiceDetailSerializer if self.action == "retrieve" else InvoiceSerializer

    @extend_schema(responses={(200, "application/pdf"): OpenApiResponse(description="The invoice as PDF")})
    @action(detail=True, methods=["get"])
    def pdf(self, request, pk=None):
        invoice = self.get_object()
        response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
        return response


class ReceiptViewSet(IdempotentMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Receipts; POST records one receipt (bank line) and matches it automatically. Send an
    Idempotency-Key header: a retried POST replays the first answer."""

    serializer_class = ReceiptSerializer
    filterset_fields = ["market", "seller", "status", "source"]
    required_permissions = {"read": "receivables.view_receipt", "create": "receivables.add_receipt"}

    def get_queryset(self):
        return selectors.receipts_for(self.request.user).prefetch_related("applications__invoice")

    @extend_schema(request=ReceiptCreateSerializer, responses={201: ReceiptSerializer})
    def create(self, request, *args, **kwargs):
        data = ReceiptCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        seller = None
        if values.pop("seller_code"):
            seller = Seller.objects.filter(code=data.validated_data["seller_code"], market=values["market"]).first()
            if seller is None:
                raise DomainError(
                    f"No seller {data.validated_data['seller_code']!r} in {values['market'].code}.", field="seller_code"
                )
        receipt = receipt_record(actor=request.user, seller=seller, source=Receipt.Source.API, **values)
        receipt = self.get_queryset().get(pk=receipt.pk)
        return Response(ReceiptSerializer(receipt).data, status=status.HTTP_201_CREATED)


class PayoutDeductionViewSet(IdempotentMixin, viewsets.ReadOnlyModelViewSet):
    """Deductions the payout system collects from 'net from payout' sellers. Read the pending
    ones, deduct them from the payout, then POST confirm with the payout's reference."""

    serializer_class = PayoutDeductionSerializer
    filterset_fields = ["market", "seller", "status"]
    required_permissions = {
        "read": "receivables.view_payoutdeduction",
        "confirm": "receivables.confirm_payoutdeduction",
    }

    def get_queryset(self):
        return selectors.deductions_for(self.request.user).order_by("pk")

    @extend_schema(request=DeductionConfirmSerializer, responses={200: PayoutDeductionSerializer})
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        deduction = self.get_object()  # a non-integer id is a 404, like a missing one
        data = DeductionConfirmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        deduction = payout_deduction_confirm(actor=request.user, deduction=deduction, **data.validated_data)
        return Response(PayoutDeductionSerializer(deduction).data)


def register_routes(router) -> None:
    router.register("receivables/statements", StatementViewSet, basename="ar-statement")
    router.register("receivables/invoices", InvoiceViewSet, basename="ar-invoice")
    router.register("receivables/receipts", ReceiptViewSet, basename="ar-receipt")
    router.register("receivables/payout-deductions", PayoutDeductionViewSet, basename="ar-payout-deduction")
