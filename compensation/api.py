"""Compensation API: request intake (bulk JSON, CSV/xlsx file), requests with their audit results,
policies, chargebacks (seller users see only their own), disputes and guarantee claims."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from settlement_ops.api import IdempotentMixin
from settlement_ops.bulk_intake import bulk_records, gc_paused
from settlement_ops.errors import DomainError

from . import intake, selectors, services
from .models import (
    AuditPolicy,
    AuditResult,
    Chargeback,
    CompensationRequest,
    Dispute,
    GuaranteeClaim,
    Instrument,
    QualityAttribute,
    Reason,
)


class AuditResultSerializer(serializers.ModelSerializer):
    attribute = serializers.CharField(source="attribute.code")

    class Meta:
        model = AuditResult
        fields = ["attribute", "outcome", "sentence"]


class CompensationRequestSerializer(serializers.ModelSerializer):
    market = serializers.CharField(source="market_id")
    policy_version = serializers.IntegerField(source="policy.version", allow_null=True, default=None)

    class Meta:
        model = CompensationRequest
        fields = [
            "id",
            "market",
            "external_id",
            "order_number",
            "tracking_number",
            "shipment",
            "buyer_reference",
            "instrument",
            "reason",
            "currency",
            "amount",
            "item_value",
            "agent",
            "team",
            "issued_at",
            "evidence",
            "note",
            "verdict",
            "policy_version",
            "audited_at",
            "liable_party",
            "liable_basis",
            "liable_overridden",
            "created_at",
        ]


class CompensationRequestDetailSerializer(CompensationRequestSerializer):
    results = AuditResultSerializer(many=True, read_only=True)

    class Meta(CompensationRequestSerializer.Meta):
        fields = CompensationRequestSerializer.Meta.fields + ["results"]


class IntakeRecordSerializer(serializers.Serializer):
    """One record of a bulk push, as documented in the schema; the intake service validates it
    and reports each rejected record by index, field and reason. Amounts are decimal strings."""

    market = serializers.CharField(max_length=2)
    external_id = serializers.CharField(max_length=64, help_text="the issuing system's id; idempotency key")
    order_number = serializers.CharField(max_length=64)
    tracking_number = serializers.CharField(max_length=64, required=False, help_text="links our shipment")
    buyer_reference = serializers.CharField(max_length=64, help_text="pseudonymous id: never name, e-mail, phone")
    instrument = serializers.ChoiceField(choices=Instrument.choices)
    reason = serializers.ChoiceField(choices=Reason.choices)
    amount = serializers.DecimalField(max_digits=20, decimal_places=4, help_text="> 0, market currency")
    currency = serializers.CharField(max_length=3, help_text="must be the market's currency")
    item_value = serializers.DecimalField(max_digits=20, decimal_places=4, required=False)
    agent = serializers.CharField(max_length=64)
    team = serializers.CharField(max_length=64, required=False)
    issued_at = serializers.DateTimeField()
    evidence = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
    note = serializers.CharField(required=False)


INTAKE_RESULT = inline_serializer(
    "CompensationIntakeResult",
    fields={
        "accepted": serializers.IntegerField(),
        "created": serializers.IntegerField(),
        "updated": serializers.IntegerField(),
        "unchanged": serializers.IntegerField(),
        "rejected": serializers.ListField(
            child=inline_serializer(
                "CompensationRejection",
                fields={
                    "index": serializers.IntegerField(),
                    "field": serializers.CharField(),
                    "reason": serializers.CharField(),
                },
            )
        ),
    },
)


class QualityAttributeSerializer(serializers.ModelSerializer):
    class Meta:
        model = QualityAttribute
        fields = ["code", "description", "params", "severity"]


class AuditPolicySerializer(serializers.ModelSerializer):
    attributes = QualityAttributeSerializer(many=True, read_only=True)

    class Meta:
        model = AuditPolicy
        fields = [
            "id",
            "market",
            "version",
            "status",
            "sample_percent",
            "seller_charge_vat",
            "dispatch_days",
            "default_promise_days",
            "approved_at",
            "attributes",
        ]


class ChargebackSerializer(serializers.ModelSerializer):
    request_external_id = serializers.CharField(source="request.external_id")
    vendor_code = serializers.CharField(source="vendor.code", allow_null=True, default=None)
    seller_code = serializers.CharField(source="seller.code", allow_null=True, default=None)
    invoice_number = serializers.CharField(source="invoice.number", allow_null=True, default=None)

    class Meta:
        model = Chargeback
        fields = [
            "id",
            "market",
            "request",
            "request_external_id",
            "party",
            "vendor_code",
            "seller_code",
            "currency",
            "amount",
            "status",
            "deduction",
            "invoice_number",
            "created_at",
        ]


class DisputeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Dispute
        fields = ["id", "chargeback", "raised_via", "reason", "status", "decision_note", "created_at", "approved_at"]


class GuaranteeClaimSerializer(serializers.ModelSerializer):
    vendor_code = serializers.CharField(source="vendor.code")

    class Meta:
        model = GuaranteeClaim
        fields = [
            "id",
            "number",
            "vendor_code",
            "market",
            "currency",
            "period_start",
            "period_end",
            "amount",
            "amount_credited",
            "status",
        ]


class CompensationRequestViewSet(IdempotentMixin, viewsets.ReadOnlyModelViewSet):
    """Compensation requests with their audit results; POST `bulk` (JSON list, accepted records
    stored, rejected ones reported) or `upload` (CSV/xlsx, all or nothing). Idempotent by
    (market, external id); an `Idempotency-Key` header replays the first response."""

    filterset_fields = ["market", "verdict", "reason", "instrument", "liable_party", "agent", "external_id"]
    required_permissions = {
        "read": "compensation.view_compensationrequest",
        "bulk": "compensation.add_compensationrequest",
        "upload": "compensation.add_compensationrequest",
    }
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        qs = selectors.requests_search().order_by("-id")
        if self.action == "retrieve":
            qs = qs.prefetch_related("results__attribute")
        return qs

    def get_serializer_class(self):
        return CompensationRequestDetailSerializer if self.action == "retrieve" else CompensationRequestSerializer

    @extend_schema(request=IntakeRecordSerializer(many=True), responses={200: INTAKE_RESULT})
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        """Push up to 10,000 compensation requests as a JSON list; each rejection names its index
        (0-based), field and reason."""
        with gc_paused():  # thousands of records at once: see gc_paused
            result = services.requests_intake(records=bulk_records(request), actor=request.user, source="api")
        return Response(result.as_dict(), status=status.HTTP_200_OK)

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer("CompensationUpload", fields={"file": serializers.FileField()})
        },
        responses={200: INTAKE_RESULT},
    )
    @action(detail=False, methods=["post"])
    def upload(self, request):
        """Push a CSV or xlsx file (header row with the JSON field names; evidence separated by
        ';'). All or nothing: one rejected row stores none (422 with the rows and fields)."""
        upload = request.FILES.get("file")
        if upload is None:
            raise DomainError("Attach the file as `file`.", code="file_missing", field="file")
        if upload.size > intake.MAX_FILE_BYTES:
            raise DomainError("The file is larger than 10 MB.", code="file_too_large", field="file")
        records = services.parse_upload(filename=upload.name, data=upload.read())
        source = "xlsx" if upload.name.lower().endswith(".xlsx") else "csv"
        result = services.requests_intake(records=records, actor=request.user, source=source, all_or_nothing=True)
        code = status.HTTP_422_UNPROCESSABLE_ENTITY if result.rejected else status.HTTP_200_OK
        return Response(result.as_dict(), status=code)


class AuditPolicyViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = AuditPolicySerializer
    filterset_fields = ["market", "status"]
    required_permissions = {"read": "compensation.view_auditpolicy"}

    def get_queryset(self):
        return AuditPolicy.objects.prefetch_related("attributes").order_by("market", "-version")


class ChargebackViewSet(viewsets.ReadOnlyModelViewSet):
    """Chargebacks; a seller user sees only their own seller's (another's is a 404)."""

    serializer_class = ChargebackSerializer
    filterset_fields = ["market", "party", "status"]
    required_permissions = {"read": "compensation.view_chargeback"}

    def get_queryset(self):
        return selectors.chargebacks_for(self.request.user).order_by("-id")


class DisputeViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = DisputeSerializer
    filterset_fields = ["status", "chargeback"]
    required_permissions = {"read": "compensation.view_dispute"}

    def get_queryset(self):
        return selectors.disputes_for(self.request.user).order_by("-id")


class GuaranteeClaimViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = GuaranteeClaimSerializer
    filterset_fields = ["market", "status", "vendor"]
    required_permissions = {"read": "compensation.view_guaranteeclaim"}

    def get_queryset(self):
        return GuaranteeClaim.objects.select_related("vendor").order_by("-period_end", "id")


def register_routes(router) -> None:
    router.register("compensation-requests", CompensationRequestViewSet, basename="compensationrequest")
    router.register("compensation-policies", AuditPolicyViewSet, basename="auditpolicy")
    router.register("compensation-chargebacks", ChargebackViewSet, basename="chargeback")
    router.register("compensation-disputes", DisputeViewSet, basename="dispute")
    router.register("guarantee-claims", GuaranteeClaimViewSet, basename="guaranteeclaim")
