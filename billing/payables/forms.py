import csv
from collections import Counter

from django import forms
from django.conf import settings

from settlement_ops import uploads
from settlement_ops.errors import DomainError
from settlement_ops.models import Market
from settlement_ops.money import CURRENCY_CHOICES
from vendors.models import Vendor

from .models import InvoiceColumnMapping, VendorInvoice, VendorInvoiceLine
from .parsing import FEE_CHARGE_KINDS, FEE_FIELDS, MAPPING_FIELDS, check_upload

DATE = forms.DateInput(attrs={"type": "date"})


class UploadForm(forms.Form):
    vendor = forms.ModelChoiceField(queryset=Vendor.objects.order_by("code"))
    kind = forms.ChoiceField(choices=VendorInvoice.Kind.choices, initial=VendorInvoice.Kind.INVOICE, label="Document")
    credited_invoice_number = forms.CharField(
        required=False, max_length=64, help_text="Credit notes: the invoice it corrects"
    )
    invoice_number = forms.CharField(required=False, max_length=64, help_text="Empty: read from the file")
    invoice_date = forms.DateField(required=False, widget=DATE, help_text="Empty: read from the file")
    currency = forms.ChoiceField(choices=[("", "(contract currency)")] + CURRENCY_CHOICES, required=False)
    net_total = forms.DecimalField(max_digits=20, decimal_places=4, min_value=0)
    vat_total = forms.DecimalField(max_digits=20, decimal_places=4, min_value=0, label="VAT total")
    gross_total = forms.DecimalField(max_digits=20, decimal_places=4, min_value=0)
    file = forms.FileField(help_text="CSV or xlsx, laid out as the vendor's column mapping says")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"The file is larger than {settings.MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
        if not upload.name.lower().endswith((".csv", ".txt", ".xlsx")):
            raise forms.ValidationError("Upload a .csv or .xlsx file.")
        return upload

    def clean(self):
        data = super().clean()
        if data.get("kind") == VendorInvoice.Kind.CREDIT_NOTE and not data.get("credited_invoice_number"):
            self.add_error("credited_invoice_number", "A credit note names the invoice it corrects.")
        if data.get("file") and data.get("vendor"):
            self._check_content(data["file"], data["vendor"])
        return data

    def _check_content(self, upload, vendor) -> None:
        """The type by the content, before any parsing: a workbook, or text with columns. A note
        or a letter saved as .txt is refused as what it is, not as a file missing every column;
        the form is shown again with everything typed in it."""
        content = upload.read()
        upload.seek(0)
        try:
            kind = check_upload(content=content, filename=upload.name)
        except DomainError as exc:
            self.add_error("file", exc.message)
            return
        mapping = getattr(vendor, "invoice_mapping", None)
        if kind == "csv" and not looks_tabular(content, delimiter=getattr(mapping, "delimiter", ",")):
            self.add_error(
                "file",
                f"“{upload.name}” is not a CSV or Excel file: it is text without columns. "
                "Upload the vendor's invoice as .csv (one line per shipment) or .xlsx.",
            )


def looks_tabular(content: bytes, *, delimiter: str, lines: int = 20) -> bool:
    """Whether text reads as a table: among its first non-empty lines, two (or the only one)
    split at the delimiter into the same number of columns, at least two (title lines above the
    header are allowed; prose with a comma or two rarely repeats a column count)."""
    try:
        text = uploads.decode_text(content[:65536])
    except DomainError:
        return False
    sample = [line for line in text.splitlines() if line.strip()][:lines]
    rows = csv.reader(sample, delimiter=delimiter)
    widths = Counter(len(row) for row in rows if sum(1 for cell in row if cell.strip()) >= 2)
    return bool(widths) and widths.most_common(1)[0][1] >= min(2, len(sample))


class MappingForm(forms.Form):
    file_type = forms.ChoiceField(
        choices=InvoiceColumnMapping.FileType.choices, label="The vendor sends", required=False, initial="csv"
    )
    delimiter = forms.ChoiceField(
        choices=[(",", "Comma ,"), (";", "Semicolon ;"), ("|", "Pipe |"), ("\t", "Tab")],
        required=False,
        label="CSV delimiter",
        help_text="CSV files only",
    )
    decimal_separator = forms.ChoiceField(
        choices=[(".", "Point (1,234.56)"), (",", "Comma (1.234,56)")],
        help_text="Amounts may carry a currency (Rp 12.500, 32.000 ₫) and thousands separators",
    )
    date_format = forms.ChoiceField(choices=InvoiceColumnMapping.DateFormat.choices)
    header_row = forms.IntegerField(
        min_value=1, initial=1, help_text="Title rows above it are skipped; totals rows below are checked, not imported"
    )
    total_labels = forms.CharField(
        required=False,
        max_length=255,
        label="Totals row labels",
        help_text="Only if the vendor labels totals rows with words not already known (comma-separated)",
    )
    sample = forms.FileField(required=False, help_text="Optional: a sample file to read the column names from")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, label, required in MAPPING_FIELDS:
            self.fields[f"col_{name}"] = forms.CharField(
                label=label, required=False, max_length=100, widget=forms.TextInput(attrs={"list": "headers"})
            )
            if required:
                self.fields[f"col_{name}"].help_text = "required"
            if name in FEE_FIELDS:
                self.fields[f"kind_{name}"] = forms.ChoiceField(
                    choices=FEE_CHARGE_KINDS,
                    required=False,
                    label=f"{label}: billed as",
                    help_text="Our charge it is compared with; none: a charge we do not expect, to dispute",
                )

    def columns(self) -> dict:
        return {name: self.cleaned_data.get(f"col_{name}", "") for name, _, _ in MAPPING_FIELDS}

    def fee_kinds(self) -> dict:
        return {name: self.cleaned_data.get(f"kind_{name}", "") for name in FEE_FIELDS}


class PolicyForm(forms.Form):
    tolerance_amount = forms.DecimalField(max_digits=20, decimal_places=4, min_value=0)
    tolerance_percent = forms.DecimalField(max_digits=7, decimal_places=4, min_value=0)
    weight_tolerance_kg = forms.DecimalField(max_digits=10, decimal_places=3, min_value=0)


class DecideForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[
            (VendorInvoiceLine.Decision.APPROVED, "Approve (pay billed)"),
            (VendorInvoiceLine.Decision.SHORT_PAID, "Short-pay (pay expected)"),
            (VendorInvoiceLine.Decision.DISPUTED, "Dispute (pay nothing)"),
        ]
    )
    reason = forms.CharField(required=False, max_length=255)


class RunPrepareForm(forms.Form):
    market = forms.ModelChoiceField(queryset=Market.objects.filter(is_active=True))
    pay_date = forms.DateField(widget=DATE)
    bank_change_days = forms.IntegerField(min_value=0, initial=14, label="Exclude bank changes within (days)")


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=255)


class ResultUploadForm(forms.Form):
    file = forms.FileField(help_text="CSV: end_to_end_id,status,reason (status paid or rejected)")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > 5 * 1024 * 1024:
            raise forms.ValidationError("The file is larger than 5 MB.")
        return upload.read()
