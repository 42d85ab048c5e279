import django_filters

from settlement_ops.models import Market
from vendors.models import Vendor

from .models import Payable, PaymentRun, VendorInvoice, VendorInvoiceLine

FLAG_CHOICES = [(name.removeprefix("flag_"), label) for name, label in VendorInvoiceLine.FLAGS.items()]


class InvoiceFilter(django_filters.FilterSet):
    vendor = django_filters.ModelChoiceFilter(queryset=Vendor.objects.order_by("code"))
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all())
    kind = django_filters.ChoiceFilter(choices=VendorInvoice.Kind.choices)
    status = django_filters.ChoiceFilter(choices=VendorInvoice.Status.choices)
    number = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = VendorInvoice
        fields = ["vendor", "market", "kind", "status", "number"]


class LineFilter(django_filters.FilterSet):
    decision = django_filters.ChoiceFilter(choices=VendorInvoiceLine.Decision.choices)
    flag = django_filters.ChoiceFilter(choices=FLAG_CHOICES, method="filter_flag", label="Flag")
    tracking_number = django_filters.CharFilter(lookup_expr="icontains", label="Tracking")

    class Meta:
        model = VendorInvoiceLine
        fields = ["decision", "tracking_number"]

    def filter_flag(self, queryset, name, value):
        return queryset.filter(**{f"flag_{value}": True})


class PayableFilter(django_filters.FilterSet):
    vendor = django_filters.ModelChoiceFilter(queryset=Vendor.objects.order_by("code"))
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all())
    status = django_filters.ChoiceFilter(choices=Payable.Status.choices)
    kind = django_filters.ChoiceFilter(choices=Payable.Kind.choices)
    on_hold = django_filters.BooleanFilter()

    class Meta:
        model = Payable
        fields = ["vendor", "market", "status", "kind", "on_hold"]


class RunFilter(django_filters.FilterSet):
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all())
    status = django_filters.ChoiceFilter(choices=PaymentRun.Status.choices)

    class Meta:
        model = PaymentRun
        fields = ["market", "status"]
