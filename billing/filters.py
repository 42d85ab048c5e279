import django_filters
from django import forms

from settlement_ops.models import Market
from vendors.models import Vendor

from .models import BillingRun, RatingException, Shipment
from .selectors import shipments_search

DATE_INPUT = forms.DateInput(attrs={"type": "date"})


class BillingRunFilter(django_filters.FilterSet):
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all())
    status = django_filters.ChoiceFilter(choices=BillingRun.Status.choices)
    business_date = django_filters.DateFilter(widget=DATE_INPUT)

    class Meta:
        model = BillingRun
        fields = ["market", "status", "business_date"]


class ShipmentFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Tracking number")
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all())
    vendor = django_filters.ModelChoiceFilter(queryset=Vendor.objects.order_by("code"))
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
    vendor = django_filters.ModelChoiceFilter(queryset=Vendor.objects.order_by("code"))
    q = django_filters.CharFilter(
        field_name="shipment__tracking_number", lookup_expr="icontains", label="Tracking number"
    )

    class Meta:
        model = RatingException
        fields = ["code", "vendor"]
