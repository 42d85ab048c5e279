import django_filters
from django import forms

from settlement_ops.models import Market
from vendors.models import Vendor

from .models import BillingRun, ChargeLine, RatingException, SellerFeeSchedule, Shipment
from .selectors import fee_schedules_in_force_ids, shipments_search

DATE_INPUT = forms.DateInput(attrs={"type": "date"})


class BillingRunFilter(django_filters.FilterSet):
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all(), empty_label="All")
    status = django_filters.ChoiceFilter(choices=BillingRun.Status.choices)
    business_date = django_filters.DateFilter(widget=DATE_INPUT)

    class Meta:
        model = BillingRun
        fields = ["market", "status", "business_date"]


class ShipmentFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Tracking number")
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all(), empty_label="All")
    vendor = django_filters.ModelChoiceFilter(queryset=Vendor.objects.order_by("code"), empty_label="All")
    status = django_filters.ChoiceFilter(choices=Shipment.Status.choices)
    rated = django_filters.ChoiceFilter(
        method="rated_filter",
        label="Rating",
        choices=[("yes", "Rated"), ("no", "Not rated"), ("exception", "Exception")],
    )
    date_from = django_filters.DateFilter(
        field_name="ship_date", lookup_expr="gte", widget=DATE_INPUT, label="Shipped from"
    )
    date_to = django_filters.DateFilter(
        field_name="ship_date", lookup_expr="lte", widget=DATE_INPUT, label="Shipped to"
    )

    class Meta:
        model = Shipment
        fields = ["market", "vendor", "status"]

    def search(self, queryset, name, value):
        return queryset.filter(tracking_number__icontains=value.strip())

    def rated_filter(self, queryset, name, value):
        return queryset & shipments_search(rated=value)


class ExceptionFilter(django_filters.FilterSet):
    code = django_filters.ChoiceFilter(choices=RatingException.Code.choices, label="Reason")
    vendor = django_filters.ModelChoiceFilter(queryset=Vendor.objects.order_by("code"), empty_label="All")
    q = django_filters.CharFilter(
        field_name="shipment__tracking_number", lookup_expr="icontains", label="Tracking number"
    )

    class Meta:
        model = RatingException
        fields = ["code", "vendor"]


# --- API filters: codes wherever responses show codes (ids still work where they did) -----------


def _code(field_name: str, label: str) -> django_filters.CharFilter:
    return django_filters.CharFilter(field_name=field_name, label=label)


class ShipmentApiFilter(django_filters.FilterSet):
    market = _code("market_id", "Market code, e.g. GB")
    vendor_code = _code("vendor__code", "Vendor code")
    seller_code = _code("seller__code", "Seller code")
    ship_date_from = django_filters.DateFilter(field_name="ship_date", lookup_expr="gte", label="Shipped on or after")
    ship_date_to = django_filters.DateFilter(field_name="ship_date", lookup_expr="lte", label="Shipped on or before")

    class Meta:
        model = Shipment
        fields = ["market", "vendor", "seller", "status", "ship_date", "tracking_number"]


class BillingRunApiFilter(django_filters.FilterSet):
    market = _code("market_id", "Market code, e.g. GB")

    class Meta:
        model = BillingRun
        fields = ["market", "status", "trigger", "business_date"]


class ChargeLineApiFilter(django_filters.FilterSet):
    market = _code("market_id", "Market code, e.g. GB")
    vendor_code = _code("vendor__code", "Vendor code")
    seller_code = _code("seller__code", "Seller code")
    contract = _code("contract_version__contract__reference", "Contract reference, e.g. C-V001-STANDARD-001")
    # A shipment's lines by their key's range: charge lines have no index on the shipment column
    # (ChargeLine.id), so a filter on it would read every line.
    shipment = django_filters.ModelChoiceFilter(queryset=Shipment.objects.all(), method="filter_shipment")
    tracking_number = django_filters.CharFilter(method="filter_tracking_number", label="Tracking number")

    class Meta:
        model = ChargeLine
        fields = ["run", "shipment", "vendor", "seller", "kind", "service_level", "ship_date"]

    def filter_shipment(self, queryset, name, value):
        return queryset.of_shipments(value.pk)

    def filter_tracking_number(self, queryset, name, value):
        # Unique per vendor: a handful of shipments at most, found by their own index.
        return queryset.of_any_shipment(Shipment.objects.filter(tracking_number=value).values_list("pk", flat=True))


class RatingExceptionApiFilter(django_filters.FilterSet):
    market = _code("shipment__market_id", "Market code, e.g. GB")
    vendor_code = _code("vendor__code", "Vendor code")
    seller_code = _code("shipment__seller__code", "Seller code")
    tracking_number = _code("shipment__tracking_number", "Tracking number")

    class Meta:
        model = RatingException
        fields = ["run", "code", "vendor", "shipment"]


class SellerFeeScheduleApiFilter(django_filters.FilterSet):
    market = _code("market_id", "Market code, e.g. GB")
    in_force_on = django_filters.DateFilter(method="filter_in_force_on", label="Approved and in force on this day")

    class Meta:
        model = SellerFeeSchedule
        fields = ["market", "service_level", "status"]

    def filter_in_force_on(self, queryset, name, value):
        return queryset.filter(pk__in=fee_schedules_in_force_ids(on=value))


class FeeScheduleFilter(django_filters.FilterSet):
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all())
    service_level = django_filters.CharFilter(label="Service level")
    status = django_filters.ChoiceFilter(choices=SellerFeeSchedule.Status.choices)

    class Meta:
        model = SellerFeeSchedule
        fields = ["market", "service_level", "status"]
