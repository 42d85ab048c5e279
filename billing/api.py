"""Billing API: shipment intake (JSON and CSV), shipments, billing runs, charge lines, exceptions,
seller fee schedules (four eyes)."""

from __future__ import annotations

import time
from decimal import Decimal

from django.db.models import F, Prefetch
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from settlement_ops.api import IdempotentMixin, ValuesListMixin
from settlement_ops.bulk_intake import bulk_records, gc_paused, server_timing
from settlement_ops.errors import DomainError
from settlement_ops.models import Market

from . import fee_schedules, intake, selectors, services
from .filters import (
    BillingRunApiFilter,
    ChargeLineApiFilter,
    RatingExceptionApiFilter,
    SellerFeeScheduleApiFilter,
    ShipmentApiFilter,
)
from .models import BillingRun, ChargeLine, RatingException, SellerFeeLine, SellerFeeSchedule, Shipment, ShipmentEvent

# --- Serializers ---------------------------------------------------------------------------------


class ShipmentEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ShipmentEvent
        fields = ["status", "occurred_at"]


class ShipmentSerializer(serializers.ModelSerializer):
    vendor = serializers.CharField(source="vendor.code")
    seller = serializers.CharField(source="seller.code")
    service = serializers.CharField(source="service_level")

    class Meta:
        model = Shipment
        fields = [
            "id",
            "tracking_number",
            "vendor",
            "seller",
            "market",
            "service",
            "origin_zone",
            "destination_zone",
            "actual_weight_kg",
            "length_cm",
            "width_cm",
            "height_cm",
            "cod_amount",
            "ship_date",
            "delivered_date",
            "status",
            "is_return",
            "revision",
            "created_at",
            "updated_at",
        ]


class ChargeLineSerializer(serializers.ModelSerializer):
    tracking_number = serializers.CharField(source="shipment.tracking_number")
    vendor_code = serializers.CharField(source="vendor.code")
    seller_code = serializers.CharField(source="seller.code")
    contract_reference = serializers.CharField(source="contract_version.contract.reference")
    margin = serializers.DecimalField(max_digits=20, decimal_places=4, read_only=True)

    class Meta:
        model = ChargeLine
        fields = [
            "id",
            "run",
            "shipment",
            "tracking_number",
            "generation",
            "kind",
            "shipment_revision",
            "market",
            "vendor",
            "vendor_code",
            "seller",
            "seller_code",
            "service_level",
            "ship_date",
            "currency",
            "contract_version",
            "contract_reference",
            "rate_line",
            "seller_fee_schedule",
            "chargeable_weight_kg",
            "seller_chargeable_weight_kg",
            "vendor_base",
            "vendor_fuel",
            "vendor_remote",
            "vendor_oversize",
            "vendor_cod",
            "vendor_peak",
            "vendor_returns",
            "vendor_net",
            "vendor_vat",
            "vendor_gross",
            "seller_base",
            "seller_cod",
            "seller_returns",
            "seller_net",
            "seller_vat",
            "seller_gross",
            "margin",
            "created_at",
        ]


class ShipmentDetailSerializer(ShipmentSerializer):
    events = ShipmentEventSerializer(many=True, read_only=True)
    charge_lines = ChargeLineSerializer(many=True, read_only=True)

    class Meta(ShipmentSerializer.Meta):
        fields = ShipmentSerializer.Meta.fields + ["events", "charge_lines"]


class RatingExceptionSerializer(serializers.ModelSerializer):
    market = serializers.CharField(source="shipment.market_id", help_text="market code")
    tracking_number = serializers.CharField(source="shipment.tracking_number")
    vendor_code = serializers.CharField(source="vendor.code")
    seller_code = serializers.CharField(source="shipment.seller.code")
    reason = serializers.CharField(source="get_code_display")

    class Meta:
        model = RatingException
        fields = [
            "id",
            "run",
            "market",
            "shipment",
            "tracking_number",
            "vendor",
            "vendor_code",
            "seller_code",
            "code",
            "reason",
            "created_at",
        ]


class BillingRunSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()

    class Meta:
        model = BillingRun
        fields = [
            "id",
            "market",
            "business_date",
            "status",
            "trigger",
            "currency",
            "max_shipment_id",
            "chunk_count",
            "shipments_rated",
            "exception_count",
            "vendor_net_total",
            "seller_net_total",
            "seller_vat_total",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "progress",
            "health",
            "progress_at",
            "stalled_since",
            "stall_reason",
            "requeued_at",
            "requeue_note",
            "failed_at",
            "recovery_attempts",
            "next_recovery_at",
            "alerted_at",
        ]

    def get_progress(self, run) -> dict:
        # A completed run's figures are on its row: no aggregate over its chunks per listed run.
        return selectors.run_progress(run)

    @extend_schema_field(
        inline_serializer(
            "BillingRunHealth",
            fields={
                "state": serializers.ChoiceField(
                    choices=["pending", "running", "posting", "stalled", "retrying", "failed", "completed"]
                ),
                "label": serializers.CharField(),
                "reason": serializers.CharField(),
                "since": serializers.DateTimeField(allow_null=True),
                "attempt": serializers.IntegerField(help_text="automatic resume n (retrying: the next one)"),
                "max_attempts": serializers.IntegerField(),
                "next_at": serializers.DateTimeField(allow_null=True, help_text="next automatic resume"),
            },
        )
    )
    def get_health(self, run) -> dict:
        return run.health()


class BillingRunStartSerializer(serializers.Serializer):
    market = serializers.SlugRelatedField(slug_field="code", queryset=Market.objects.filter(is_active=True))
    business_date = serializers.DateField()


INTAKE_RESULT = inline_serializer(
    "ShipmentIntakeResult",
    fields={
        "accepted": serializers.IntegerField(),
        "created": serializers.IntegerField(),
        "updated": serializers.IntegerField(),
        "unchanged": serializers.IntegerField(),
        "rejected": serializers.ListField(
            child=inline_serializer(
                "ShipmentRejection",
                fields={
                    "index": serializers.IntegerField(),
                    "field": serializers.CharField(),
                    "reason": serializers.CharField(),
                },
            )
        ),
    },
)


class ShipmentIntakeRecordSerializer(serializers.Serializer):
    """One record of a bulk push, as documented in the schema. Validation happens in the intake
    service, which reports each rejected record by index, field and reason. Weights, dimensions
    and amounts are decimal strings ("1.50"); a JSON number with a fraction is refused."""

    tracking_number = serializers.CharField(max_length=64)
    vendor = serializers.CharField(help_text="vendor code")
    seller = serializers.CharField(help_text="seller code")
    market = serializers.CharField(required=False, help_text="optional; must be the vendor's market")
    service = serializers.CharField(help_text="service level, e.g. standard")
    origin_zone = serializers.CharField()
    destination_zone = serializers.CharField()
    actual_weight_kg = serializers.DecimalField(max_digits=10, decimal_places=3, required=False)
    length_cm = serializers.DecimalField(max_digits=7, decimal_places=1, required=False)
    width_cm = serializers.DecimalField(max_digits=7, decimal_places=1, required=False)
    height_cm = serializers.DecimalField(max_digits=7, decimal_places=1, required=False)
    cod_amount = serializers.DecimalField(max_digits=20, decimal_places=4, required=False, help_text="market currency")
    currency = serializers.CharField(required=False, help_text="optional; must be the market's currency")
    ship_date = serializers.DateField()
    delivered_date = serializers.DateField(required=False)
    status = serializers.ChoiceField(choices=Shipment.Status.choices, required=False)
    status_at = serializers.DateTimeField(required=False)
    events = inline_serializer(
        "ShipmentIntakeEvent",
        many=True,
        required=False,
        fields={"status": serializers.ChoiceField(choices=Shipment.Status.choices), "at": serializers.DateTimeField()},
    )


# --- Views ----------------------------------------------------------------------------------------


def _columns(model) -> list[str]:
    """Every column of `model`, for `.only()` next to the few columns of the rows it joins."""
    return [field.name for field in model._meta.concrete_fields]


class ShipmentViewSet(ValuesListMixin, IdempotentMixin, viewsets.ReadOnlyModelViewSet):
    """Shipments; POST `bulk` (JSON list) or `upload` (CSV file) to push them, idempotent by
    (vendor, tracking number)."""

    filterset_class = ShipmentApiFilter
    required_permissions = {
        "read": "billing.view_shipment",
        "bulk": "billing.add_shipment",
        "upload": "billing.add_shipment",
    }
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        # The list reads its page as .values() rows (ValuesListMixin); one shipment loads its events
        # and charge lines.
        qs = selectors.shipments_search()
        if self.action == "retrieve" and str(self.kwargs.get("pk", "")).isdigit():
            # The shipment's lines by their key's range (charge lines have no index on the shipment).
            lines = ChargeLine.objects.of_shipments(int(self.kwargs["pk"])).select_related(
                "vendor", "seller", "shipment", "contract_version__contract"
            )
            qs = qs.prefetch_related("events", Prefetch("charge_lines", queryset=lines))
        return qs

    def get_serializer_class(self):
        return ShipmentDetailSerializer if self.action == "retrieve" else ShipmentSerializer

    @extend_schema(request=ShipmentIntakeRecordSerializer(many=True), responses={200: INTAKE_RESULT})
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        """Push up to 10,000 shipments as a JSON list. Accepted records are stored even when others
        are rejected; each rejection names its index (0-based), field and reason."""
        with gc_paused():  # thousands of records at once: see gc_paused
            started = time.perf_counter()
            records = bulk_records(request)
            parsed = time.perf_counter()
            result = services.shipments_intake(records=records, actor=request.user, source="api")
            del records
        response = Response(result.as_dict(), status=status.HTTP_200_OK)
        response["Server-Timing"] = server_timing({"parse": parsed - started, **result.timings})
        return response

    @extend_schema(
        request={"multipart/form-data": inline_serializer("ShipmentUpload", fields={"file": serializers.FileField()})},
        responses={200: INTAKE_RESULT},
    )
    @action(detail=False, methods=["post"])
    def upload(self, request):
        """Push shipments as a CSV file (header row with the column names of the JSON fields; one
        status event per row in `status` / `status_at`)."""
        upload = request.FILES.get("file")
        if upload is None:
            raise DomainError("Attach the CSV file as `file`.", code="file_missing", field="file")
        if upload.size > intake.MAX_CSV_BYTES:
            raise DomainError("The file is larger than 20 MB.", code="file_too_large", field="file")
        if not upload.name.lower().endswith(".csv"):
            raise DomainError("Upload a .csv file.", code="bad_file_type", field="file")
        with gc_paused():  # thousands of records at once: see gc_paused
            started = time.perf_counter()
            records = services.parse_shipments_csv(upload.read())
            parsed = time.perf_counter()
            result = services.shipments_intake(records=records, actor=request.user, source="csv")
            del records
        response = Response(result.as_dict(), status=status.HTTP_200_OK)
        response["Server-Timing"] = server_timing({"parse": parsed - started, **result.timings})
        return response


class BillingRunViewSet(IdempotentMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Billing runs with their health (running, stalled, retrying, failed, completed, with the
    reason). POST starts the run of a market and business date (or returns the market's active
    run, or resumes and returns its failed run); POST `{id}/resume/` re-queues what a run has left."""

    serializer_class = BillingRunSerializer
    filterset_class = BillingRunApiFilter
    required_permissions = {
        "read": "billing.view_billingrun",
        "create": "billing.start_billingrun",
        "resume": "billing.start_billingrun",
    }

    def get_queryset(self):
        return selectors.runs_list()

    @extend_schema(request=BillingRunStartSerializer, responses={201: BillingRunSerializer})
    def create(self, request, *args, **kwargs):
        data = BillingRunStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = services.billing_run_start(
            market=data.validated_data["market"],
            business_date=data.validated_data["business_date"],
            actor=request.user,
            trigger=BillingRun.Trigger.API,
        )
        run.refresh_from_db()
        return Response(BillingRunSerializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: BillingRunSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        run = services.billing_run_resume(run=self.get_object(), actor=request.user)
        run.refresh_from_db()
        return Response(BillingRunSerializer(run).data)


class ChargeLineViewSet(ValuesListMixin, viewsets.ReadOnlyModelViewSet):
    """Charge lines (one per shipment and rating generation; deltas for re-ratings)."""

    serializer_class = ChargeLineSerializer
    values_annotations = {"margin": F("seller_net") - F("vendor_net")}  # ChargeLine.margin
    filterset_class = ChargeLineApiFilter
    required_permissions = {"read": "billing.view_chargeline"}

    def get_queryset(self):
        # A run's lines are found by its chunks' shipment ranges (see selectors.run_charge_lines).
        run = self.request.query_params.get("run", "")
        # One line (the list reads .values() rows): of the five rows it joins, the codes it shows.
        return selectors.charge_lines(run=int(run) if run.isdigit() else None).only(
            *_columns(ChargeLine),
            "vendor__code",
            "seller__code",
            "shipment__tracking_number",
            "contract_version__contract__reference",
        )


class RatingExceptionViewSet(viewsets.ReadOnlyModelViewSet):
    """Shipments a run could not rate, with the reason; fix and start the run again."""

    serializer_class = RatingExceptionSerializer
    filterset_class = RatingExceptionApiFilter
    required_permissions = {"read": "billing.view_ratingexception"}

    def get_queryset(self):
        return RatingException.objects.select_related("shipment__seller", "vendor").order_by("-run_id", "shipment_id")


# --- Seller fee schedules (four eyes) ---------------------------------------------------------------


class SellerFeeLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = SellerFeeLine
        fields = [
            "weight_from_kg",
            "weight_to_kg",
            "base_fee",
            "fee_per_additional_step",
            "additional_step_kg",
            "minimum_fee",
        ]


def _username(field: str):
    return serializers.CharField(source=f"{field}.username", default=None, read_only=True, allow_null=True)


class SellerFeeScheduleSerializer(serializers.ModelSerializer):
    market = serializers.CharField(source="market_id", help_text="market code")
    created_by = _username("created_by")
    approved_by = _username("approved_by")
    rejected_by = _username("rejected_by")
    lines = SellerFeeLineSerializer(many=True, read_only=True)

    class Meta:
        model = SellerFeeSchedule
        fields = [
            "id",
            "market",
            "service_level",
            "name",
            "currency",
            "valid_from",
            "valid_to",
            "volumetric_divisor",
            "vat_rate",
            "cod_fee_percent",
            "cod_fee_minimum",
            "returns_fee",
            "status",
            "created_by",
            "created_at",
            "approved_by",
            "approved_at",
            "rejected_by",
            "rejected_at",
            "rejection_reason",
            "lines",
        ]
        read_only_fields = fields


class SellerFeeLineInputSerializer(serializers.Serializer):
    weight_from_kg = serializers.DecimalField(max_digits=10, decimal_places=3, help_text="exclusive")
    weight_to_kg = serializers.DecimalField(max_digits=10, decimal_places=3, help_text="inclusive")
    base_fee = serializers.DecimalField(max_digits=20, decimal_places=4)
    fee_per_additional_step = serializers.DecimalField(
        max_digits=20, decimal_places=4, required=False, default=Decimal("0")
    )
    additional_step_kg = serializers.DecimalField(max_digits=10, decimal_places=3, required=False, default=Decimal("1"))
    minimum_fee = serializers.DecimalField(max_digits=20, decimal_places=4, required=False, default=Decimal("0"))


class SellerFeeScheduleDraftSerializer(serializers.Serializer):
    market = serializers.SlugRelatedField(slug_field="code", queryset=Market.objects.filter(is_active=True))
    service_level = serializers.CharField(max_length=30)
    name = serializers.CharField(max_length=100)
    valid_from = serializers.DateField()
    valid_to = serializers.DateField(required=False, allow_null=True, help_text="inclusive; empty = open-ended")
    volumetric_divisor = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False, default=5000)
    cod_fee_percent = serializers.DecimalField(
        max_digits=7, decimal_places=4, min_value=0, max_value=100, required=False, default=Decimal("0")
    )
    cod_fee_minimum = serializers.DecimalField(
        max_digits=20, decimal_places=4, min_value=0, required=False, default=Decimal("0")
    )
    returns_fee = serializers.DecimalField(
        max_digits=20, decimal_places=4, min_value=0, required=False, default=Decimal("0")
    )
    lines = SellerFeeLineInputSerializer(many=True, help_text="weight brackets (from, to]; they must not overlap")


class RejectionSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255)


DRAFT_EXAMPLE = OpenApiExample(
    "GB standard parcels",
    request_only=True,
    value={
        "market": "GB",
        "service_level": "standard",
        "name": "Standard parcels 2027",
        "valid_from": "2027-01-01",
        "cod_fee_percent": "1.5000",
        "cod_fee_minimum": "0.50",
        "returns_fee": "2.00",
        "lines": [
            {"weight_from_kg": "0", "weight_to_kg": "2", "base_fee": "4.99"},
            {
                "weight_from_kg": "2",
                "weight_to_kg": "30",
                "base_fee": "5.99",
                "fee_per_additional_step": "0.35",
                "additional_step_kg": "1",
            },
        ],
    },
)


class SellerFeeScheduleViewSet(IdempotentMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """What sellers pay per shipment, per market and service level, with four eyes like contracts.

    POST drafts a schedule with its weight brackets (currency and VAT rate are the market's); a
    different user approves it (`{id}/approve/`) or rejects it with a reason (`{id}/reject/`).
    Only approved schedules rate. An approved schedule is in force from `valid_from` until its
    `valid_to`, or until the next approved schedule of the market and service starts, whichever
    is first. Send an `Idempotency-Key` header so a retried POST is answered with the first result.

    **How the seller fee of a shipment is rated** (`billing.pricing`, the same in the billing run's SQL):
    the approved schedule in force on the ship date for the market and service level (none: rating
    exception `no_seller_fee`); chargeable kg = max(actual kg, L × W × H cm ÷ the schedule's
    `volumetric_divisor` rounded up to 0.001 kg); the bracket with `weight_from_kg` < chargeable kg ≤
    `weight_to_kg`; base = round(max(`base_fee` + ⌈(chargeable kg − `weight_from_kg`) ÷
    `additional_step_kg`⌉ × `fee_per_additional_step`, `minimum_fee`)); COD fee = round(max(COD value ×
    `cod_fee_percent` ÷ 100, `cod_fee_minimum`)) when the COD value is above 0; returns fee =
    `returns_fee` when the shipment was returned; VAT = round((base + COD + returns) × `vat_rate` ÷ 100).
    "round" is half-up to the currency's minor units (GBP and EUR 2 decimals, IDR and VND none).
    """

    serializer_class = SellerFeeScheduleSerializer
    filterset_class = SellerFeeScheduleApiFilter
    required_permissions = {
        "read": "billing.view_sellerfeeschedule",
        "create": "billing.add_sellerfeeschedule",
        "approve": "billing.approve_sellerfeeschedule",
        "reject": "billing.approve_sellerfeeschedule",
    }

    def get_queryset(self):
        return selectors.fee_schedule_with_lines()

    def _answer(self, schedule, status_code=status.HTTP_200_OK):
        schedule = self.get_queryset().get(pk=schedule.pk)
        return Response(SellerFeeScheduleSerializer(schedule).data, status=status_code)

    @extend_schema(
        request=SellerFeeScheduleDraftSerializer,
        responses={201: SellerFeeScheduleSerializer},
        examples=[DRAFT_EXAMPLE],
        description="Draft a schedule. Bad brackets answer 400 with `error.errors`: one "
        '{"row" (1-based), "field", "message"} per problem; nothing is saved.',
    )
    def create(self, request, *args, **kwargs):
        body = SellerFeeScheduleDraftSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        schedule = fee_schedules.seller_fee_schedule_create(actor=request.user, **body.validated_data)
        return self._answer(schedule, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: SellerFeeScheduleSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve a draft (not by the person who drafted it: 403). Rating uses it from now on."""
        schedule = fee_schedules.seller_fee_schedule_approve(actor=request.user, schedule=self.get_object())
        return self._answer(schedule)

    @extend_schema(request=RejectionSerializer, responses={200: SellerFeeScheduleSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject a draft with a reason (not by the person who drafted it)."""
        body = RejectionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        schedule = fee_schedules.seller_fee_schedule_reject(
            actor=request.user, schedule=self.get_object(), reason=body.validated_data["reason"]
        )
        return self._answer(schedule)


def register_routes(router) -> None:
    router.register("shipments", ShipmentViewSet, basename="shipment")
    router.register("billing-runs", BillingRunViewSet, basename="billingrun")
    router.register("charge-lines", ChargeLineViewSet, basename="chargeline")
    router.register("rating-exceptions", RatingExceptionViewSet, basename="ratingexception")
    router.register("seller-fee-schedules", SellerFeeScheduleViewSet, basename="sellerfeeschedule")
