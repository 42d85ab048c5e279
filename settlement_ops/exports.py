"""Excel exports auditors can re-compute: numbers stay numbers, dates stay dates.

Workbooks stream at constant memory (xlsxwriter constant_memory, rows written in order) to a temp
file that is unlinked once open, so a large export costs disk, not RAM.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import xlsxwriter
from django.http import FileResponse
from django.utils import timezone

from . import selectors
from .money import Money, minor_units

# Cells starting with these are read as formulas (or DDE) by spreadsheet programs.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Prefix a quote so a text cell can never be evaluated as a formula."""
    return "'" + text if text and text.startswith(FORMULA_TRIGGERS) else text


# A plain signed decimal ("-12.50") is a number to a spreadsheet, not a formula: left as it is.
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def csv_cell(value):
    """A CSV field that a spreadsheet opening the file can never evaluate as a formula."""
    if isinstance(value, str) and not _PLAIN_NUMBER.fullmatch(value):
        return neutralise(value)
    return value


class SafeCsvWriter:
    """csv.writer whose text fields are neutralised (`csv_cell`), for every CSV export."""

    def __init__(self, out, **kwargs):
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row):
        return self._writer.writerow([csv_cell(value) for value in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


@dataclass
class Column:
    header: str
    kind: str = "text"  # text | money | number | int | date | datetime
    width: int = 16
    decimals: int = 2  # for kind=money with plain Decimal values, and kind=number


@dataclass
class Sheet:
    name: str
    columns: list[Column]
    rows: Iterable
    header_lines: list[str] = field(default_factory=list)
    count: int | None = None  # rows expected, when known: the progress bar of a workbook job


class _Formats:
    def __init__(self, workbook):
        self.workbook = workbook
        self.cache = {}
        self.bold = workbook.add_format({"bold": True, "bg_color": "#E8EEF5", "border": 1})
        self.title = workbook.add_format({"bold": True, "font_size": 12})
        self.date = workbook.add_format({"num_format": "yyyy-mm-dd"})
        self.datetime = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.int = workbook.add_format({"num_format": "0"})

    def decimals(self, places: int):
        if places not in self.cache:
            pattern = "#,##0" + ("." + "0" * places if places else "")
            self.cache[places] = self.workbook.add_format({"num_format": pattern})
        return self.cache[places]


def _write_cell(ws, row: int, col: int, value, column: Column, fmt: _Formats) -> None:
    if value is None or value == "":
        ws.write_blank(row, col, None)
    elif isinstance(value, bool):
        ws.write_boolean(row, col, value)
    elif isinstance(value, Money):
        ws.write_number(row, col, value.amount, fmt.decimals(minor_units(value.currency)))
    elif column.kind in ("money", "number") and isinstance(value, (Decimal, int)):
        ws.write_number(row, col, value, fmt.decimals(column.decimals))
    elif column.kind == "int" and isinstance(value, int):
        ws.write_number(row, col, value, fmt.int)
    elif isinstance(value, datetime):
        ws.write_datetime(
            row,
            col,
            timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value,
            fmt.datetime,
        )
    elif isinstance(value, date):
        ws.write_datetime(row, col, datetime(value.year, value.month, value.day), fmt.date)
    elif isinstance(value, (int, Decimal)):
        ws.write_number(row, col, value)
    else:
        ws.write_string(row, col, neutralise(str(value)))


def _column_writer(ws, column: Column, fmt: _Formats):
    """A cell writer for one column with a fast path for the column's own type, decided once per
    column instead of once per cell (a million-row sheet has twelve million cells); anything else
    takes the general path (_write_cell)."""
    write_number, write_string, write_datetime = ws.write_number, ws.write_string, ws.write_datetime

    def general(row, col, value):
        if value is not None and value != "":
            _write_cell(ws, row, col, value, column, fmt)

    if column.kind in ("money", "number", "int"):
        number_format = fmt.int if column.kind == "int" else fmt.decimals(column.decimals)

        def write(row, col, value):
            kind = type(value)
            if kind is Decimal or kind is int:
                write_number(row, col, value, number_format)
            else:
                general(row, col, value)

    elif column.kind == "date":
        date_format = fmt.date

        def write(row, col, value):
            if type(value) is date:
                write_datetime(row, col, value, date_format)
            else:
                general(row, col, value)

    else:

        def write(row, col, value):
            if type(value) is str:
                if value:
                    write_string(row, col, "'" + value if value.startswith(FORMULA_TRIGGERS) else value)
            else:
                general(row, col, value)

    return write


PROGRESS_EVERY = 10_000  # rows between progress reports of a workbook job


def write_workbook(path: str, sheets: Iterable[Sheet], progress: Callable[[int], None] | None = None) -> list[dict]:
    """Write sheets (a list or a generator: a sheet's rows are read only while it is written) to
    an xlsx file at constant memory. `progress(rows_written)` is called every PROGRESS_EVERY rows.
    Returns [{"name", "rows"}] of the sheets written."""
    workbook = xlsxwriter.Workbook(
        path, {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False}
    )
    fmt = _Formats(workbook)
    written, done = [], 0
    for sheet in sheets:
        ws = workbook.add_worksheet(sheet.name[:31])
        for col, column in enumerate(sheet.columns):
            ws.set_column(col, col, column.width)
        row = 0
        for line in sheet.header_lines:
            ws.write_string(row, 0, neutralise(line), fmt.title if row == 0 else None)
            row += 1
        if sheet.header_lines:
            row += 1
        for col, column in enumerate(sheet.columns):
            ws.write_string(row, col, column.header, fmt.bold)
        header_row = row
        writers = list(enumerate(_column_writer(ws, column, fmt) for column in sheet.columns))
        for values in sheet.rows:
            row += 1
            for (col, write), value in zip(writers, values, strict=False):
                write(row, col, value)
            if progress is not None and (row - header_row) % PROGRESS_EVERY == 0:
                progress(done + row - header_row)
        ws.freeze_panes(header_row + 1, 0)
        if row > header_row:
            ws.autofilter(header_row, 0, row, len(sheet.columns) - 1)
        written.append({"name": ws.name, "rows": row - header_row})
        done += row - header_row
    workbook.close()
    if progress is not None:
        progress(done)
    return written


def workbook_response(*, filename: str, sheets: list[Sheet]) -> FileResponse:
    """Write the workbook to a temp file and stream it; the file is gone once the response closes."""
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        write_workbook(path, sheets)
        stream = open(path, "rb")  # noqa: SIM115 - FileResponse closes it when the response is done
    finally:
        os.unlink(path)
    return FileResponse(
        stream,
        as_attachment=True,
        filename=filename,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


# --- The ledger ------------------------------------------------------------------------------------


def ledger_workbook(*, market, date_from: date | None = None, date_to: date | None = None) -> FileResponse:
    """Journal, postings and trial balance of a market and period, for auditors: amounts as
    numbers in each currency's minor units, so the trial balance re-computes from the postings.
    None for a date means from the first entry / up to today."""
    period = f"{date_from or 'start'} to {date_to or 'today'}"
    entries = selectors.journal_entries(market=market, date_from=date_from, date_to=date_to).order_by(
        "entry_date", "id"
    )
    postings = (
        selectors.postings_filter(market=market, date_from=date_from, as_of=date_to)
        .select_related("account", "entry")
        .order_by("entry_date", "entry_id", "id")
    )
    sheets = [
        Sheet(
            "Entries",
            [
                Column("Entry", "int", 8),
                Column("Date", "date", 12),
                Column("Description", width=48),
                Column("Source", width=16),
                Column("Source id", width=14),
                Column("Reverses", "int", 10),
                Column("Created by", width=16),
                Column("Created at", "datetime", 20),
            ],
            (
                (
                    e.pk,
                    e.entry_date,
                    e.description,
                    e.source_type,
                    e.source_id,
                    e.reverses_id,
                    getattr(e.created_by, "username", ""),
                    e.created_at,
                )
                for e in entries.iterator(chunk_size=2000)
            ),
            header_lines=[f"Journal — {market} — {period}"],
        ),
        Sheet(
            "Postings",
            [
                Column("Entry", "int", 8),
                Column("Date", "date", 12),
                Column("Account", width=14),
                Column("Account name", width=36),
                Column("Party", width=14),
                Column("Currency", width=9),
                Column("Debit", "money", 16),
                Column("Credit", "money", 16),
                Column("Memo", width=30),
            ],
            (
                (
                    p.entry_id,
                    p.entry_date,
                    p.account.code,
                    p.account.name,
                    f"{p.party_type} {p.party_id}" if p.party_type else "",
                    p.currency,
                    Money(p.debit, p.currency),
                    Money(p.credit, p.currency),
                    p.memo,
                )
                for p in postings.iterator(chunk_size=5000)
            ),
            header_lines=[f"Postings — {market} — {period}"],
        ),
        Sheet(
            "Trial balance",
            [
                Column("Account", width=14),
                Column("Name", width=40),
                Column("Currency", width=9),
                Column("Debits", "money", 16),
                Column("Credits", "money", 16),
                Column("Net", "money", 16),
            ],
            (
                (
                    a.code,
                    a.name,
                    a.currency,
                    Money(a.debits, a.currency),
                    Money(-a.credits, a.currency),
                    Money(a.net, a.currency),
                )
                for a in selectors.trial_balance(market=market, as_of=date_to)
            ),
            header_lines=[f"Trial balance — {market} — as of {date_to or 'today'}"],
        ),
    ]
    return workbook_response(
        filename=f"ledger_{market.code}_{date_from or 'start'}_{date_to or 'today'}.xlsx", sheets=sheets
    )
