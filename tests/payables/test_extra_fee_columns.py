"""Extra fee columns in vendor invoices (insurance, handling, other): a fee the mapping gives a
charge kind counts as that kind and is audited against what we expect of it; a fee with no kind is
an unexpected charge, flagged so the line waits for a person to dispute it."""

from decimal import Decimal as D

import pytest

from billing.payables import services
from billing.payables.models import InvoiceColumnMapping, InvoiceImport, VendorInvoice
from billing.payables.tasks import invoice_import_task
from settlement_ops.errors import DomainError
from settlement_ops.roles import Role
from tests.payables.helpers import rated, setup_vendor

pytestmark = pytest.mark.django_db

FEE_COLUMNS = {
    "tracking_number": "Tracking",
    "base": "Base",
    "fuel": "Fuel",
    "insurance": "Insurance",
    "handling": "Handling",
    "other": "Other fee",
    "net": "Net",
    "vat": "VAT",
}
HEADER = "Tracking,Base,Fuel,Insurance,Handling,Other fee,Net,VAT\n"


def _upload(vendor, actor, body: str, *, net: str, vat: str, number="FEE-1") -> InvoiceImport:
    job = services.invoice_import_create(
        actor=actor,
        vendor=vendor,
        filename="fees.csv",
        content=(HEADER + body).encode(),
        header={
            "invoice_number": number,
            "invoice_date": "2026-03-10",
            "net_total": net,
            "vat_total": vat,
            "gross_total": str(D(net) + D(vat)),
        },
    )
    invoice_import_task(job.pk)
    job.refresh_from_db()
    return job


def _fee_vendor():
    # given: a contract with base and fuel (no remote-area surcharge), each shipment expected at 4.95
    vendor, rate_line, specialist = setup_vendor()
    services.mapping_save(
        actor=specialist,
        vendor=vendor,
        columns=FEE_COLUMNS,
        fee_kinds={"handling": "base", "other": "remote_area", "insurance": ""},
    )
    return vendor, rate_line, specialist


def test_fee_columns_are_audited_as_their_charge_kind_or_carried_as_unexpected_for_a_dispute():
    vendor, rate_line, specialist = _fee_vendor()
    a, b, c = (rated(vendor, rate_line, tracking=t).shipment.tracking_number for t in ("FEE-A", "FEE-B", "FEE-C"))
    # when: the carrier splits A's base into base + handling, adds insurance to B and another fee to C,
    # writing amounts as text with its currency
    body = (
        f'{a},GBP 4.00,0.45,,GBP 0.50,,"GBP 4.95",0.99\n'
        f"{b},4.50,0.45,GBP 1.20,,,6.15,1.23\n"
        f"{c},4.50,0.45,,,0.30,5.25,1.05\n"
    )
    job = _upload(vendor, specialist, body, net="16.35", vat="3.27")
    # then
    assert job.status == InvoiceImport.Status.DONE, (job.message, job.errors)
    invoice = job.invoice
    lines = {line.tracking_number: line for line in invoice.lines.all()}
    # handling is billed as base: A is exactly what we expect and approved by itself
    assert (lines[a].billed_base, lines[a].billed_handling, lines[a].decision) == (D("4.50"), D("0"), "auto_approved")
    assert lines[a].flag_codes == []
    # insurance has no charge of ours: kept in its column, flagged as unexpected
    assert (lines[b].billed_insurance, lines[b].billed_net) == (D("1.20"), D("6.15"))
    assert set(lines[b].flag_codes) == {"unexpected_fee", "over_tolerance"}
    assert lines[b].decision == "pending"
    # the other fee is billed as remote area, a surcharge the contract does not have
    assert (lines[c].billed_remote_area, lines[c].billed_other) == (D("0.30"), D("0"))
    assert set(lines[c].flag_codes) == {"surcharge_not_in_contract", "over_tolerance"}
    # when: the reviewer disputes the insurance and short-pays the other fee
    services.invoice_lines_decide(
        actor=specialist, invoice=invoice, line_ids=[lines[b].pk], decision="disputed", reason="Insurance not agreed"
    )
    invoice = services.invoice_lines_decide(
        actor=specialist, invoice=invoice, line_ids=[lines[c].pk], decision="short_paid", reason="No remote fee"
    )
    # then: the unexpected charges are not paid, to the cent
    assert invoice.status == VendorInvoice.Status.APPROVED
    assert (invoice.approved_net, invoice.approved_vat) == (D("9.90"), D("0.99") + D("0.99"))
    assert invoice.disputed_total == D("7.38")
    assert invoice.payable.amount == D("11.88")


def test_bad_fee_cells_and_mappings_are_refused_naming_row_and_field():
    vendor, rate_line, specialist = _fee_vendor()
    t = rated(vendor, rate_line, tracking="FEE-X").shipment.tracking_number
    # a negative fee, a fee in words, and a net that leaves a fee out
    body = f"{t},4.50,0.45,(1.20),,,3.75,0.75\n{t}2,4.50,0.45,,lots,,4.95,0.99\n{t}3,4.50,0.45,,,0.30,4.95,0.99\n"
    job = _upload(vendor, specialist, body, net="13.65", vat="2.73")
    assert job.status == InvoiceImport.Status.REFUSED
    assert job.errors[:3] == [
        {"row": 2, "field": "insurance", "message": "is negative; send credits as a credit note"},
        {"row": 3, "field": "handling", "message": "'lots' is not a number"},
        {"row": 4, "field": "net", "message": "4.95 is not the sum of base, surcharges and fees (5.25)"},
    ]
    assert not VendorInvoice.objects.filter(vendor=vendor).exists()
    # a charge kind that does not exist, or a fee that is no fee column
    with pytest.raises(DomainError, match="is not a charge kind") as bad_kind:
        services.mapping_save(actor=specialist, vendor=vendor, columns=FEE_COLUMNS, fee_kinds={"insurance": "gold"})
    assert bad_kind.value.field == "kind_insurance"
    with pytest.raises(DomainError, match="is not a fee column"):
        services.mapping_save(actor=specialist, vendor=vendor, columns=FEE_COLUMNS, fee_kinds={"net": "base"})
    assert InvoiceColumnMapping.objects.get(vendor=vendor).fee_kinds == {"handling": "base", "other": "remote_area"}


def test_the_mapping_page_shows_and_saves_the_fee_columns_and_their_kinds(client_as):
    vendor, _, _ = setup_vendor()
    client = client_as(Role.FINANCE_SPECIALIST)
    page = client.get(f"/payables/vendors/{vendor.pk}/mapping/")
    assert page.status_code == 200
    assert b'name="kind_insurance"' in page.content and b'name="col_handling"' in page.content
    data = {
        "file_type": "csv",
        "delimiter": ";",
        "decimal_separator": ",",
        "date_format": "auto",
        "header_row": "1",
        "col_tracking_number": "Tracking",
        "col_net": "Net",
        "col_insurance": "Versicherung",
        "kind_insurance": "cod",
        "col_handling": "Handling",
        "kind_handling": "",
    }
    response = client.post(f"/payables/vendors/{vendor.pk}/mapping/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    mapping = InvoiceColumnMapping.objects.get(vendor=vendor)
    assert mapping.columns["insurance"] == "Versicherung"
    assert mapping.fee_kinds == {"insurance": "cod"}
    response = client.post(f"/payables/vendors/{vendor.pk}/mapping/", {**data, "kind_insurance": "gold"})
    assert response.status_code == 400
    assert b"gold" in response.content
