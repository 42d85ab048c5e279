"""Excel exports auditors can re-compute: numbers stay numbers, dates stay dates.

Workbooks stream at constant memory (xlsxwriter constant_memory, rows written in order) to a temp
file that is unlinked once open, so a large export costs disk, not RAM.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Iterable

import xlsxwriter
from django.http import FileResponse
from django.utils import timezone

from .money import Money, minor_units

# Cells starting with these are read as formulas (or DDE) by spreadsheet programs.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Prefix a quote so a text cell can never be evaluated as a formula."""
    return "'" + text if text and text.startswith(FORMULA_TRIGGERS) else text


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
        ws.write_datetime(row, col, timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value, fmt.datetime)
    elif isinstance(value, date):
        ws.write_datetime(row, col, datetime(value.year, value.month, value.day), fmt.date)
    elif isinstance(value, (int, Decimal)):
        ws.write_number(row, col, value)
    else:
        ws.write_string(row, col, neutralise(str(value)))


def write_workbook(path: str, sheets: list[Sheet]) -> None:
    workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False})
    fmt = _Formats(workbook)
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
        for values in sheet.rows:
            row += 1
            for col, (value, column) in enumerate(zip(values, sheet.columns)):
                _write_cell(ws, row, col, value, column, fmt)
        ws.freeze_panes(header_row + 1, 0)
        if row > header_row:
            ws.autofilter(header_row, 0, row, len(sheet.columns) - 1)
    workbook.close()


def workbook_response(*, filename: str, sheets: list[Sheet]) -> FileResponse:
    """Write the workbook to a temp file and stream it; the file is gone once the response closes."""
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        write_workbook(path, sheets)
        stream = open(path, "rb")
    finally:
        os.unlink(path)
    return FileResponse(
        stream,
        as_attachment=True,
        filename=filename,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
