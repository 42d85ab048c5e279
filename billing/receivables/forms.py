from django import forms

from sellers.models import Seller
from settlement_ops.models import Market

from .models import CollectionNote

DATE = forms.DateInput(attrs={"type": "date"})


class StatementGenerateForm(forms.Form):
    market = forms.ModelChoiceField(queryset=Market.objects.filter(is_active=True))
    period_start = forms.DateField(widget=DATE)
    period_end = forms.DateField(widget=DATE)

    def clean(self):
        data = super().clean()
        if data.get("period_start") and data.get("period_end") and data["period_end"] < data["period_start"]:
            self.add_error("period_end", "The period ends before it starts.")
        return data


class ReceiptImportForm(forms.Form):
    market = forms.ModelChoiceField(queryset=Market.objects.filter(is_active=True))
    file = forms.FileField(
        help_text="Bank statement CSV: value_date,amount,currency,reference,payer_name,bank_reference[,seller_code]"
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > 5 * 1024 * 1024:
            raise forms.ValidationError("The file is larger than 5 MB.")
        if not upload.name.lower().endswith(".csv"):
            raise forms.ValidationError("Upload a .csv file.")
        return upload


class ReceiptForm(forms.Form):
    market = forms.ModelChoiceField(queryset=Market.objects.filter(is_active=True))
    amount = forms.DecimalField(max_digits=20, decimal_places=4, min_value=0)
    currency = forms.CharField(max_length=3)
    value_date = forms.DateField(widget=DATE)
    bank_reference = forms.CharField(max_length=100)
    reference = forms.CharField(max_length=255, required=False)
    payer_name = forms.CharField(max_length=200, required=False)
    seller = forms.ModelChoiceField(queryset=Seller.objects.all(), required=False)


class ApplyForm(forms.Form):
    invoice_number = forms.CharField(max_length=40)
    amount = forms.DecimalField(
        max_digits=20, decimal_places=4, required=False, help_text="Empty: as much as both allow"
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=255)


class CreditNoteForm(forms.Form):
    reason = forms.CharField(max_length=255)
    lines = forms.CharField(required=False, widget=forms.HiddenInput)


class WriteOffForm(forms.Form):
    reason = forms.CharField(max_length=255)
    amount = forms.DecimalField(
        max_digits=20, decimal_places=4, required=False, help_text="Empty: the whole open amount"
    )

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount is not None and amount <= 0:
            raise forms.ValidationError("The amount must be more than zero (leave it empty to write off all).")
        return amount


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    note = forms.CharField(max_length=255, required=False)


class CollectionNoteForm(forms.ModelForm):
    class Meta:
        model = CollectionNote
        fields = ["kind", "invoice", "text", "promised_amount", "promised_date"]
        widgets = {"promised_date": DATE, "text": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, seller=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["invoice"].queryset = (
            seller.invoices.filter(kind="invoice") if seller else self.fields["invoice"].queryset.none()
        )
        self.fields["invoice"].required = False

    def clean(self):
        # Named per field before the model's CHECK constraint is validated, so a page never shows
        # the constraint's name ("collection_promise_has_amount_and_date").
        data = super().clean()
        if data.get("kind") == CollectionNote.Kind.PROMISE:
            amount = data.get("promised_amount")
            if amount is None:
                self.add_error("promised_amount", "A promise to pay needs the amount promised.")
            elif amount <= 0:
                self.add_error("promised_amount", "The promised amount must be more than zero.")
            if not data.get("promised_date"):
                self.add_error("promised_date", "A promise to pay needs the date promised.")
        return data
