import django_filters

from settlement_ops.models import Market

from .models import Seller


class SellerFilter(django_filters.FilterSet):
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all(), empty_label="All")
    status = django_filters.ChoiceFilter(choices=Seller.Status.choices)
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name")

    class Meta:
        model = Seller
        fields = ["market", "status"]


class SellerApiFilter(django_filters.FilterSet):
    market = django_filters.CharFilter(field_name="market_id", label="Market code, e.g. GB")
    code = django_filters.CharFilter(field_name="code", lookup_expr="iexact", label="Seller code")

    class Meta:
        model = Seller
        fields = ["market", "status", "code"]
