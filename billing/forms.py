"""Billing page forms: a seller fee schedule draft with its weight brackets."""

from django import forms

from settlement_ops.models import Market

DATE = forms.DateInput(attrs={"type": "date"})


class FeeScheduleForm(forms.Form):
    market = forms.ModelChoiceField(queryset=Market.objects.filter(is_active=True))
    service_level = forms.CharField(max_length=30, help_text="as shipments carry it, e.g. standard")
    name = forms.CharField(max_length=100)
    valid_from = forms.DateField(widget=DATE)
    valid_to = forms.DateField(widget=DATE, required=False, help_text="inclusive; empty = open-ended")
    volumetric_divisor = forms.IntegerField(min_value=1, max_value=1_000_000, initial=5000)
    cod_fee_percent = forms.DecimalField(
        max_digits=7, decimal_places=4, min_value=0, max_value=100, initial=0, help_text="% of the COD value"
    )
    cod_fee_minimum = forms.DecimalField(max_digits=20, decimal_places=4, min_value=0, initial=0)
    returns_fee = forms.DecimalField(max_digits=20, decimal_places=4, min_value=0, initial=0)


class FeeLineForm(forms.Form):
    """One weight bracket; a row left blank is ignored. Blank step, per-step fee and minimum mean
    1 kg, 0 and 0."""

    weight_from_kg = forms.DecimalField(max_digits=10, decimal_places=3, required=False)
    weight_to_kg = forms.DecimalField(max_digits=10, decimal_places=3, required=False)
    base_fee = forms.DecimalField(max_digits=20, decimal_places=4, required=False)
    fee_per_additional_step = forms.DecimalField(max_digits=20, decimal_places=4, required=False)
    additional_step_kg = forms.DecimalField(max_digits=10, decimal_places=3, required=False)
    minimum_fee = forms.DecimalField(max_digits=20, decimal_places=4, required=False)

    def is_blank(self) -> bool:
        return not any(value not in (None, "") for value in (self.cleaned_data or {}).values())


FeeLineFormSet = forms.formset_factory(FeeLineForm, extra=10, max_num=200, validate_max=True)
