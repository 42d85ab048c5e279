from rest_framework import serializers, viewsets

from .models import Seller
from .selectors import sellers_list


class SellerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Seller
        fields = ["id", "code", "name", "legal_name", "market", "vat_number", "email", "net_from_payout", "status"]


class SellerViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = SellerSerializer
    filterset_fields = ["market", "status", "code"]
    required_permissions = {"read": "sellers.view_seller"}

    def get_queryset(self):
        return sellers_list()


def register_routes(router) -> None:
    router.register("sellers", SellerViewSet, basename="seller")
