"""Reading vendor invoice files: CSV or xlsx, laid out as the vendor's column mapping says.

Files are read as a stream (csv.reader over the decoded text, openpyxl in read-only mode) and
yield one row at a time, so a 200,000-line file never sits in memory as Python objects. Values
are cleaned here (decimal comma, the usual date formats); the import decides what is missing.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings

from settlement_ops.errors import DomainError

from .models import InvoiceColumnMapping

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
    ("net", "Line total (net)", True),
    ("vat", "VAT", False),
    ("gross", "Line total (gross)", False),
]
FIELD_NAMES = [f for f, _, _ in MAPPING_FIELDS]
REQUIRED_FIELDS = [f for f, _, required in MAPPING_FIELDS if required]
COMPONENT_FIELDS = ["base", "fuel", "remote_area", "oversize", "cod", "peak", "returns"]
AUTO_DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%Y%m%d", "%d-%m-%Y"]
ALLOWED_EXTENSIONS = (".csv", ".txt", ".xlsx")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


class CellError(ValueError):
    pass


@dataclass
class FileLayout:
    """A mapping ready to apply: the column index of each mapped field."""

    index: dict[str, int]
    headers: list[str]


def check_upload(*, filename: str, size: int, head: bytes) -> str:
    """Size and type limits before any parsing. Returns "csv" or "xlsx"."""
    if size > settings.MAX_UPLOAD_BYTES:
        raise DomainError(
            f"The file is larger than {settings.MAX_UPLOAD_BYTES // (1024 * 1024)} MB.",
            code="file_too_large",
            field="file",
        )
    if size == 0:
        raise DomainError("The file is empty.", code="empty_file", field="file")
    name = filename.lower()
    if not name.endswith(ALLOWED_EXTENSIONS):
        raise DomainError("Upload a .csv or .xlsx file.", code="bad_file_type", field="file")
    if name.endswith(".xlsx"):
        if not head.startswith(b"PK"):
            raise DomainError("The file is not an Excel workbook (.xlsx).", code="bad_file_type", field="file")
        return "xlsx"
    if b"\x00" in head[:4096]:
        raise DomainError("The file is not a text (CSV) file.", code="bad_file_type", field="file")
    return "csv"


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DomainError("The file is neither UTF-8 nor Windows-1252 text.", code="bad_encoding", field="file")


def iter_rows(*, content: bytes, kind: str, delimiter: str) -> Iterator[tuple[int, list]]:
    """(1-based row number, cell values) for every row of the file's first sheet."""
    if kind == "csv":
        reader = csv.reader(io.StringIO(_decode(content)), delimiter=delimiter or ",")
        for number, row in enumerate(reader, start=1):
            yield number, row
        return
    import openpyxl  # defusedxml is installed, so openpyxl parses the XML safely

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise DomainError(f"The workbook cannot be read: {exc}", code="bad_file", field="file") from None
    try:
        sheet = workbook.worksheets[0]
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, list(row)
    finally:
        workbook.close()


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
    text = str(value).strip().replace("\u00a0", "").replace(" ", "")
    if text == "":
        return None
    if decimal_separator == ",":
        text = text.replace(".", "").replace(",", ".")
    else:
        text = text.replace(",", "")
    if not _NUMBER.match(text):
        raise CellError(f"{str(value).strip()!r} is not a number")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise CellError(f"{value!r} is not a number") from None


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
    kind = check_upload(filename=filename, size=len(content), head=content[:8192])
    for number, row in iter_rows(content=content, kind=kind, delimiter=delimiter):
        if number == header_row:
            return [read_text(cell) for cell in row if read_text(cell)]
    return []
