import django_filters

from settlement_ops.models import Market

from .models import Case, Finding, Hold, RootCause, Severity
from .rules import RULES

RULE_CHOICES = [(rule.code, rule.name) for rule in RULES]


class FindingFilter(django_filters.FilterSet):
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all(), empty_label="All")
    rule_code = django_filters.ChoiceFilter(choices=RULE_CHOICES, label="Rule")
    state = django_filters.ChoiceFilter(choices=Finding.State.choices)
    severity = django_filters.ChoiceFilter(choices=Severity.choices)
    subject_label = django_filters.CharFilter(lookup_expr="icontains", label="Vendor / seller")

    class Meta:
        model = Finding
        fields = ["market", "rule_code", "state", "severity", "subject_label"]


class CaseFilter(django_filters.FilterSet):
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all(), empty_label="All")
    state = django_filters.ChoiceFilter(choices=Case.State.choices)
    root_cause = django_filters.ChoiceFilter(choices=RootCause.choices)
    number = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Case
        fields = ["market", "state", "root_cause", "number"]


class HoldFilter(django_filters.FilterSet):
    market = django_filters.ModelChoiceFilter(queryset=Market.objects.all(), empty_label="All")
    kind = django_filters.ChoiceFilter(choices=Hold.Kind.choices)
    status = django_filters.ChoiceFilter(choices=Hold.Status.choices)

    class Meta:
        model = Hold
        fields = ["market", "kind", "status", "vendor", "seller"]
