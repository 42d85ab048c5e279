import django_filters
from django import forms

from .models import AuditEvent, JournalEntry, Market

DATE_INPUT = forms.DateInput(attrs={"type": "date"})


class YesNoFilter(django_filters.BooleanFilter):
    """A yes/no filter that starts at "All" (Django's null-boolean select says "Unknown", which
    reads as a third state of the data rather than "no filter")."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", forms.Select(choices=[("", "All"), ("true", "Yes"), ("false", "No")]))
        super().__init__(*args, **kwargs)


class JournalEntryFilter(django_filters.FilterSet):
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all(), empty_label="All")
    date_from = django_filters.DateFilter(field_name="entry_date", lookup_expr="gte", widget=DATE_INPUT, label="From")
    date_to = django_filters.DateFilter(field_name="entry_date", lookup_expr="lte", widget=DATE_INPUT, label="To")
    source_type = django_filters.CharFilter(label="Source type")
    q = django_filters.CharFilter(field_name="description", lookup_expr="icontains", label="Description")

    class Meta:
        model = JournalEntry
        fields = ["market", "source_type"]


class AuditEventFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=AuditEvent.Kind.choices)
    username = django_filters.CharFilter(lookup_expr="icontains")
    date_from = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", widget=DATE_INPUT, label="From"
    )
    date_to = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte", widget=DATE_INPUT, label="To")

    class Meta:
        model = AuditEvent
        fields = ["kind", "username"]
