"""Rate-card Excel import/export with django-import-export.

A rate card is a workbook with two sheets, "Rate lines" and "Surcharges", whose headers are the
resource fields below. The export writes numbers as numbers and dates as dates (through
settlement_ops.exports) so the same file imports back unchanged (round trip).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from itertools import pairwise

import tablib
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from import_export import fields, resources, widgets

from settlement_ops import uploads
from settlement_ops.errors import DomainError
from settlement_ops.exports import Column, Sheet
from settlement_ops.money import minor_units

from .models import ContractVersion, RateLine, Surcharge

RATE_LINES_SHEET = "Rate lines"
SURCHARGES_SHEET = "Surcharges"


class StrictDecimalWidget(widgets.DecimalWidget):
    """Decimal from a number or text; a clear ValueError otherwise; floats through their repr."""

    def clean(self, value, row=None, **kwargs):
        if self.is_empty(value):
            return None
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a number")
        try:
            # openpyxl gives floats for numeric cells; repr() is the shortest exact decimal text.
            result = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip().replace(",", ""))
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
        if not result.is_finite():
            raise ValueError(f"{value!r} is not a number")
        return result

    def render(self, value, obj=None, **kwargs):
        return value


class StrictDateWidget(widgets.DateWidget):
    def clean(self, value, row=None, **kwargs):
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value).strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a YYYY-MM-DD date") from None

    def render(self, value, obj=None, **kwargs):
        return value


class TextWidget(widgets.CharWidget):
    def clean(self, value, row=None, **kwargs):
        return "" if value is None else str(value).strip()


def _dec(name, required=True):
    return fields.Field(attribute=name, column_name=name, widget=StrictDecimalWidget())


class _VersionResource(resources.ModelResource):
    """Rows always create new records of one version (the import replaces the version's card)."""

    def __init__(self, version: ContractVersion, row_problems: dict | None = None):
        super().__init__()
        self.version = version
        # {dataset row number (1-based): {field: message}} found by checks across rows.
        self.row_problems = row_problems or {}

    def before_import_row(self, row, **kwargs):
        problems = self.row_problems.get(kwargs.get("row_number"))
        if problems:
            raise ValidationError(problems)

    def init_instance(self, row=None):
        return self._meta.model(version=self.version)

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        errors = dict(import_validation_errors or {})
        try:
            instance.full_clean(exclude=["version", *errors.keys()], validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)


class RateLineResource(_VersionResource):
    service_level = fields.Field(attribute="service_level", column_name="service_level", widget=TextWidget())
    origin_zone = fields.Field(attribute="origin_zone", column_name="origin_zone", widget=TextWidget())
    destination_zone = fields.Field(attribute="destination_zone", column_name="destination_zone", widget=TextWidget())
    weight_from_kg = _dec("weight_from_kg")
    weight_to_kg = _dec("weight_to_kg")
    base_price = _dec("base_price")
    price_per_additional_kg = _dec("price_per_additional_kg")
    additional_step_kg = _dec("additional_step_kg")
    minimum_charge = _dec("minimum_charge")

    class Meta:
        model = RateLine
        fields = (
            "service_level",
            "origin_zone",
            "destination_zone",
            "weight_from_kg",
            "weight_to_kg",
            "base_price",
            "price_per_additional_kg",
            "additional_step_kg",
            "minimum_charge",
        )
        import_id_fields = ()
        force_init_instance = True
        clean_model_instances = True
        skip_diff = True


class SurchargeResource(_VersionResource):
    kind = fields.Field(attribute="kind", column_name="kind", widget=TextWidget())
    percent = _dec("percent")
    flat_amount = _dec("flat_amount")
    valid_from = fields.Field(attribute="valid_from", column_name="valid_from", widget=StrictDateWidget())
    valid_to = fields.Field(attribute="valid_to", column_name="valid_to", widget=StrictDateWidget())
    zone = fields.Field(attribute="zone", column_name="zone", widget=TextWidget())
    dimension_threshold_cm = _dec("dimension_threshold_cm")
    minimum_amount = _dec("minimum_amount")

    class Meta:
        model = Surcharge
        fields = (
            "kind",
            "percent",
            "flat_amount",
            "valid_from",
            "valid_to",
            "zone",
            "dimension_threshold_cm",
            "minimum_amount",
        )
        import_id_fields = ()
        force_init_instance = True
        clean_model_instances = True
        skip_diff = True

    def init_instance(self, row=None):
        instance = super().init_instance(row)
        instance.minimum_amount = Decimal("0")
        return instance

    def before_import_row(self, row, **kwargs):
        super().before_import_row(row, **kwargs)
        # Blank minimum means none; the model default does not apply to an explicit blank cell.
        if row.get("minimum_amount") in (None, ""):
            row["minimum_amount"] = "0"


SHEETS = {RATE_LINES_SHEET: RateLineResource, SURCHARGES_SHEET: SurchargeResource}
REQUIRED_COLUMNS = {
    RATE_LINES_SHEET: list(RateLineResource.Meta.fields),
    SURCHARGES_SHEET: ["kind", "percent", "flat_amount"],
}


# A rate card: a few thousand rate lines; far more rows or columns than any card is refused.
RATE_CARD_LIMITS = uploads.UploadLimits(
    max_rows=50_000, max_columns=32, max_bytes=5 * 1024 * 1024, max_uncompressed_bytes=64 * 1024 * 1024, seconds=60
)


def read_rate_card_workbook(content: bytes, filename: str = "rate-card.xlsx") -> dict[str, tablib.Dataset]:
    """The two sheets as datasets, read by the guarded reader (type by content, archive checked,
    rows streamed within RATE_CARD_LIMITS). Raises DomainError when the file is not an xlsx
    workbook or lacks the rate-lines sheet."""
    uploads.file_kind(content=content, filename=filename, limits=RATE_CARD_LIMITS, allowed=(uploads.XLSX,))
    sheets = uploads.xlsx_sheet_names(content)
    if RATE_LINES_SHEET not in sheets:
        raise DomainError(f"The workbook has no sheet named {RATE_LINES_SHEET!r}.", code="bad_file", field="file")
    datasets = {}
    for name in SHEETS:
        if name not in sheets:
            continue
        rows = [values for _, values in uploads.xlsx_rows(content, limits=RATE_CARD_LIMITS, sheet=name)]
        rows = [r for r in rows if any(cell not in (None, "") for cell in r)]
        headers = [str(h).strip() if h is not None else "" for h in (rows[0] if rows else [])]
        dataset = tablib.Dataset(headers=headers)
        for r in rows[1:]:
            dataset.append((list(r) + [None] * len(headers))[: len(headers)])
        datasets[name] = dataset
    return datasets


def _first_message(messages) -> str:
    return "; ".join(str(m) for m in messages)


def _overlap_problems(dataset: tablib.Dataset) -> dict[int, dict]:
    """Brackets (from, to] of one lane must not overlap; checked on the raw rows before saving so
    the file gets a row-level message instead of a database error."""
    widget = StrictDecimalWidget()
    lanes = defaultdict(list)
    for number, row in enumerate(dataset.dict, start=2):
        try:
            low, high = widget.clean(row.get("weight_from_kg")), widget.clean(row.get("weight_to_kg"))
        except ValueError:
            continue
        if low is None or high is None or high <= low:
            continue
        key = tuple(str(row.get(c) or "").strip() for c in ("service_level", "origin_zone", "destination_zone"))
        lanes[key].append((low, high, number))
    problems = {}
    for (service, origin, destination), brackets in lanes.items():
        brackets.sort()
        for (low1, high1, row1), (low2, high2, row2) in pairwise(brackets):
            if low2 < high1:
                problems[row2 - 1] = {
                    "weight_from_kg": f"bracket ({low2}, {high2}] overlaps row {row1} ({low1}, {high1}] of {service} {origin}->{destination}"
                }
    return problems


def import_rate_card(*, version: ContractVersion, datasets: dict[str, tablib.Dataset]) -> tuple[dict, list[dict]]:
    """Import the sheets into `version` inside the caller's transaction. Returns (counts, errors);
    the caller must roll back when errors is not empty."""
    errors: list[dict] = []
    for sheet, required in REQUIRED_COLUMNS.items():
        dataset = datasets.get(sheet)
        if dataset is None:
            continue
        for column in required:
            if column not in dataset.headers:
                errors.append({"sheet": sheet, "row": 1, "field": column, "message": "column is missing"})
    if errors:
        return {}, errors
    if not len(datasets[RATE_LINES_SHEET]):
        return {}, [{"sheet": RATE_LINES_SHEET, "row": 2, "field": "", "message": "the sheet has no rate lines"}]
    problems = {RATE_LINES_SHEET: _overlap_problems(datasets[RATE_LINES_SHEET])}
    counts = {}
    for sheet, resource_class in SHEETS.items():
        dataset = datasets.get(sheet)
        if dataset is None:
            counts[sheet] = 0
            continue
        # Overlapping rows are refused before they reach the database (PostgreSQL would refuse them too).
        result = resource_class(version, problems.get(sheet)).import_data(
            dataset, dry_run=False, raise_errors=False, use_transactions=True
        )
        for invalid in result.invalid_rows:
            for field, messages in invalid.error_dict.items():
                errors.append(
                    {
                        "sheet": sheet,
                        "row": invalid.number + 1,
                        "field": "" if field == NON_FIELD_ERRORS else field,
                        "message": _first_message(messages),
                    }
                )
        for number, row_errors in result.row_errors():
            for error in row_errors:
                errors.append({"sheet": sheet, "row": number + 1, "field": "", "message": str(error.error)})
        for error in result.base_errors:
            errors.append({"sheet": sheet, "row": 1, "field": "", "message": str(error.error)})
        counts[sheet] = result.totals.get("new", 0)
    errors.sort(key=lambda e: (e["sheet"] != RATE_LINES_SHEET, e["row"]))
    return {"rate_lines": counts.get(RATE_LINES_SHEET, 0), "surcharges": counts.get(SURCHARGES_SHEET, 0)}, errors


def rate_card_sheets(version: ContractVersion) -> list[Sheet]:
    """The version's rate card as workbook sheets (django-import-export dehydrates the rows)."""
    money_places = minor_units(version.contract.currency)
    sheets = []
    for sheet, resource_class, queryset in (
        (
            RATE_LINES_SHEET,
            RateLineResource,
            version.rate_lines.order_by("service_level", "origin_zone", "destination_zone", "weight_from_kg"),
        ),
        (SURCHARGES_SHEET, SurchargeResource, version.surcharges.order_by("kind", "valid_from", "pk")),
    ):
        resource = resource_class(version)
        dataset = resource.export(queryset=queryset)
        columns = []
        for header in dataset.headers:
            field = resource.fields[header]
            if isinstance(field.widget, StrictDecimalWidget):
                columns.append(
                    Column(
                        header,
                        "number",
                        16,
                        decimals=3
                        if "kg" in header or header.endswith("_cm")
                        else 4
                        if header == "percent"
                        else money_places,
                    )
                )
            elif isinstance(field.widget, StrictDateWidget):
                columns.append(Column(header, "date", 12))
            else:
                columns.append(Column(header, "text", 16))
        sheets.append(Sheet(sheet, columns, [list(row) for row in dataset]))
    return sheets
