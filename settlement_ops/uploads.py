"""One guarded reader for every upload door (rate cards, vendor invoices, bank statements,
shipments, compensation requests).

A file is checked before it is parsed, and parsed within bounds, because a small file can cost
the server gigabytes: an xlsx that declares a huge sheet dimension with one cell far away (a
reader pads every row to the declared width), a zip bomb (a few MB inflating to GBs), an XML
entity bomb, or a CSV of millions of bad rows answered with a page of millions of errors.

- The type is taken from the content, never from the name: an xlsx is a zip holding a workbook;
  a CSV is text (no NUL bytes) in UTF-8 or Windows-1252.
- An xlsx's members are checked before openpyxl sees them: total uncompressed size, the
  compression ratio of each member, the number of members, and no DTD (defusedxml refuses
  entities too; this gives the clear message first).
- Rows are streamed (openpyxl read-only mode, csv.reader) and stop at the door's row and column
  limits whatever the sheet declares; the whole read has a wall-clock budget.
- Problems are collected by `RowErrors`: the first MAX_ERRORS_SHOWN with the total count, so a
  file of a million bad rows answers with a short report; every problem also goes to an
  `ErrorReport` (gzip-compressed CSV, a few bytes per problem), which a refusal carries as the
  downloadable report (settlement_ops.import_jobs).
"""

from __future__ import annotations

import csv
import gzip
import io
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings

from .errors import DomainError

MAX_ERRORS_SHOWN = DomainError.MAX_ERRORS_SHOWN
XLSX = "xlsx"
CSV = "csv"
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class UploadLimits:
    """What one door accepts. Rows count data and header rows alike."""

    max_rows: int
    max_columns: int = 64
    max_bytes: int | None = None  # default: settings.MAX_UPLOAD_BYTES
    max_uncompressed_bytes: int = 256 * 1024 * 1024
    max_compression_ratio: int = 100
    max_members: int = 200
    seconds: float = 60.0

    @property
    def byte_limit(self) -> int:
        return self.max_bytes or settings.MAX_UPLOAD_BYTES


def _refuse(message: str, code: str = "bad_file") -> DomainError:
    return DomainError(message, code=code, field="file")


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB"


_EXTENSIONS = {".csv": CSV, ".txt": CSV, ".xlsx": XLSX}


def file_kind(
    *, content: bytes, limits: UploadLimits, filename: str = "", allowed: tuple[str, ...] = (CSV, XLSX)
) -> str:
    """ "csv" or "xlsx", judged by the content (and, when a file name is given, it must agree);
    DomainError for an empty, too large or other file."""
    expected = " or ".join(f".{kind}" for kind in allowed)
    named = None
    if filename:
        extension = "." + filename.lower().rsplit(".", 1)[-1] if "." in filename else ""
        named = _EXTENSIONS.get(extension)
        if named not in allowed:
            raise _refuse(f"Upload a {expected} file.", "bad_file_type")
    if not content:
        raise _refuse("The file is empty.", "empty_file")
    if len(content) > limits.byte_limit:
        raise _refuse(f"The file is larger than {_megabytes(limits.byte_limit)}.", "file_too_large")
    if content.startswith(_ZIP_MAGIC):
        if XLSX not in allowed or named == CSV:
            raise _refuse(
                f"The file is an Excel workbook or another zip archive; upload a {expected} file.", "bad_file_type"
            )
        _check_archive(content, limits)
        return XLSX
    if named == XLSX:
        raise _refuse("The file is named .xlsx but is not an Excel workbook.", "bad_file_type")
    if b"\x00" in content[:65536] or content[:4] in (b"\xd0\xcf\x11\xe0", b"%PDF"):
        raise _refuse(
            f"The file is neither text nor an Excel .xlsx workbook; upload a {expected} file.", "bad_file_type"
        )
    if CSV not in allowed:
        raise _refuse(f"The file is text, not an Excel .xlsx workbook; upload a {expected} file.", "bad_file_type")
    return CSV


def _check_archive(content: bytes, limits: UploadLimits) -> None:
    """An xlsx is a zip: refuse a bomb by its own directory, before anything is inflated."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise _refuse("The file is not a readable Excel .xlsx workbook.") from None
    names = {member.filename for member in members}
    if "[Content_Types].xml" not in names or not any(name.startswith("xl/workbook") for name in names):
        raise _refuse("The file is a zip archive but not an Excel .xlsx workbook.", "bad_file_type")
    if len(members) > limits.max_members:
        raise _refuse(f"The workbook has {len(members)} parts; at most {limits.max_members} are accepted.")
    total = sum(member.file_size for member in members)
    if total > limits.max_uncompressed_bytes:
        raise _refuse(
            f"The workbook unpacks to {_megabytes(total)}, more than the {_megabytes(limits.max_uncompressed_bytes)} "
            "accepted; split it into smaller files."
        )
    for member in members:
        if member.file_size > 1024 * 1024 and member.file_size > limits.max_compression_ratio * max(
            member.compress_size, 1
        ):
            raise _refuse(
                f"The workbook's part {member.filename} is compressed {member.file_size // max(member.compress_size, 1)}"
                " times, which no spreadsheet needs; it looks like a zip bomb and was not opened."
            )
    for member in members:
        if member.filename.endswith(".xml") or member.filename.endswith(".rels"):
            with archive.open(member) as part:
                head = part.read(4096)
            if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
                raise _refuse("The workbook declares XML entities, which Excel never writes; it was not opened.")


class _Budget:
    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds

    def check(self, row: int) -> None:
        if row % 1000 == 0 and time.monotonic() > self.deadline:
            raise _refuse(
                f"Reading the file took longer than {self.seconds:.0f} s (stopped at row {row}); split it.",
                "file_too_slow",
            )


def _too_many_rows(limits: UploadLimits) -> DomainError:
    return _refuse(f"The file has more than {limits.max_rows:,} rows; split it into smaller files.", "too_many_rows")


def xlsx_sheet_names(content: bytes) -> list[str]:
    workbook = _open_workbook(content)
    try:
        return list(workbook.sheetnames)
    finally:
        workbook.close()


def _open_workbook(content: bytes):
    import openpyxl  # defusedxml is installed, so openpyxl parses the XML safely

    try:
        return openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - any parse failure means "not a workbook we can read"
        raise _refuse("The file is not a readable Excel .xlsx workbook.") from None


def xlsx_rows(content: bytes, *, limits: UploadLimits, sheet: str | None = None) -> Iterator[tuple[int, list]]:
    """(1-based row number, values) of a sheet (the first by default), at most `max_columns` wide.

    The sheet's declared dimension is not trusted: rows are streamed and at most `max_rows` are
    read (DomainError past it); trailing empty cells are dropped."""
    workbook = _open_workbook(content)
    budget = _Budget(limits.seconds)
    try:
        if sheet is None:
            worksheet = workbook.worksheets[0]
        elif sheet in workbook.sheetnames:
            worksheet = workbook[sheet]
        else:
            raise _refuse(f"The workbook has no sheet named {sheet!r}.")
        rows = worksheet.iter_rows(max_row=limits.max_rows + 1, max_col=limits.max_columns, values_only=True)
        for number, row in enumerate(rows, start=1):
            if number > limits.max_rows:
                raise _too_many_rows(limits)
            budget.check(number)
            values = list(row)
            while values and values[-1] in (None, ""):
                values.pop()
            yield number, values
    finally:
        workbook.close()


def decode_text(content: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _refuse("The file is neither UTF-8 nor Windows-1252 text.", "bad_encoding")


def csv_rows(content: bytes, *, limits: UploadLimits, delimiter: str = ",") -> Iterator[tuple[int, list]]:
    """(1-based row number, values) of a CSV file, at most `max_rows` rows of `max_columns`.

    The rows are counted first (csv's C reader, a fraction of a second for the largest file a door
    accepts), so a file over the limit is refused before any row is validated."""
    text = decode_text(content)
    budget = _Budget(limits.seconds)
    try:
        if sum(1 for _ in csv.reader(io.StringIO(text), delimiter=delimiter or ",")) > limits.max_rows:
            raise _too_many_rows(limits)
        reader = csv.reader(io.StringIO(text), delimiter=delimiter or ",")
        for number, row in enumerate(reader, start=1):
            if number > limits.max_rows:
                raise _too_many_rows(limits)
            budget.check(number)
            if len(row) > limits.max_columns:
                raise _refuse(f"Row {number} has {len(row)} columns; at most {limits.max_columns} are accepted.")
            yield number, row
    except csv.Error as exc:
        raise _refuse(f"The file is not valid CSV: {exc}.") from None


def rows(content: bytes, *, kind: str, limits: UploadLimits, delimiter: str = ",", sheet: str | None = None):
    """The rows of a checked file of either kind (see `file_kind`)."""
    if kind == XLSX:
        return xlsx_rows(content, limits=limits, sheet=sheet)
    return csv_rows(content, limits=limits, delimiter=delimiter)


def csv_records(content: bytes, *, limits: UploadLimits) -> tuple[list[str], Iterator[tuple[int, dict]]]:
    """Header (stripped, lower case) and (row number, {column: stripped text}) of a CSV file."""
    stream = csv_rows(content, limits=limits)
    first = next(stream, None)
    if first is None:
        raise _refuse("The file is empty.", "empty_file")
    header = [(name or "").strip().lower() for name in first[1]]

    def records():
        for number, values in stream:
            if not any(value.strip() for value in values):
                continue
            yield number, {name: value.strip() for name, value in zip(header, values, strict=False) if name}

    return header, records()


class ErrorReport:
    """Every problem of a file as gzip-compressed CSV (sheet, row, field, message), written as the
    problems are found, so a file of many bad rows costs kilobytes, not a list of dicts."""

    COLUMNS = ["sheet", "row", "field", "message"]

    def __init__(self):
        self._buffer = io.BytesIO()
        self._text = io.TextIOWrapper(
            gzip.GzipFile(fileobj=self._buffer, mode="wb", mtime=0), encoding="utf-8", newline=""
        )
        self._writer = csv.writer(self._text)
        self._writer.writerow(self.COLUMNS)
        self.count = 0
        self._data: bytes | None = None

    def add(self, error: dict) -> None:
        self.count += 1
        self._writer.writerow(["" if error.get(name) is None else error[name] for name in self.COLUMNS])

    def getvalue(self) -> bytes:
        if self._data is None:
            self._text.close()  # flushes the gzip trailer
            self._data = self._buffer.getvalue()
        return self._data

    @classmethod
    def of(cls, errors) -> ErrorReport:
        report = cls()
        for error in errors:
            report.add(error)
        return report


def report_rows(data: bytes) -> Iterator[dict]:
    """The problems of a stored ErrorReport, streamed: {"sheet", "row", "field", "message"}."""
    with gzip.open(io.BytesIO(data), mode="rt", encoding="utf-8", newline="") as text:
        reader = csv.reader(text)
        next(reader, None)
        for values in reader:
            yield dict(zip(ErrorReport.COLUMNS, values, strict=False))


class FileRefused(DomainError):
    """A file refused for its rows: `errors` lists the first MAX_ERRORS_SHOWN, `report` (an
    ErrorReport's bytes) holds every one of the `error_count` problems."""

    def __init__(self, message: str, *, errors, error_count: int, report: bytes, code: str = "bad_rows"):
        super().__init__(message, code=code, errors=errors, error_count=error_count)
        self.report = report


def refuse_rows(message: str, errors: list[dict], code: str = "bad_rows") -> FileRefused:
    """A refusal listing every problem of `errors` (a complete list) in its report."""
    return FileRefused(
        message, errors=errors[:MAX_ERRORS_SHOWN], error_count=len(errors), report=ErrorReport.of(errors).getvalue()
    )


class RowErrors:
    """Problems of a file, row by row: keeps the first MAX_ERRORS_SHOWN, counts them all and writes
    them all to a compressed report."""

    def __init__(self, limit: int = MAX_ERRORS_SHOWN):
        self.limit = limit
        self.count = 0
        self.shown: list[dict] = []
        self.report = ErrorReport()

    def add(self, row, field: str, message: str) -> None:
        self.count += 1
        error = {"row": row, "field": field, "message": message}
        self.report.add(error)
        if len(self.shown) < self.limit:
            self.shown.append(error)

    def __bool__(self) -> bool:
        return self.count > 0

    def summary(self, noun: str = "row") -> str:
        shown = f" (the first {len(self.shown)} are listed)" if self.count > len(self.shown) else ""
        problems = f"{self.count:,} problem" if self.count == 1 else f"{self.count:,} problems"
        return f"{problems} found in the {noun}s{shown}; nothing was imported."

    def refuse(self, noun: str = "row") -> FileRefused:
        return FileRefused(self.summary(noun), errors=self.shown, error_count=self.count, report=self.report.getvalue())
