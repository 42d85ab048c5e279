"""Invoice intake: mappings, vendor layouts, refusals that store nothing, credit notes."""

import io
from decimal import Decimal as D
from pathlib import Path

import openpyxl
import pytest

from billing.payables import services
from billing.payables.models import InvoiceImport, VendorInvoice, VendorInvoiceLine
from billing.payables.tasks import invoice_import_task
from tests.factories import (
    ActiveContractFactory,
    ChargeLineFactory,
    RateLineFactory,
    ShipmentFactory,
    SurchargeFactory,
    VendorFactory,
    market,
)
from tests.payables.helpers import line, rated, setup_vendor, upload

pytestmark = pytest.mark.django_db
SAMPLES = Path("/work/shared/data/vendor_invoices")


def test_a_file_with_bad_rows_imports_nothing_and_names_every_row_and_field():
    # given
    vendor, rate_line, specialist = setup_vendor()
    body = (
        "Tracking,Weight,Base,Fuel,Remote,Net,VAT,Gross\n"
        "T1,2.000,4.50,0.45,0.00,4.95,0.99,5.94\n"
        "T2,abc,4.50,0.45,0.00,4.95,0.99,5.94\n"
        "T3,2.000,4.50,0.45,0.00,5.95,0.99,6.94\n"
        "T4,2.000,-1.00,0.00,0.00,-1.00,0.00,-1.00\n"
        "T5,2.000,4.50,0.45,0.00,4.95,0.99,5.95\n"
        "T6,2.000,4.501,0.45,0.00,4.951,0.99,5.941\n"
    )
    job = services.invoice_import_create(
        actor=specialist,
        vendor=vendor,
        filename="bad.csv",
        content=body.encode(),
        header={
            "invoice_number": "INV-BAD",
            "invoice_date": "2026-03-10",
            "net_total": "4.95",
            "vat_total": "0.99",
            "gross_total": "5.94",
        },
    )
    # when
    invoice_import_task(job.pk)
    # then
    job.refresh_from_db()
    assert job.status == InvoiceImport.Status.REFUSED
    problems = {(e["row"], e["field"]) for e in job.errors}
    assert {(3, "billed_weight_kg"), (4, "net"), (5, "base"), (6, "gross"), (7, "base")} <= problems
    assert job.error_count == len(job.errors) == 5
    assert VendorInvoice.objects.count() == 0 and VendorInvoiceLine.objects.count() == 0


def test_totals_that_do_not_add_up_are_refused():
    vendor, rate_line, specialist = setup_vendor()
    job = upload(vendor, specialist, [line("T1", "4.50", "0.45")], totals={"net_total": "5.00", "gross_total": "5.99"})
    assert job.status == InvoiceImport.Status.REFUSED
    assert {
        "row": None,
        "field": "net_total",
        "message": "the lines add up to 4.95, the header says 5.00",
    } in job.errors
    assert VendorInvoice.objects.count() == 0


def test_a_currency_other_than_the_contract_is_refused():
    vendor, rate_line, specialist = setup_vendor()
    job = upload(vendor, specialist, [line("T1", "4.50", "0.45")], totals={"currency": "EUR"})
    assert job.status == InvoiceImport.Status.REFUSED
    assert job.errors == [{"row": None, "field": "currency", "message": "EUR differs from the contract currency GBP"}]


def test_a_duplicate_invoice_number_is_refused():
    vendor, rate_line, specialist = setup_vendor()
    assert upload(vendor, specialist, [line("T1", "4.50", "0.45")], number="INV-7").status == InvoiceImport.Status.DONE
    again = upload(vendor, specialist, [line("T2", "1.00")], number="INV-7")
    assert again.status == InvoiceImport.Status.REFUSED
    assert again.errors[0]["field"] == "invoice_number" and "already used number INV-7" in again.errors[0]["message"]
    assert VendorInvoice.objects.count() == 1 and VendorInvoiceLine.objects.count() == 1


def test_running_the_import_job_twice_stores_the_invoice_once():
    vendor, rate_line, specialist = setup_vendor()
    job = upload(vendor, specialist, [line("T1", "4.50", "0.45")])
    assert invoice_import_task(job.pk) == "skipped"
    assert VendorInvoice.objects.count() == 1


def test_uk_layout_with_day_first_dates_and_a_consignment_billed_twice(specialist):
    # given: ParcelNet's file; two of its consignments were rated by billing exactly as billed
    contract = ActiveContractFactory(service_level="standard")
    rate_line = RateLineFactory(version=contract.versions.get(number=1))
    SurchargeFactory(version=rate_line.version)  # fuel is in the contract
    vendor = contract.vendor
    for tracking, base, fuel, weight in [
        ("PN7734100012GB", "3.95", "0.47", "1.200"),
        ("PN7734100013GB", "5.10", "0.61", "2.600"),
    ]:
        ship = ShipmentFactory(vendor=vendor, tracking_number=tracking, actual_weight_kg=D(weight))
        ChargeLineFactory(shipment=ship, rate_line=rate_line, vendor_base=D(base), vendor_fuel=D(fuel))
    services.mapping_save(
        actor=specialist,
        vendor=vendor,
        date_format="%d/%m/%Y",
        columns={
            "invoice_number": "Invoice Number",
            "invoice_date": "Invoice Date",
            "tracking_number": "Consignment No",
            "ship_date": "Collection Date",
            "billed_weight_kg": "Weight (kg)",
            "base": "Base Charge",
            "fuel": "Fuel Surcharge",
            "remote_area": "Remote Area",
            "oversize": "Oversize",
            "net": "Net",
            "vat": "VAT",
            "gross": "Gross",
        },
    )
    content = (SAMPLES / "uk_parcelnet_INV-2026-11-0042.csv").read_bytes()
    # when: only the totals come from the invoice document; number and date from the file
    job = services.invoice_import_create(
        actor=specialist,
        vendor=vendor,
        filename="uk.csv",
        content=content,
        header={"net_total": "40.40", "vat_total": "8.08", "gross_total": "48.48"},
    )
    invoice_import_task(job.pk)
    # then
    job.refresh_from_db()
    assert job.status == InvoiceImport.Status.DONE, job.errors
    invoice = job.invoice
    assert (invoice.number, str(invoice.invoice_date), invoice.line_count) == ("INV-2026-11-0042", "2026-11-03", 5)
    flags = {line.line_no: line.flag_codes for line in invoice.lines.all()}
    assert flags == {2: [], 3: [], 4: ["unknown_tracking"], 5: ["unknown_tracking"], 6: ["duplicate_in_invoice"]}
    row4 = invoice.lines.get(line_no=4)
    assert (row4.billed_remote_area, row4.ship_date.isoformat()) == (D("2.50"), "2026-10-28")
    assert (invoice.pending_count, invoice.approved_total) == (3, D("12.15"))


def test_german_layout_with_decimal_commas_and_semicolons(specialist):
    de_vendor = VendorFactory(market=market("DE"))
    ActiveContractFactory(vendor=de_vendor)
    services.mapping_save(
        actor=specialist,
        vendor=de_vendor,
        delimiter=";",
        decimal_separator=",",
        columns={
            "invoice_number": "Rechnungsnummer",
            "invoice_date": "Rechnungsdatum",
            "tracking_number": "Sendungsnummer",
            "ship_date": "Versanddatum",
            "billed_weight_kg": "Gewicht kg",
            "base": "Grundpreis",
            "fuel": "Treibstoffzuschlag",
            "cod": "Nachnahmegebühr",
            "net": "Netto",
            "vat": "MwSt",
            "gross": "Brutto",
        },
    )
    content = (SAMPLES / "de_schnellpaket_RE-2026-0456.csv").read_bytes()
    job = services.invoice_import_create(
        actor=specialist,
        vendor=de_vendor,
        filename="re.csv",
        content=content,
        header={"net_total": "27,65", "vat_total": "5.25", "gross_total": "32.90"},
    )
    invoice_import_task(job.pk)
    job.refresh_from_db()
    assert job.status == InvoiceImport.Status.DONE, job.errors
    third = job.invoice.lines.get(line_no=4)
    assert (third.billed_weight_kg, third.billed_cod, third.billed_net, third.billed_gross) == (
        D("0.400"),
        D("2.50"),
        D("11.43"),
        D("13.60"),
    )
    assert job.invoice.currency == "EUR" and job.invoice.number == "RE-2026-0456"


def test_xlsx_with_rows_above_the_header_and_a_totals_row_below(specialist):
    vendor, rate_line, _ = setup_vendor()
    cl = rated(vendor, rate_line)
    services.mapping_save(
        actor=specialist, vendor=vendor, header_row=3, columns={"tracking_number": "AWB", "net": "Amount", "vat": "Tax"}
    )
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Carrier invoice"])
    sheet.append([])
    sheet.append(["AWB", "Amount", "Tax"])
    sheet.append([cl.shipment.tracking_number, 4.95, 0.99])
    sheet.append(["Total", 4.95, 0.99])  # a totals label in the tracking column: checked, not a line
    sheet.append([None, 4.95, 0.99])
    buffer = io.BytesIO()
    book.save(buffer)
    job = services.invoice_import_create(
        actor=specialist,
        vendor=vendor,
        filename="inv.xlsx",
        content=buffer.getvalue(),
        header={
            "invoice_number": "X-1",
            "invoice_date": "2026-03-10",
            "net_total": "4.95",
            "vat_total": "0.99",
            "gross_total": "5.94",
        },
    )
    invoice_import_task(job.pk)
    job.refresh_from_db()
    # the totals row is a check on the line above it, not an unknown line
    assert job.status == InvoiceImport.Status.DONE, job.errors
    assert list(job.invoice.lines.values_list("tracking_number", flat=True)) == [cl.shipment.tracking_number]
    assert job.invoice.net_total == D("4.95")


def test_oversize_and_wrong_type_files_are_refused_before_parsing(specialist, settings):
    vendor, rate_line, _ = setup_vendor()
    settings.MAX_UPLOAD_BYTES = 10
    from settlement_ops.errors import DomainError

    with pytest.raises(DomainError, match="larger than"):
        services.invoice_import_create(actor=specialist, vendor=vendor, filename="a.csv", content=b"x" * 11, header={})
    settings.MAX_UPLOAD_BYTES = 1000
    with pytest.raises(DomainError, match="csv or .xlsx"):
        services.invoice_import_create(actor=specialist, vendor=vendor, filename="a.exe", content=b"MZ", header={})
    with pytest.raises(DomainError, match="not an Excel"):
        services.invoice_import_create(actor=specialist, vendor=vendor, filename="a.xlsx", content=b"hello", header={})
    assert InvoiceImport.objects.count() == 0


def test_a_credit_note_references_its_invoice_and_lines_must_be_on_it():
    vendor, rate_line, specialist = setup_vendor()
    cl = rated(vendor, rate_line)
    upload(vendor, specialist, [line(cl.shipment.tracking_number, "4.50", "0.45")], number="INV-1")
    refused = upload(vendor, specialist, [line("OTHER", "1.00")], number="CN-1", kind="credit_note", credited="INV-1")
    assert refused.status == InvoiceImport.Status.REFUSED and refused.errors[0]["field"] == "tracking_number"
    unknown = upload(
        vendor,
        specialist,
        [line(cl.shipment.tracking_number, "1.00")],
        number="CN-2",
        kind="credit_note",
        credited="NOPE",
    )
    assert unknown.errors[0]["field"] == "credited_invoice_number"
    ok = upload(
        vendor,
        specialist,
        [line(cl.shipment.tracking_number, "1.00")],
        number="CN-3",
        kind="credit_note",
        credited="INV-1",
    )
    assert ok.status == InvoiceImport.Status.DONE
    assert ok.invoice.credited_invoice.number == "INV-1" and ok.invoice.status == VendorInvoice.Status.IN_REVIEW
