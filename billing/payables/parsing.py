"""Reading vendor invoice files: CSV or xlsx, laid out as the vendor's column mapping says.

Files are read as a stream (csv.reader over the decoded text, openpyxl in read-only mode) and
yield one row at a time, so a 200,000-line file never sits in memory as Python objects. Values
are cleaned here (decimal comma, the usual date formats); the import decides what is missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from settlement_ops import uploads
from settlement_ops.errors import DomainError
from vendors.models import Surcharge

from .models import InvoiceColumnMapping, VendorInvoiceLine

# (field, label, required)
MAPPING_FIELDS = [
    ("invoice_number", "Invoice number", False),
    ("invoice_date", "Invoice date", False),
    ("currency", "Currency", False),
    ("tracking_number", "Tracking number", True),
    ("ship_date", "Ship date", False),
    ("billed_weight_kg", "Billed weight (kg)", False),
    ("base", "Base charge", False),
    ("fuel", "Fuel surcharge", False),
    ("remote_area", "Remote area surcharge", False),
    ("oversize", "Oversize surcharge", False),
    ("cod", "Cash-on-delivery fee", False),
    ("peak", "Peak surcharge", False),
    ("returns", "Returns surcharge", False),
    ("insurance", "Insurance fee", False),
    ("handling", "Handling fee", False),
    ("other", "Other fee", False),
    ("net", "Line total (net)", True),
    ("vat", "VAT", False),
    ("gross", "Line total (gross)", False),
]
FIELD_NAMES = [f for f, _, _ in MAPPING_FIELDS]
REQUIRED_FIELDS = [f for f, _, required in MAPPING_FIELDS if required]
COMPONENT_FIELDS = ["base", "fuel", "remote_area", "oversize", "cod", "peak", "returns"]
# Fees some carriers bill in columns of their own. The mapping names the charge kind each one is
# (its amount then counts as that kind, compared with what we expect of it); a fee with no charge
# kind is a charge we never expect, kept on the line and flagged for a dispute.
FEE_FIELDS = VendorInvoiceLine.FEE_FIELDS
FEE_CHARGE_KINDS = [("", "No charge of ours: dispute it"), ("base", "Base charge")] + [
    (kind, label) for kind, label in Surcharge.Kind.choices
]
AUTO_DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%Y%m%d", "%d-%m-%Y"]
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
# A currency symbol or code before or after an amount: letters (Rp, VND, EUR, đ) and symbols.
_CURRENCY_AROUND = re.compile(r"^[^\d\-(]+|[^\d)]+$")
_TRAILING_MINUS = re.compile(r"^[^-]*\d\s*-\D*$")
# Rows that total the lines above them (in the tracking-number column), in the languages our
# vendors write: checked against the sum of the lines, never imported as lines.
TOTAL_LABELS = (
    "total", "subtotal", "sub-total", "sum", "grand total", "page total", "carried forward",
    "summe", "zwischensumme", "gesamt", "gesamtsumme", "übertrag",
    "sous-total", "total général", "report",
    "jumlah", "subtotal halaman", "total keseluruhan",
    "tổng", "tổng cộng", "cộng", "cộng trang", "cộng dồn",
)  # fmt: skip
# The last totals row of a file: the footer (signatures, notes) follows it.
GRAND_TOTAL_LABELS = ("grand total", "total général", "gesamtsumme", "total keseluruhan", "tổng cộng", "total")


class CellError(ValueError):
    pass


@dataclass
class FileLayout:
    """A mapping ready to apply: the column index of each mapped field."""

    index: dict[str, int]
    headers: list[str]


# A vendor invoice: up to 300,000 lines (files of 200,000 lines are ~30 MB) of at most 64 columns.
INVOICE_LIMITS = uploads.UploadLimits(max_rows=300_000, max_columns=64, seconds=120)


def check_upload(*, content: bytes, filename: str = "") -> str:
    """Size, type (by content, agreeing with the name) and, for a workbook, its archive checked
    before any parsing. Returns "csv" or "xlsx"."""
    return uploads.file_kind(content=content, filename=filename, limits=INVOICE_LIMITS)


def iter_rows(*, content: bytes, kind: str, delimiter: str) -> Iterator[tuple[int, list]]:
    """(1-based row number, cell values) for every row of the file's first sheet, within the
    door's row and column limits and time budget."""
    return uploads.rows(content, kind=kind, limits=INVOICE_LIMITS, delimiter=delimiter)


def _norm(header) -> str:
    return " ".join(str(header or "").split()).casefold()


def layout_for(mapping: InvoiceColumnMapping, headers: list) -> FileLayout:
    """Column indexes of the mapped fields, or DomainError naming every column not found."""
    position = {}
    for i, header in enumerate(headers):
        position.setdefault(_norm(header), i)
    index, errors = {}, []
    for field in FIELD_NAMES:
        wanted = (mapping.columns or {}).get(field)
        if not wanted:
            if field in REQUIRED_FIELDS:
                errors.append({"row": mapping.header_row, "field": field, "message": "is not mapped to a column"})
            continue
        if _norm(wanted) not in position:
            errors.append(
                {"row": mapping.header_row, "field": field, "message": f"column {wanted!r} is not in the file's header"}
            )
            continue
        index[field] = position[_norm(wanted)]
    if errors:
        raise DomainError(
            "The file's header does not match the vendor's column mapping.", code="bad_header", errors=errors
        )
    return FileLayout(index=index, headers=[str(h or "").strip() for h in headers])


def read_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a tracking number typed as a number in Excel
    return str(value).strip()


def read_decimal(value, decimal_separator: str) -> Decimal | None:
    """Decimal from a cell: Excel numbers as their shortest text, text with the vendor's decimal
    separator (thousands separators and spaces dropped). Empty -> None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise CellError("is not a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))  # the number as shown, never the binary fraction
    if isinstance(value, Decimal):
        return value
    shown = str(value).strip()
    # Currency written around the amount ("Rp 12.500", "32.000 ₫", "€ 4,20", "GBP 5.30").
    text = _CURRENCY_AROUND.sub("", shown)
    text = "".join(text.split()).replace("'", "").replace("\u2019", "")
    if text == "":
        if shown:
            raise CellError(f"{shown!r} is not a number")
        return None
    # Accounting negatives: "(12.50)" and a trailing minus "12.50-".
    negative = (text.startswith("(") and text.endswith(")")) or bool(_TRAILING_MINUS.match(shown))
    text = text.strip("()")
    # Local digit grouping: with a decimal comma, points group thousands, and the other way round.
    if decimal_separator == ",":
        text = text.replace(".", "").replace(",", ".")
    else:
        text = text.replace(",", "")
    if not _NUMBER.match(text):
        raise CellError(f"{shown!r} is not a number")
    if negative:
        text = "-" + text.lstrip("-")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise CellError(f"{value!r} is not a number") from None


def _label(text: str) -> str:
    """Lower case, digits, punctuation and extra spaces dropped: "Cộng trang 2:" -> "cộng trang"."""
    return " ".join(re.sub(r"[\d\W_]+", " ", text.casefold()).split())


def total_row_kind(text: str, extra_labels: str = "") -> str | None:
    """ "grand" or "sub" when a tracking-number cell holds a totals label, else None."""
    label = _label(text)
    if not label:
        return None
    extra = tuple(_label(word) for word in extra_labels.split(",") if _label(word))
    if label in GRAND_TOTAL_LABELS:
        return "grand"
    if label in TOTAL_LABELS or label in extra or any(label.startswith(f"{word} ") for word in TOTAL_LABELS + extra):
        return "sub"
    return None


def read_date(value, date_format: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    formats = AUTO_DATE_FORMATS if date_format == InvoiceColumnMapping.DateFormat.AUTO else [date_format]
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    shown = (
        "YYYY-MM-DD, DD/MM/YYYY, DD.MM.YYYY or YYYYMMDD"
        if date_format == "auto"
        else InvoiceColumnMapping.DateFormat(date_format).label
    )
    raise CellError(f"{text!r} is not a date ({shown})")


def detect_headers(*, content: bytes, filename: str, delimiter: str, header_row: int) -> list[str]:
    """The column names of a sample file, for choosing a mapping."""
    kind = check_upload(content=content, filename=filename)
    for number, row in iter_rows(content=content, kind=kind, delimiter=delimiter):
        if number == header_row:
            return [read_text(cell) for cell in row if read_text(cell)]
    return []
