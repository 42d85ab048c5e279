"""Risk REST API: findings, cases and holds (read for analysts, approvers, auditors; the payout
system reads seller payout holds), and the case and hold actions through the same services as
the pages."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from sellers.models import Seller
from settlement_ops.api import IdempotentMixin
from vendors.models import Contract, Vendor

from . import holds, selectors, services
from .models import Case, Finding, Hold, RootCause


class FindingSerializer(serializers.ModelSerializer):
    rule_version = serializers.IntegerField(source="rule_version.version", read_only=True)
    case = serializers.SlugRelatedField(read_only=True, slug_field="number")

    class Meta:
        model = Finding
        fields = [
            "id",
            "market",
            "rule_code",
            "rule_version",
            "severity",
            "title",
            "subject_type",
            "subject_id",
            "subject_label",
            "currency",
            "money_at_risk",
            "money_at_risk_eur",
            "evidence",
            "state",
            "case",
            "dismissed_reason",
            "first_seen_on",
            "last_seen_on",
            "seen_count",
        ]


class HoldSerializer(serializers.ModelSerializer):
    case = serializers.SlugRelatedField(read_only=True, slug_field="number")
    # Named hold_kind in the API: "kind" is an enum of other components already.
    hold_kind = serializers.ChoiceField(source="kind", choices=Hold.Kind.choices, read_only=True)
    vendor_code = serializers.CharField(source="vendor.code", read_only=True, default=None)
    seller_code = serializers.CharField(source="seller.code", read_only=True, default=None)
    contract_reference = serializers.CharField(source="contract.reference", read_only=True, default=None)
    placed_by = serializers.CharField(source="placed_by.username", read_only=True)
    released_by = serializers.CharField(source="released_by.username", read_only=True, default=None)

    class Meta:
        model = Hold
        fields = [
            "id",
            "case",
            "market",
            "hold_kind",
            "vendor",
            "vendor_code",
            "seller",
            "seller_code",
            "contract",
            "contract_reference",
            "reason",
            "status",
            "currency",
            "amount_stopped",
            "placed_by",
            "placed_at",
            "release_note",
            "released_by",
            "released_at",
        ]


class CaseSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    findings = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    holds = HoldSerializer(many=True, read_only=True)

    class Meta:
        model = Case
        fields = [
            "id",
            "number",
            "market",
            "title",
            "owner",
            "state",
            "root_cause",
            "root_cause_text",
            "resolution",
            "currency",
            "money_at_risk",
            "money_stopped",
            "money_recovered",
            "findings",
            "holds",
            "created_at",
            "closed_at",
        ]


class RiskCaseOpenSerializer(serializers.Serializer):
    findings = serializers.ListField(child=serializers.IntegerField(), min_length=1)
    title = serializers.CharField(required=False, allow_blank=True, default="")


class RiskCaseUpdateSerializer(serializers.Serializer):
    root_cause = serializers.ChoiceField(choices=RootCause.choices, required=False)
    root_cause_text = serializers.CharField(required=False, allow_blank=True)
    money_recovered = serializers.DecimalField(max_digits=20, decimal_places=4, required=False)


class RiskCaseCloseSerializer(serializers.Serializer):
    resolution = serializers.CharField(required=False, allow_blank=True, default="")


class RiskReasonSerializer(serializers.Serializer):
    reason = serializers.CharField()


class RiskHoldPlaceSerializer(serializers.Serializer):
    hold_kind = serializers.ChoiceField(choices=Hold.Kind.choices)
    reason = serializers.CharField()
    vendor_code = serializers.CharField(required=False)
    seller_code = serializers.CharField(required=False)
    contract_reference = serializers.CharField(required=False)


class RiskNoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")


class FindingViewSet(IdempotentMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = FindingSerializer
    filterset_fields = ["market", "rule_code", "state", "severity"]
    required_permissions = {"read": "risk.view_finding", "dismiss": "risk.work_case"}

    def get_queryset(self):
        return selectors.findings_list()

    @extend_schema(request=RiskReasonSerializer, responses={200: FindingSerializer})
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None):
        data = RiskReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        finding = services.finding_dismiss(actor=request.user, finding=self.get_object(), **data.validated_data)
        return Response(FindingSerializer(finding).data)


class CaseViewSet(IdempotentMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Cases. POST opens a case from open findings; actions update it, place holds and close it
    (a case with money at risk is closed by a second person)."""

    serializer_class = CaseSerializer
    filterset_fields = ["market", "state", "root_cause"]
    required_permissions = {
        "read": "risk.view_case",
        "create": "risk.work_case",
        "update_case": "risk.work_case",
        "close": "risk.view_case",
        "hold": "risk.propose_hold",
    }

    def get_queryset(self):
        return Case.objects.select_related("owner", "market").prefetch_related("findings", "holds__placed_by")

    @extend_schema(request=RiskCaseOpenSerializer, responses={201: CaseSerializer})
    def create(self, request, *args, **kwargs):
        data = RiskCaseOpenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        findings = list(Finding.objects.filter(pk__in=data.validated_data["findings"]))
        case = services.case_open(actor=request.user, findings=findings, title=data.validated_data["title"])
        return Response(CaseSerializer(self.get_queryset().get(pk=case.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RiskCaseUpdateSerializer, responses={200: CaseSerializer})
    @action(detail=True, methods=["post"], url_path="update")
    def update_case(self, request, pk=None):
        data = RiskCaseUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        case = services.case_update(actor=request.user, case=self.get_object(), **data.validated_data)
        return Response(CaseSerializer(self.get_queryset().get(pk=case.pk)).data)

    @extend_schema(request=RiskCaseCloseSerializer, responses={200: CaseSerializer})
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        from settlement_ops.errors import PermissionDeniedError

        case = self.get_object()
        needed = "risk.approve_case_close" if case.state == Case.State.CLOSE_REQUESTED else "risk.work_case"
        if not request.user.has_perm(needed):
            raise PermissionDeniedError()
        data = RiskCaseCloseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        case = services.case_close(actor=request.user, case=case, **data.validated_data)
        return Response(CaseSerializer(self.get_queryset().get(pk=case.pk)).data)

    @extend_schema(request=RiskHoldPlaceSerializer, responses={201: HoldSerializer})
    @action(detail=True, methods=["post"])
    def hold(self, request, pk=None):
        case = self.get_object()
        data = RiskHoldPlaceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        subject = {}
        if values.get("vendor_code"):
            subject["vendor"] = get_object_or_404(Vendor, code=values["vendor_code"], market=case.market)
        if values.get("seller_code"):
            subject["seller"] = get_object_or_404(Seller, code=values["seller_code"], market=case.market)
        if values.get("contract_reference"):
            subject["contract"] = get_object_or_404(
                Contract, reference=values["contract_reference"], market=case.market
            )
        hold = holds.hold_place(
            actor=request.user, case=case, kind=values["hold_kind"], reason=values["reason"], **subject
        )
        return Response(HoldSerializer(hold).data, status=status.HTTP_201_CREATED)


class HoldViewSet(IdempotentMixin, viewsets.ReadOnlyModelViewSet):
    """Holds. The payout system reads `?kind=seller_payout&status=active` before paying a seller
    out and pays nothing to a seller listed there."""

    serializer_class = HoldSerializer
    filterset_fields = ["market", "kind", "status", "vendor", "seller", "contract"]
    required_permissions = {
        "read": "risk.view_hold",
        "request_release": "risk.propose_hold",
        "release": "risk.release_hold",
    }

    def get_queryset(self):
        return selectors.holds_list().order_by("pk")

    @extend_schema(request=RiskNoteSerializer, responses={200: HoldSerializer})
    @action(detail=True, methods=["post"], url_path="request-release")
    def request_release(self, request, pk=None):
        data = RiskNoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        hold = holds.hold_request_release(actor=request.user, hold=self.get_object(), **data.validated_data)
        return Response(HoldSerializer(hold).data)

    @extend_schema(request=RiskNoteSerializer, responses={200: HoldSerializer})
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        data = RiskNoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        hold = holds.hold_release(actor=request.user, hold=self.get_object(), **data.validated_data)
        return Response(HoldSerializer(hold).data)


def register_routes(router) -> None:
    router.register("risk/findings", FindingViewSet, basename="risk-finding")
    router.register("risk/cases", CaseViewSet, basename="risk-case")
    router.register("risk/holds", HoldViewSet, basename="risk-hold")
