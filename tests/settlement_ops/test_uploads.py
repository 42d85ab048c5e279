"""Hostile files at every upload door: each is refused quickly, in little memory, with a clear
message, and nothing is written. The files are generated here, not shipped."""

import io
import time
import tracemalloc
import zipfile
from decimal import Decimal as D

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from billing.intake import parse_shipments_csv
from billing.payables import services as payables
from billing.payables.models import InvoiceImport, VendorInvoice
from billing.payables.tasks import invoice_import_task
from billing.receivables.cash import receipts_import
from billing.receivables.models import Receipt
from settlement_ops import uploads
from settlement_ops.errors import DomainError
from settlement_ops.models import ImportJob
from tests.factories import ContractFactory, UserFactory, market
from tests.payables.helpers import HEADER as INVOICE_HEADER
from tests.payables.helpers import setup_vendor

pytestmark = pytest.mark.django_db

# What the issue allows a refusal to cost, generously above what it takes (well under a second).
SECONDS, PEAK_BYTES = 5, 300 * 1024 * 1024
SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _workbook_with_sheet(sheet_xml: bytes, *, sheet_title: str = "Sheet") -> bytes:
    """A real workbook (written by openpyxl) whose first sheet's XML is replaced."""
    book = openpyxl.Workbook()
    book.active.title = sheet_title
    book.active["A1"] = "x"
    buffer = io.BytesIO()
    book.save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = sheet_xml if item.filename == "xl/worksheets/sheet1.xml" else source.read(item.filename)
            target.writestr(item.filename, data)
    return out.getvalue()


def dimension_bomb(sheet_title: str = "Sheet", header=("tracking",)) -> bytes:
    """A few KB that declare a sheet of 16,384 x 1,048,576 cells, with one cell far away."""
    cells = "".join(f'<c r="{chr(65 + i)}1" t="inlineStr"><is><t>{name}</t></is></c>' for i, name in enumerate(header))
    xml = (
        f'<worksheet xmlns="{SHEET_NS}"><dimension ref="A1:XFD1048576"/><sheetData>'
        f'<row r="1">{cells}</row>'
        '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
        "</sheetData></worksheet>"
    )
    return _workbook_with_sheet(xml.encode(), sheet_title=sheet_title)


def zip_bomb() -> bytes:
    """A workbook whose sheet inflates 1,000 times (20 MB of nothing in ~20 KB)."""
    xml = (
        f'<worksheet xmlns="{SHEET_NS}"><sheetData>'.encode() + b" " * (20 * 1024 * 1024) + b"</sheetData></worksheet>"
    )
    return _workbook_with_sheet(xml)


def billion_laughs() -> bytes:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{"&lol{};".format(i - 1 if i > 1 else "") * 10}">' for i in range(1, 10)
    )
    xml = f'<?xml version="1.0"?><!DOCTYPE lolz [{entities}]><worksheet xmlns="{SHEET_NS}"><sheetData>'
    xml += '<row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>'
    return _workbook_with_sheet(xml.encode())


def refused_quickly(call) -> DomainError:
    """Run `call`, expect a DomainError; it must come within SECONDS and PEAK_BYTES."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(DomainError) as refused:
            call()
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < SECONDS, f"refused after {elapsed:.1f} s"
    assert peak < PEAK_BYTES, f"peak {peak / 2**20:.0f} MB"
    return refused.value


def test_a_declared_dimension_is_not_trusted_by_the_rate_card_import(client_as):
    # given
    version = ContractFactory().versions.get()
    content = dimension_bomb(sheet_title="Rate lines")
    assert len(content) < 8 * 1024
    # when: uploaded on the page, read by the background job it starts
    client = client_as("finance_specialist")
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            f"/vendors/versions/{version.pk}/import/", {"file": SimpleUploadedFile("card.xlsx", content)}
        )
    # then
    assert response.status_code == 302
    assert "more than 50,000 rows" in client.get(response["Location"]).content.decode()
    assert ImportJob.objects.get().status == ImportJob.Status.REFUSED
    assert not version.rate_lines.exists()


def test_a_dimension_bomb_stops_the_invoice_job_at_its_row_limit(settings):
    vendor, _rate_line, specialist = setup_vendor()
    job = payables.invoice_import_create(
        actor=specialist,
        vendor=vendor,
        filename="invoice.xlsx",
        content=dimension_bomb(header=INVOICE_HEADER.strip().split(",")),
        header={
            "invoice_number": "B-1",
            "invoice_date": "2026-03-10",
            "net_total": "1.00",
            "vat_total": "0.00",
            "gross_total": "1.00",
        },
    )
    # The guarded reader alone: stopped within bounds, whatever the sheet declares.
    rows = uploads.xlsx_rows(dimension_bomb(), limits=uploads.UploadLimits(max_rows=1000, max_columns=64))
    error = refused_quickly(lambda: list(rows))
    assert error.code == "too_many_rows"
    # Through the job, as the worker runs it.
    invoice_import_task(job.pk)
    job.refresh_from_db()
    assert job.status == InvoiceImport.Status.REFUSED
    assert "more than 300,000 rows" in job.message
    assert not VendorInvoice.objects.exists()


@pytest.mark.parametrize(
    "content, message",
    [
        (zip_bomb(), "looks like a zip bomb"),
        (billion_laughs(), "declares XML entities"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3 a pdf", "named .xlsx but is not an Excel workbook"),
        (b"PK\x03\x04\x14\x00 not really a zip", "not a readable Excel .xlsx workbook"),
    ],
    ids=["zip bomb", "billion laughs", "wrong magic", "broken zip"],
)
def test_hostile_workbooks_are_refused_before_parsing_at_every_xlsx_door(client_as, content, message):
    # the rate-card door (page)
    version = ContractFactory().versions.get()
    response = client_as("finance_specialist").post(
        f"/vendors/versions/{version.pk}/import/", {"file": SimpleUploadedFile("card.xlsx", content)}
    )
    assert response.status_code == 400 and message in response.content.decode()
    assert not version.rate_lines.exists()
    # the vendor-invoice door (refused before a job is stored)
    vendor, _rate_line, specialist = setup_vendor()
    error = refused_quickly(
        lambda: payables.invoice_import_create(
            actor=specialist, vendor=vendor, filename="invoice.xlsx", content=content, header={}
        )
    )
    assert message in error.message and error.field == "file"
    assert not InvoiceImport.objects.exists()


def test_binary_files_named_csv_are_refused():
    executable = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"
    for door in (
        lambda: parse_shipments_csv(executable, "shipments.csv"),
        lambda: receipts_import(actor=UserFactory(), market=market("GB"), content=executable, filename="bank.csv"),
    ):
        error = refused_quickly(door)
        assert "neither text nor an Excel .xlsx workbook" in error.message


def _statement(rows: int, *, bad: bool) -> bytes:
    header = "value_date,amount,currency,reference,payer_name,bank_reference\n"
    line = "not-a-date,abc,XXX,ref,payer,{}\n" if bad else "2026-11-02,10.00,GBP,ref,payer,{}\n"
    return (header + "".join(line.format(f"B{i}") for i in range(rows))).encode()


def test_a_huge_bank_statement_is_refused_at_its_row_limit_without_a_giant_report():
    content = _statement(476_000, bad=True)
    assert len(content) > 5 * 1024 * 1024
    # over the size limit: refused before reading
    error = refused_quickly(
        lambda: receipts_import(actor=UserFactory(), market=market("GB"), content=content, filename="bank.csv")
    )
    assert error.code == "file_too_large"
    # under the size limit but over the row limit
    rows = _statement(60_000, bad=False)[: 5 * 1024 * 1024 - 1]
    rows = rows[: rows.rfind(b"\n") + 1]
    error = refused_quickly(
        lambda: receipts_import(actor=UserFactory(), market=market("GB"), content=rows, filename="bank.csv")
    )
    assert error.code == "too_many_rows" and "more than 50,001 rows" in error.message
    assert not Receipt.objects.exists()


def test_a_file_of_bad_rows_lists_the_first_hundred_with_the_total(client_as):
    # given: 5,000 rows, each wrong in three fields (date, amount, currency)
    content = _statement(5_000, bad=True)
    # when: through the service
    error = refused_quickly(
        lambda: receipts_import(actor=UserFactory(), market=market("GB"), content=content, filename="bank.csv")
    )
    # then
    assert error.error_count == 15_000 and len(error.errors) == 100
    assert error.errors[0] == {"row": 2, "field": "value_date", "message": "'not-a-date' is not a YYYY-MM-DD date"}
    assert error.message == "15,000 problems found in the rows (the first 100 are listed); nothing was imported."
    assert error.as_dict()["error_count"] == 15_000
    # and through the page and its background job: a short report that says how many there are
    client = client_as("finance_specialist")
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            "/receivables/receipts/",
            {"action": "import", "market": "GB", "file": SimpleUploadedFile("bank.csv", content)},
        )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "The first 100 of 15000 are listed" in page
    assert page.count("is not a YYYY-MM-DD date") == 34
    assert len(page) < 200_000
    assert not Receipt.objects.exists()


def test_a_good_statement_still_imports(client_as):
    content = _statement(3, bad=False)
    result = receipts_import(actor=UserFactory(), market=market("GB"), content=content, filename="bank.csv")
    assert result["created"] == 3
    assert Receipt.objects.filter(amount=D("10.00")).count() == 3
