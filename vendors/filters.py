import django_filters

from settlement_ops.models import Market

from .models import Contract, RateLine, Vendor


class VendorFilter(django_filters.FilterSet):
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all())
    status = django_filters.ChoiceFilter(choices=Vendor.Status.choices)
    vendor_type = django_filters.ChoiceFilter(choices=Vendor.Type.choices, label="Type")
    q = django_filters.CharFilter(field_name="legal_name", lookup_expr="icontains", label="Name")

    class Meta:
        model = Vendor
        fields = ["market", "status", "vendor_type"]


class ContractFilter(django_filters.FilterSet):
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all())
    vendor = django_filters.ModelChoiceFilter(queryset=Vendor.objects.order_by("code"))
    status = django_filters.ChoiceFilter(choices=Contract.Status.choices)
    service_level = django_filters.CharFilter(label="Service level")
    active_on = django_filters.DateFilter(
        method="filter_active_on",
        label="Valid on",
        widget=django_filters.widgets.forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = Contract
        fields = ["market", "vendor", "status", "service_level"]

    def filter_active_on(self, queryset, name, value):
        return queryset.filter(valid_from__lte=value).exclude(valid_to__lt=value)


class RateLineFilter(django_filters.FilterSet):
    origin_zone = django_filters.CharFilter(label="Origin zone")
    destination_zone = django_filters.CharFilter(label="Destination zone")

    class Meta:
        model = RateLine
        fields = ["origin_zone", "destination_zone"]
