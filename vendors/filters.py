import django_filters

from settlement_ops.models import Market

from .models import Contract, ContractVersion, RateLine, Surcharge, Vendor, VendorBankAccount, VendorBankChangeRequest


class VendorFilter(django_filters.FilterSet):
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all(), empty_label="All")
    status = django_filters.ChoiceFilter(choices=Vendor.Status.choices)
    vendor_type = django_filters.ChoiceFilter(choices=Vendor.Type.choices, label="Type")
    q = django_filters.CharFilter(field_name="legal_name", lookup_expr="icontains", label="Name")

    class Meta:
        model = Vendor
        fields = ["market", "status", "vendor_type"]


class ContractFilter(django_filters.FilterSet):
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all(), empty_label="All")
    vendor = django_filters.ModelChoiceFilter(queryset=Vendor.objects.order_by("code"), empty_label="All")
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


# --- API filters: codes wherever responses show them (ids still work where they did) --------------


def _code(field_name: str, label: str) -> django_filters.CharFilter:
    return django_filters.CharFilter(field_name=field_name, label=label)


class ContractApiFilter(django_filters.FilterSet):
    market = _code("market_id", "Market code, e.g. GB")
    vendor_code = _code("vendor__code", "Vendor code")

    class Meta:
        model = Contract
        fields = ["market", "vendor", "status", "service_level", "reference"]


class ContractVersionApiFilter(django_filters.FilterSet):
    contract_reference = _code("contract__reference", "Contract reference")
    vendor_code = _code("contract__vendor__code", "Vendor code")

    class Meta:
        model = ContractVersion
        fields = ["contract", "status"]


class RateLineApiFilter(django_filters.FilterSet):
    contract_reference = _code("version__contract__reference", "Contract reference")

    class Meta:
        model = RateLine
        fields = ["version", "service_level", "origin_zone", "destination_zone"]


class SurchargeApiFilter(django_filters.FilterSet):
    contract_reference = _code("version__contract__reference", "Contract reference")

    class Meta:
        model = Surcharge
        fields = ["version", "kind"]


class BankAccountApiFilter(django_filters.FilterSet):
    vendor_code = _code("vendor__code", "Vendor code")

    class Meta:
        model = VendorBankAccount
        fields = ["vendor", "status"]


class BankChangeApiFilter(django_filters.FilterSet):
    vendor_code = _code("vendor__code", "Vendor code")

    class Meta:
        model = VendorBankChangeRequest
        fields = ["vendor", "status"]
