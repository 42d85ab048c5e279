from decimal import Decimal

from django import forms

from settlement_ops.models import Market
from settlement_ops.money import CURRENCY_CHOICES

from .models import Vendor
from .services import MAX_RATE_CARD_BYTES

DATE = forms.DateInput(attrs={"type": "date"})


class VendorForm(forms.Form):
    """Vendor master data. Market and code are set at creation only; bank details have their own
    approved change request."""

    market = forms.ModelChoiceField(queryset=Market.objects.filter(is_active=True))
    code = forms.CharField(max_length=30, help_text="e.g. V-GB-05; cannot be changed later")
    legal_name = forms.CharField(max_length=200)
    vendor_type = forms.ChoiceField(choices=Vendor.Type.choices)
    vat_number = forms.CharField(
        max_length=30,
        required=False,
        label="Tax / VAT number",
        help_text="Checked for the market: UK/EU VAT, ID NPWP, VN MST",
    )
    contact_name = forms.CharField(max_length=100, required=False)
    contact_email = forms.EmailField(required=False)
    contact_phone = forms.CharField(max_length=40, required=False)
    payment_terms_days = forms.IntegerField(
        min_value=0, max_value=365, required=False, help_text="Empty = the market's default"
    )
    status = forms.ChoiceField(choices=Vendor.Status.choices, initial=Vendor.Status.ACTIVE)

    def __init__(self, *args, vendor: Vendor | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if vendor is not None:
            # Market and code identify the vendor in ledgers and files: fixed after creation.
            del self.fields["market"], self.fields["code"]
        else:
            del self.fields["status"]


class BankChangeForm(forms.Form):
    account_holder = forms.CharField(max_length=200)
    iban = forms.CharField(max_length=42, required=False, label="IBAN")
    bic = forms.CharField(max_length=11, required=False, label="BIC")
    bank_code = forms.CharField(max_length=20, required=False, help_text="Sort code (UK) or local bank code (ID, VN)")
    account_number = forms.CharField(
        max_length=34, required=False, help_text="Local account number (UK without IBAN, ID, VN)"
    )
    bank_name = forms.CharField(max_length=100, required=False)
    currency = forms.ChoiceField(choices=CURRENCY_CHOICES)
    reason = forms.CharField(
        max_length=255, required=False, help_text="e.g. vendor letter of 3 March, verified by call-back"
    )

    def clean(self):
        data = super().clean()
        if not data.get("iban") and not data.get("account_number"):
            raise forms.ValidationError("Give an IBAN or a local account number.")
        return data


class ContractForm(forms.Form):
    vendor = forms.ModelChoiceField(queryset=Vendor.objects.select_related("market").order_by("code"))
    service_level = forms.CharField(max_length=30, help_text="e.g. standard, express, economy")
    reference = forms.CharField(max_length=40, required=False, help_text="Leave empty to number it automatically")
    valid_from = forms.DateField(widget=DATE)
    valid_to = forms.DateField(widget=DATE, required=False, help_text="Inclusive; empty = open-ended")
    currency = forms.ChoiceField(choices=CURRENCY_CHOICES, help_text="Must be the vendor market's currency")
    payment_terms_days = forms.IntegerField(min_value=0, max_value=365, required=False)
    volumetric_divisor = forms.IntegerField(min_value=1, max_value=20000, initial=5000)
    on_time_days = forms.IntegerField(
        min_value=1, max_value=60, required=False, label="On-time promise (days)", help_text="Pickup to delivery"
    )
    late_refund_percent = forms.DecimalField(
        min_value=Decimal("0.01"),
        max_value=100,
        decimal_places=2,
        required=False,
        label="Late-delivery refund (%)",
        help_text="Of the freight charge; 100 = full refund",
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=255)


class TerminateForm(forms.Form):
    end_date = forms.DateField(widget=DATE)
    reason = forms.CharField(max_length=255)


class VersionForm(forms.Form):
    effective_from = forms.DateField(widget=DATE)
    notes = forms.CharField(max_length=255, required=False)


class RateCardImportForm(forms.Form):
    file = forms.FileField(
        help_text="Excel .xlsx with sheets 'Rate lines' and 'Surcharges' (as the export writes them)"
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        # Refused before it is read; its type is judged by content in the import itself.
        if upload.size > MAX_RATE_CARD_BYTES:
            raise forms.ValidationError("The file is larger than 5 MB.")
        return upload


class QuoteForm(forms.Form):
    vendor = forms.ModelChoiceField(queryset=Vendor.objects.select_related("market").order_by("code"))
    service_level = forms.CharField(max_length=30, initial="standard")
    origin_zone = forms.CharField(max_length=30)
    destination_zone = forms.CharField(max_length=30)
    ship_date = forms.DateField(widget=DATE)
    weight_kg = forms.DecimalField(min_value=Decimal("0.001"), max_digits=10, decimal_places=3, label="Weight (kg)")
    length_cm = forms.DecimalField(min_value=0, max_digits=7, decimal_places=1, required=False, label="Length (cm)")
    width_cm = forms.DecimalField(min_value=0, max_digits=7, decimal_places=1, required=False, label="Width (cm)")
    height_cm = forms.DecimalField(min_value=0, max_digits=7, decimal_places=1, required=False, label="Height (cm)")
    cod_value = forms.DecimalField(min_value=0, max_digits=20, decimal_places=4, required=False, label="COD value")
    is_returned = forms.BooleanField(required=False, label="Returned")
