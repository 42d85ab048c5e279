"""Sellers API: read, create and update seller master data (market by code, codes unique)."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from settlement_ops.api import IdempotentMixin
from settlement_ops.models import Market

from . import services
from .desk import api as desk_api
from .filters import SellerApiFilter
from .health import api as health_api
from .models import Seller
from .selectors import sellers_list


class SellerSerializer(serializers.ModelSerializer):
    market = serializers.SlugRelatedField(
        slug_field="code", queryset=Market.objects.filter(is_active=True), help_text="market code, e.g. GB"
    )

    class Meta:
        model = Seller
        fields = [
            "id",
            "code",
            "name",
            "legal_name",
            "market",
            "vat_number",
            "email",
            "net_from_payout",
            "status",
            "created_at",
        ]
        read_only_fields = ["created_at"]
        extra_kwargs = {
            "code": {"help_text": "unique, whatever the case: letters, digits, - _ .; never changes"},
            "vat_number": {"help_text": "checked for the market (python-stdnum); empty = not registered"},
        }
        validators = []  # the service checks the code is unused, whatever its case


class SellerUpdateSerializer(SellerSerializer):
    market = serializers.CharField(source="market_id", read_only=True, help_text="market code; never changes")

    class Meta(SellerSerializer.Meta):
        read_only_fields = ["code", "market", "created_at"]


class SellerViewSet(IdempotentMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Sellers. POST creates one in an active market (by code); PATCH changes its names, VAT number,
    e-mail, payout netting or status (market and code never change). Every change is in the
    seller's history and the audit log."""

    serializer_class = SellerSerializer
    filterset_class = SellerApiFilter
    required_permissions = {
        "read": "sellers.view_seller",
        "create": "sellers.add_seller",
        "partial_update": "sellers.change_seller",
    }
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return sellers_list()

    def get_serializer_class(self):
        return SellerUpdateSerializer if self.action == "partial_update" else SellerSerializer

    @extend_schema(request=SellerSerializer, responses={201: SellerSerializer})
    def create(self, request, *args, **kwargs):
        body = SellerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        seller = services.seller_create(actor=request.user, **body.validated_data)
        return Response(SellerSerializer(seller).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SellerUpdateSerializer, responses={200: SellerSerializer})
    def partial_update(self, request, *args, **kwargs):
        seller = self.get_object()
        body = SellerUpdateSerializer(seller, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        seller = services.seller_update(actor=request.user, seller=seller, **body.validated_data)
        return Response(SellerSerializer(seller).data)


def register_routes(router) -> None:
    router.register("sellers", SellerViewSet, basename="seller")
    desk_api.register_routes(router)
    health_api.register_routes(router)
