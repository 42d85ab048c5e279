from rest_framework import serializers, viewsets

from .selectors import vendors_list
from .models import Vendor


class VendorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Vendor
        fields = [
            "id", "code", "legal_name", "market", "vendor_type", "vat_number", "contact_name", "contact_email",
            "contact_phone", "payment_terms_days", "status",
        ]


class VendorViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = VendorSerializer
    filterset_fields = ["market", "status", "vendor_type", "code"]
    required_permissions = {"read": "vendors.view_vendor"}

    def get_queryset(self):
        return vendors_list()


def register_routes(router) -> None:
    router.register("vendors", VendorViewSet, basename="vendor")
