import django_filters
from django import forms

from settlement_ops.models import Market

from .models import Chargeback, ChargedParty, CompensationRequest, Dispute, Instrument, LiableParty, Reason, Verdict

DATE = forms.DateInput(attrs={"type": "date"})


class RequestFilter(django_filters.FilterSet):
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all(), empty_label="All")
    verdict = django_filters.ChoiceFilter(choices=Verdict.choices)
    reason = django_filters.ChoiceFilter(choices=Reason.choices)
    instrument = django_filters.ChoiceFilter(choices=Instrument.choices)
    liable_party = django_filters.ChoiceFilter(choices=LiableParty.choices[1:], label="Liable party")
    agent = django_filters.CharFilter(lookup_expr="iexact")
    q = django_filters.CharFilter(method="filter_q", label="Order, tracking or external id")
    issued_from = django_filters.DateFilter(field_name="issued_at", lookup_expr="date__gte", widget=DATE, label="From")
    issued_to = django_filters.DateFilter(field_name="issued_at", lookup_expr="date__lte", widget=DATE, label="To")
    sample_date = django_filters.DateFilter(field_name="samples__sample_date", widget=DATE, label="QA sample of")

    class Meta:
        model = CompensationRequest
        fields = ["market", "verdict", "reason", "instrument", "liable_party", "agent"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        return (
            queryset.filter(order_number=value)
            | queryset.filter(tracking_number=value)
            | queryset.filter(external_id=value)
        )


class ChargebackFilter(django_filters.FilterSet):
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all(), empty_label="All")
    party = django_filters.ChoiceFilter(choices=ChargedParty.choices)
    status = django_filters.ChoiceFilter(choices=Chargeback.Status.choices)

    class Meta:
        model = Chargeback
        fields = ["market", "party", "status"]


class DisputeFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Dispute.Status.choices)

    class Meta:
        model = Dispute
        fields = ["status"]
