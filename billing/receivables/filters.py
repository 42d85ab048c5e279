import django_filters
from django import forms

from settlement_ops.models import Market

from .models import Invoice, Receipt, Statement, WriteOff
from .selectors import BUCKETS, bucket_filter

DATE = forms.DateInput(attrs={"type": "date"})


class StatementFilter(django_filters.FilterSet):
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all(), empty_label="All")
    seller = django_filters.CharFilter(field_name="seller__code", lookup_expr="iexact", label="Seller code")
    period_end = django_filters.DateFilter(widget=DATE, label="Period end")

    class Meta:
        model = Statement
        fields = ["market"]


class InvoiceFilter(django_filters.FilterSet):
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all(), empty_label="All")
    seller = django_filters.CharFilter(field_name="seller__code", lookup_expr="iexact", label="Seller code")
    number = django_filters.CharFilter(lookup_expr="icontains")
    kind = django_filters.ChoiceFilter(choices=Invoice.Kind.choices)
    status = django_filters.ChoiceFilter(choices=Invoice.Status.choices)
    bucket = django_filters.ChoiceFilter(choices=BUCKETS, method="filter_bucket", label="Aging bucket")

    class Meta:
        model = Invoice
        fields = ["market", "kind", "status"]

    def filter_bucket(self, queryset, name, value):
        from django.utils import timezone

        return queryset.filter(kind="invoice", status__in=Invoice.OPEN_STATUSES).filter(
            bucket_filter(value, timezone.localdate())
        )


class PortalInvoiceFilter(django_filters.FilterSet):
    number = django_filters.CharFilter(lookup_expr="icontains")
    status = django_filters.ChoiceFilter(choices=Invoice.Status.choices)

    class Meta:
        model = Invoice
        fields = ["status"]


class ReceiptFilter(django_filters.FilterSet):
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all(), empty_label="All")
    seller = django_filters.CharFilter(field_name="seller__code", lookup_expr="iexact", label="Seller code")
    status = django_filters.ChoiceFilter(choices=Receipt.Status.choices)
    q = django_filters.CharFilter(method="filter_q", label="Reference")
    date_from = django_filters.DateFilter(field_name="value_date", lookup_expr="gte", widget=DATE, label="From")
    date_to = django_filters.DateFilter(field_name="value_date", lookup_expr="lte", widget=DATE, label="To")

    class Meta:
        model = Receipt
        fields = ["market", "status"]

    def filter_q(self, queryset, name, value):
        from django.db.models import Q

        return queryset.filter(
            Q(reference__icontains=value) | Q(bank_reference__icontains=value) | Q(payer_name__icontains=value)
        )


class WriteOffFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=WriteOff.Status.choices)

    class Meta:
        model = WriteOff
        fields = ["status"]
