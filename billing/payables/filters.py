from datetime import date, timedelta

import django_filters
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from settlement_ops.filters import YesNoFilter
from settlement_ops.models import Market
from vendors.models import Vendor

from .models import Payable, PaymentRun, VendorInvoice, VendorInvoiceLine

FLAG_CHOICES = [(name.removeprefix("flag_"), label) for name, label in VendorInvoiceLine.FLAGS.items()]


def open_dispute_q() -> Q:
    """Invoices with disputed money and no credit note from the vendor yet (the home's "disputes
    open with vendors" and the vendor page count the same invoices this filter lists)."""
    credited = VendorInvoice.objects.filter(credited_invoice=OuterRef("pk"), kind=VendorInvoice.Kind.CREDIT_NOTE)
    return Q(kind=VendorInvoice.Kind.INVOICE, disputed_total__gt=0) & ~Exists(credited)


class InvoiceFilter(django_filters.FilterSet):
    vendor = django_filters.ModelChoiceFilter(queryset=Vendor.objects.order_by("code"), empty_label="All")
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all(), empty_label="All")
    kind = django_filters.ChoiceFilter(choices=VendorInvoice.Kind.choices)
    status = django_filters.ChoiceFilter(choices=VendorInvoice.Status.choices)
    number = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = VendorInvoice
        fields = ["vendor", "market", "kind", "status", "number"]

    dispute = django_filters.ChoiceFilter(
        choices=[("open", "Open dispute with the vendor")], method="filter_dispute", label="Dispute"
    )

    def filter_dispute(self, queryset, name, value):
        return queryset.filter(open_dispute_q())


class LineFilter(django_filters.FilterSet):
    decision = django_filters.ChoiceFilter(choices=VendorInvoiceLine.Decision.choices)
    flag = django_filters.ChoiceFilter(choices=FLAG_CHOICES, method="filter_flag", label="Flag")
    tracking_number = django_filters.CharFilter(lookup_expr="icontains", label="Tracking")

    class Meta:
        model = VendorInvoiceLine
        fields = ["decision", "tracking_number"]

    def filter_flag(self, queryset, name, value):
        return queryset.filter(**{f"flag_{value}": True})


DUE_CHOICES = [("unpaid", "Not yet paid"), ("overdue", "Overdue"), ("week", "Due in the next 7 days")]


def due_q(key: str, today: date) -> Q:
    """Unpaid payables: all of them, those past their due date, or those due from today through
    the next six days (the home's work queue and the vendor page count with the same rule their
    links filter by)."""
    unpaid = ~Q(status=Payable.Status.PAID)
    if key == "unpaid":
        return unpaid
    if key == "overdue":
        return unpaid & Q(due_date__lt=today)
    return unpaid & Q(due_date__gte=today, due_date__lte=today + timedelta(days=6))


class PayableFilter(django_filters.FilterSet):
    vendor = django_filters.ModelChoiceFilter(queryset=Vendor.objects.order_by("code"), empty_label="All")
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all(), empty_label="All")
    status = django_filters.ChoiceFilter(choices=Payable.Status.choices)
    kind = django_filters.ChoiceFilter(choices=Payable.Kind.choices)
    on_hold = YesNoFilter(label="On hold")

    class Meta:
        model = Payable
        fields = ["vendor", "market", "status", "kind", "on_hold"]

    due = django_filters.ChoiceFilter(choices=DUE_CHOICES, method="filter_due", label="Due")

    def filter_due(self, queryset, name, value):
        return queryset.filter(due_q(value, timezone.localdate()))


class RunFilter(django_filters.FilterSet):
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all(), empty_label="All")
    status = django_filters.ChoiceFilter(choices=PaymentRun.Status.choices)

    class Meta:
        model = PaymentRun
        fields = ["market", "status"]
