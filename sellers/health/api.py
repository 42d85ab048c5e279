"""Seller health API (read): nightly metric snapshots and early warnings. A seller user sees only
its own seller's rows (another seller's is a 404); staff filter by seller code, market and date."""

from __future__ import annotations

from datetime import date

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError

from ..models import HealthWarning, SellerMetricSnapshot
from ..selectors import seller_for_user


class SellerMetricSnapshotSerializer(serializers.ModelSerializer):
    seller = serializers.CharField(source="seller.code", read_only=True, help_text="seller code")

    class Meta:
        model = SellerMetricSnapshot
        fields = [
            "id",
            "seller",
            "market",
            "business_date",
            "window_days",
            "volume_band",
            "currency",
            "orders_shipped",
            "late_dispatch_rate",
            "delivery_success_rate",
            "return_rate",
            "failed_delivery_rate",
            "lost_damaged_rate",
            "cod_failure_rate",
            "avg_fee_per_parcel",
            "overdue_ar",
            "dso_days",
            "chargebacks_per_100",
            "compensation_cost_per_100",
            "ticket_rate_per_100",
            "csat",
        ]


class HealthWarningSerializer(serializers.ModelSerializer):
    seller = serializers.CharField(source="seller.code", read_only=True, help_text="seller code")
    trend = serializers.DecimalField(max_digits=20, decimal_places=4, read_only=True, allow_null=True)

    class Meta:
        model = HealthWarning
        fields = [
            "id",
            "seller",
            "market",
            "rule_code",
            "severity",
            "metric",
            "value",
            "previous_value",
            "trend",
            "benchmark",
            "state",
            "first_seen_on",
            "last_seen_on",
            "nights_seen",
            "closed_on",
            "seller_acknowledged_at",
        ]


def _scoped(request, qs):
    seller = seller_for_user(request.user)
    if seller is not None:
        return qs.filter(seller=seller)
    code = request.query_params.get("seller")
    if code:
        qs = qs.filter(seller__code=code)
    market = request.query_params.get("market")
    if market:
        qs = qs.filter(market_id=market)
    return qs


_SCOPE = [
    OpenApiParameter("seller", str, description="seller code (staff; a seller user always gets its own)"),
    OpenApiParameter("market", str, description="market code"),
]


@extend_schema_view(
    list=extend_schema(
        parameters=[
            *_SCOPE,
            OpenApiParameter("business_date", str, description="night, YYYY-MM-DD"),
            OpenApiParameter("window_days", int, enum=[7, 30, 90]),
        ]
    )
)
class SellerMetricViewSet(viewsets.ReadOnlyModelViewSet):
    """Nightly seller metrics per window (7/30/90 days). Filters: `seller` (code), `market`,
    `business_date`, `window_days`. Rates are percentages; money is in the market currency."""

    serializer_class = SellerMetricSnapshotSerializer
    required_permissions = {"read": "sellers.view_sellermetricsnapshot"}

    def get_queryset(self):
        qs = _scoped(self.request, SellerMetricSnapshot.objects.select_related("seller"))
        params = self.request.query_params
        if params.get("business_date"):
            try:
                qs = qs.filter(business_date=date.fromisoformat(params["business_date"]))
            except ValueError:
                raise ValidationError({"business_date": "Give a date as YYYY-MM-DD."}) from None
        if params.get("window_days", "").isdigit():
            qs = qs.filter(window_days=int(params["window_days"]))
        return qs.order_by("-business_date", "seller_id", "window_days")


@extend_schema_view(list=extend_schema(parameters=[*_SCOPE, OpenApiParameter("state", str, enum=["open", "closed"])]))
class HealthWarningViewSet(viewsets.ReadOnlyModelViewSet):
    """Seller early warnings: one per seller and rule while the condition lasts. Filters: `seller`
    (code), `market`, `state` (open/closed)."""

    serializer_class = HealthWarningSerializer
    required_permissions = {"read": "sellers.view_healthwarning"}

    def get_queryset(self):
        qs = _scoped(self.request, HealthWarning.objects.select_related("seller"))
        state = self.request.query_params.get("state")
        if state:
            qs = qs.filter(state=state)
        return qs.order_by("-last_seen_on", "id")


def register_routes(router) -> None:
    router.register("seller-metrics", SellerMetricViewSet, basename="seller-metric")
    router.register("seller-warnings", HealthWarningViewSet, basename="seller-warning")
