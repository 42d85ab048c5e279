"""Vendor invoice files as carriers really send them: a title block above the header, amounts as
text with a currency and local digit grouping, page subtotals and a grand total in the
tracking-number column, signature lines below; and mappings whose options follow the file type."""

import io
import shutil
from decimal import Decimal as D
from pathlib import Path

import openpyxl
import pytest

from billing.payables import services
from billing.payables.models import InvoiceColumnMapping, InvoiceImport
from billing.payables.parsing import CellError, read_decimal, total_row_kind
from billing.payables.tasks import invoice_import_task
from settlement_ops.errors import DomainError
from settlement_ops.roles import Role
from tests.factories import ActiveContractFactory, UserFactory, VendorFactory, market

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "vendor_invoices"
VN_SAMPLE = SAMPLES / "vn_giaohang_GHN-2026-10-0177.xlsx"
VN_COLUMNS = {
    "tracking_number": "Mã vận đơn",
    "ship_date": "Ngày gửi",
    "billed_weight_kg": "Khối lượng (kg)",
    "base": "Cước chính",
    "fuel": "Phụ phí xăng dầu",
    "cod": "Phí thu hộ (COD)",
    "net": "Thành tiền",
    "vat": "Thuế GTGT (8%)",
    "gross": "Tổng cộng",
}
VN_HEADER = {
    "invoice_number": "GHN-2026-10-0177",
    "invoice_date": "2026-10-31",
    "net_total": "148000",
    "vat_total": "11840",
    "gross_total": "159840",
}


@pytest.mark.parametrize(
    "text, separator, expected",
    [
        ("Rp 12.500", ",", D("12500")),
        ("32.000 ₫", ",", D("32000")),
        ("€ 4,20", ",", D("4.20")),
        ("12 500,00", ",", D("12500.00")),
        ("GBP 1,234.56", ".", D("1234.56")),
        ("(12.50)", ".", D("-12.50")),
        ("12.50-", ".", D("-12.50")),
        ("0 ₫", ",", D("0")),
        ("1,2", ",", D("1.2")),
    ],
)
def test_amounts_written_as_vendors_write_them(text, separator, expected):
    assert read_decimal(text, separator) == expected


@pytest.mark.parametrize("text", ["abc", "₫", "1.2.3,4,5", "12,5 + 3", "n/a"])
def test_text_that_is_no_amount_is_refused(text):
    with pytest.raises(CellError, match="is not a number"):
        read_decimal(text, ",")


@pytest.mark.parametrize(
    "label, kind",
    [
        ("Cộng trang 1", "sub"),
        ("TỔNG CỘNG", "grand"),
        ("Zwischensumme Seite 2", "sub"),
        ("Gesamtsumme", "grand"),
        ("Total", "grand"),
        ("Jumlah", "sub"),
        ("PN7734100012GB", None),
        ("Người lập biểu", None),
    ],
)
def test_totals_rows_are_recognised_by_their_label(label, kind):
    assert total_row_kind(label) == kind


def _vn_vendor():
    vendor = VendorFactory(market=market("VN"), code="V-GHN")
    ActiveContractFactory(vendor=vendor)
    specialist = UserFactory(role=Role.FINANCE_SPECIALIST)
    services.mapping_save(
        actor=specialist,
        vendor=vendor,
        columns=VN_COLUMNS,
        file_type=InvoiceColumnMapping.FileType.XLSX,
        delimiter="",
        decimal_separator=",",
        date_format="%d/%m/%Y",
        header_row=5,
    )
    return vendor, specialist


def _import(vendor, specialist, content: bytes, header=None) -> InvoiceImport:
    job = services.invoice_import_create(
        actor=specialist, vendor=vendor, filename="ghn.xlsx", content=content, header=header or VN_HEADER
    )
    invoice_import_task(job.pk)
    job.refresh_from_db()
    return job


def _edited(change) -> bytes:
    book = openpyxl.load_workbook(VN_SAMPLE)
    change(book.active)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.mark.skipif(not VN_SAMPLE.exists(), reason="the shared vendor samples are not beside the checkout")
def test_the_vietnamese_carrier_file_imports_its_four_lines_and_checks_its_totals(tmp_path):
    # given: the sample as the carrier sends it (title block, text amounts with ₫, page subtotals,
    # grand total, signatures), and its mapping: an xlsx vendor needs no CSV delimiter
    vendor, specialist = _vn_vendor()
    content = Path(shutil.copy(VN_SAMPLE, tmp_path / "ghn.xlsx")).read_bytes()
    # when
    job = _import(vendor, specialist, content)
    # then: the lines, not the totals rows, are the invoice
    assert job.status == InvoiceImport.Status.DONE, (job.message, job.errors)
    invoice = job.invoice
    lines = {line.tracking_number: line for line in invoice.lines.all()}
    assert sorted(lines) == ["VVN01000000101", "VVN01000000102", "VVN01000000103", "VVN01000000104"]
    first = lines["VVN01000000102"]
    assert (first.billed_weight_kg, first.billed_base, first.billed_fuel, first.billed_cod) == (
        D("0.500"),
        D("41000"),
        D("3700"),
        D("15000"),
    )
    assert (first.billed_net, first.billed_vat, first.billed_gross) == (D("59700"), D("4776"), D("64476"))
    assert (invoice.net_total, invoice.vat_total, invoice.gross_total) == (D("148000"), D("11840"), D("159840"))
    assert invoice.currency == "VND"


@pytest.mark.skipif(not VN_SAMPLE.exists(), reason="the shared vendor samples are not beside the checkout")
def test_a_subtotal_that_does_not_add_up_refuses_the_file_naming_its_row():
    vendor, specialist = _vn_vendor()

    def wrong_page_total(sheet):
        sheet["L8"] = "102.169 ₫"  # "Cộng trang 1" is off by one dong

    job = _import(vendor, specialist, _edited(wrong_page_total))
    assert job.status == InvoiceImport.Status.REFUSED
    assert job.errors == [
        {
            "row": 8,
            "field": "gross",
            "message": "the totals row says 102169, the lines since the previous subtotal add up to 102168",
        }
    ]


@pytest.mark.skipif(not VN_SAMPLE.exists(), reason="the shared vendor samples are not beside the checkout")
def test_one_bad_line_gives_one_error_not_follow_on_total_errors():
    vendor, specialist = _vn_vendor()

    def bad_amount(sheet):
        sheet["G6"] = "ba mươi nghìn"  # the base charge of line 1 in words

    job = _import(vendor, specialist, _edited(bad_amount))
    assert job.status == InvoiceImport.Status.REFUSED
    assert job.errors == [{"row": 6, "field": "base", "message": "'ba mươi nghìn' is not a number"}]


def test_a_csv_vendor_still_needs_a_delimiter_other_than_its_decimal_comma():
    vendor = VendorFactory(market=market("DE"))
    specialist = UserFactory(role=Role.FINANCE_SPECIALIST)
    with pytest.raises(DomainError, match="cannot be the CSV delimiter"):
        services.mapping_save(
            actor=specialist,
            vendor=vendor,
            columns={"tracking_number": "Sendungsnummer", "net": "Netto"},
            delimiter=",",
            decimal_separator=",",
        )
    mapping = services.mapping_save(
        actor=specialist,
        vendor=vendor,
        columns={"tracking_number": "Sendungsnummer", "net": "Netto"},
        file_type=InvoiceColumnMapping.FileType.XLSX,
        delimiter=",",
        decimal_separator=",",
    )
    assert (mapping.file_type, mapping.decimal_separator) == ("xlsx", ",")


def test_the_mapping_page_saves_an_xlsx_vendor_without_a_delimiter(client_as):
    vendor = VendorFactory(market=market("VN"))
    client = client_as(Role.FINANCE_SPECIALIST)
    data = {
        "file_type": "xlsx",
        "delimiter": "",
        "decimal_separator": ",",
        "date_format": "%d/%m/%Y",
        "header_row": "5",
        "total_labels": "Cộng dồn trang",
        **{f"col_{name}": header for name, header in VN_COLUMNS.items()},
    }
    response = client.post(f"/payables/vendors/{vendor.pk}/mapping/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    mapping = InvoiceColumnMapping.objects.get(vendor=vendor)
    assert (mapping.file_type, mapping.header_row, mapping.total_labels) == ("xlsx", 5, "Cộng dồn trang")
    assert total_row_kind("Cộng dồn trang 3", mapping.total_labels) == "sub"
