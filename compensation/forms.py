from django import forms
from django.contrib.auth import get_user_model

from settlement_ops.models import Market
from settlement_ops.roles import Role

from .intake import MAX_FILE_BYTES
from .models import CorrectiveAction, LiableParty, QualityAttribute, Verdict

DATE = forms.DateInput(attrs={"type": "date"})


class UploadForm(forms.Form):
    file = forms.FileField(help_text="CSV (UTF-8) or xlsx with a header row; evidence separated by ';'")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError("The file is larger than 10 MB.")
        return upload


class OverrideForm(forms.Form):
    party = forms.ChoiceField(choices=LiableParty.choices[1:])
    reason = forms.CharField(max_length=255)


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("reject", "Reject")])
    note = forms.CharField(max_length=255, required=False)


class AttributeForm(forms.Form):
    code = forms.ChoiceField(choices=QualityAttribute.Code.choices)
    description = forms.CharField(max_length=255)
    params = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, help_text="JSON")
    severity = forms.ChoiceField(choices=QualityAttribute.Severity.choices)


class MarketForm(forms.Form):
    market = forms.ModelChoiceField(queryset=Market.objects.filter(is_active=True))


class ReviewForm(forms.Form):
    """The scorecard: one outcome and comment per attribute of the request's policy version."""

    verdict = forms.ChoiceField(choices=Verdict.choices[1:])
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, attributes=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.attributes = list(attributes)
        for attribute in self.attributes:
            self.fields[f"score_{attribute.pk}"] = forms.ChoiceField(
                label=attribute.get_code_display(), choices=[("pass", "Pass"), ("fail", "Fail"), ("na", "n/a")]
            )
            self.fields[f"comment_{attribute.pk}"] = forms.CharField(required=False, max_length=255, label="Comment")

    def scores(self) -> dict:
        return {
            a.pk: (self.cleaned_data[f"score_{a.pk}"], self.cleaned_data.get(f"comment_{a.pk}", ""))
            for a in self.attributes
        }


class CorrectiveActionForm(forms.Form):
    market = forms.ModelChoiceField(queryset=Market.objects.filter(is_active=True))
    title = forms.CharField(max_length=200)
    attribute_code = forms.ChoiceField(choices=[("", "—")] + QualityAttribute.Code.choices, required=False)
    agent = forms.CharField(max_length=64, required=False)
    owner = forms.ModelChoiceField(queryset=get_user_model().objects.none())
    due_date = forms.DateField(widget=DATE)
    status = forms.ChoiceField(choices=CorrectiveAction.Status.choices)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = (
            get_user_model()
            .objects.filter(groups__name__in=[Role.COMPENSATION_QA, Role.SUPPORT_TIER2, Role.SUPPORT_TIER1])
            .distinct()
        )
