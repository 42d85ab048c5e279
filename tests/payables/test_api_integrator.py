"""What IT does through the API that staff do on the payables pages: vendor column mappings, the
bank file of a run, vendor statements and the payment lineage (JSON and workbook)."""

import io
from datetime import date
from decimal import Decimal as D

import openpyxl
import pytest

from billing.payables import selectors, services
from billing.payables.models import InvoiceColumnMapping
from settlement_ops.roles import Role
from tests.factories import SellerUserFactory, VendorFactory, market
from tests.payables.helpers import exported_run, line, prepared_run, rated, setup_vendor, upload

pytestmark = pytest.mark.django_db

MAPPINGS = "/api/vendor-invoice-mappings/"


def test_integration_keeps_a_vendor_mapping_checked_like_the_staff_page(api_as):
    vendor = VendorFactory(market=market("DE"))
    other = VendorFactory(market=market("GB"))
    client = api_as(Role.INTEGRATION)
    body = {
        "vendor": vendor.code,
        "file_type": "csv",
        "delimiter": ";",
        "decimal_separator": ",",
        "header_row": 3,
        "columns": {"tracking_number": "Sendungsnummer", "net": "Netto", "insurance": "Versicherung"},
        "fee_kinds": {"insurance": ""},
    }
    # when: created with an Idempotency-Key, and retried
    first = client.post(MAPPINGS, body, format="json", HTTP_IDEMPOTENCY_KEY="map-1")
    again = client.post(MAPPINGS, body, format="json", HTTP_IDEMPOTENCY_KEY="map-1")
    # then: one mapping, the retry replays the first bytes
    assert first.status_code == 201, first.content
    assert first.json()["vendor"] == vendor.code and first.json()["header_row"] == 3
    assert first.json()["updated_by"] == client.user.username
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    reused = client.post(MAPPINGS, {**body, "header_row": 4}, format="json", HTTP_IDEMPOTENCY_KEY="map-1")
    assert reused.status_code == 422
    # a second create is a conflict; the update is a PUT
    twice = client.post(MAPPINGS, body, format="json")
    assert twice.status_code == 409 and "PUT" in twice.json()["error"]["message"]
    # the staff page's rules: the decimal comma cannot be the CSV delimiter, a net column is required
    bad = client.put(f"{MAPPINGS}{vendor.code}/", {**body, "delimiter": ","}, format="json")
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "decimal_separator"
    no_net = client.put(f"{MAPPINGS}{vendor.code}/", {**body, "columns": {"tracking_number": "T"}}, format="json")
    assert (no_net.status_code, no_net.json()["error"]["field"]) == (400, "net")
    unknown_field = client.put(f"{MAPPINGS}{vendor.code}/", {**body, "columns": {"weight": "W"}}, format="json")
    assert unknown_field.status_code == 400 and "weight" in unknown_field.json()["error"]["message"]
    unknown_vendor = client.post(MAPPINGS, {**body, "vendor": "V-NOPE"}, format="json")
    assert (unknown_vendor.status_code, unknown_vendor.json()["error"]["field"]) == (400, "vendor")
    # PATCH changes what is sent and keeps the rest; an xlsx vendor needs no delimiter
    patched = client.patch(
        f"{MAPPINGS}{vendor.code}/",
        {"file_type": "xlsx", "delimiter": "", "fee_kinds": {"insurance": "cod"}},
        format="json",
    )
    assert patched.status_code == 200, patched.content
    mapping = InvoiceColumnMapping.objects.get(vendor=vendor)
    assert (mapping.file_type, mapping.header_row, mapping.fee_kinds) == ("xlsx", 3, {"insurance": "cod"})
    assert mapping.columns["net"] == "Netto"
    # a tab-separated vendor keeps its tab through PUT and PATCH
    tabbed = client.put(f"{MAPPINGS}{vendor.code}/", {**body, "delimiter": "\t"}, format="json")
    assert (tabbed.status_code, tabbed.json()["delimiter"]) == (200, "\t")
    assert client.patch(f"{MAPPINGS}{vendor.code}/", {"header_row": 2}, format="json").json()["delimiter"] == "\t"
    # filters take codes; another vendor's mapping is a 404 until it exists
    assert client.put(f"{MAPPINGS}{other.code}/", body, format="json").status_code == 404
    assert client.get(f"{MAPPINGS}{other.code}/").status_code == 404
    assert [m["vendor"] for m in client.get(MAPPINGS, {"vendor": vendor.code}).json()["results"]] == [vendor.code]
    assert [m["vendor"] for m in client.get(MAPPINGS, {"market": "DE"}).json()["results"]] == [vendor.code]
    assert client.get(MAPPINGS, {"market": "GB"}).json()["results"] == []


def test_mappings_are_refused_to_roles_without_the_permission(api_as):
    vendor = VendorFactory()
    body = {"vendor": vendor.code, "columns": {"tracking_number": "T", "net": "N"}}
    auditor = api_as(Role.AUDITOR)
    assert auditor.get(MAPPINGS).status_code == 200
    assert auditor.post(MAPPINGS, body, format="json").status_code == 403
    seller = api_as(Role.SELLER_USER, user=SellerUserFactory().user)
    assert seller.get(MAPPINGS).status_code == 403
    assert not InvoiceColumnMapping.objects.filter(vendor=vendor).exists()


def test_bank_file_lineage_and_statement_are_the_staff_pages_figures(api_as, client_as):
    run = exported_run()
    payment = run.payments.get()
    bank_file = run.bank_files.get()
    client = api_as(Role.INTEGRATION)
    # the bank file, byte for byte
    response = client.get(f"/api/payment-runs/{run.pk}/bank-file/")
    assert response.status_code == 200
    assert response.content == bytes(bank_file.content)
    assert response["Content-Type"] == selectors.BANK_FILE_CONTENT_TYPES[bank_file.format]
    assert response["Content-Disposition"] == f'attachment; filename="{bank_file.filename}"'
    assert response["X-Content-SHA256"] == bank_file.sha256
    assert client.get(f"/api/payment-runs/{prepared_run().pk}/bank-file/").status_code == 404
    assert client.get("/api/payment-runs/abc/bank-file/").status_code == 404
    # the lineage: the payment down to the invoice line, to the cent
    lineage = client.get(f"/api/payments/{payment.pk}/lineage/").json()
    assert lineage["count"] == 1
    row = lineage["results"][0]
    assert (row["payment"], row["vendor"], row["run"]) == (payment.end_to_end_id, payment.vendor.code, run.number)
    assert D(row["payment_amount"]) == D("5.94") and D(row["approved_gross"]) == D("5.94")
    assert row["bank_file_sha256"] == bank_file.sha256 and row["decision"] == "Approved (within tolerance)"
    workbook = client.get(f"/api/payments/{payment.pk}/lineage/xlsx/")
    assert workbook.status_code == 200
    content = b"".join(workbook.streaming_content) if workbook.streaming else workbook.content
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    values = [cell for r in sheet.iter_rows(values_only=True) for cell in r]
    assert payment.end_to_end_id in values and row["tracking_number"] in values
    # the vendor statement: the page's figures as JSON
    statement = client.get(f"/api/vendor-statements/{payment.vendor.code}/").json()
    page = client_as(Role.FINANCE_SPECIALIST).get(f"/payables/vendors/{payment.vendor.pk}/statement/")
    figures = page.context["statement"]
    assert (D(statement["balance"]), D(statement["ledger_balance"])) == (figures["balance"], figures["ledger_balance"])
    assert [(r["kind"], D(r["amount"]), D(r["balance"])) for r in statement["rows"]] == [
        (r.kind, r.amount, r.balance) for r in figures["rows"]
    ]
    assert statement["rows"][0]["kind"] == "Invoice" and D(statement["rows"][0]["amount"]) == D("5.94")
    assert statement["ties"] is True and statement["currency"] == "GBP"
    bad = client.get(f"/api/vendor-statements/{payment.vendor.code}/", {"currency": "XXX"})
    assert (bad.status_code, bad.json()["error"]["field"]) == (400, "currency")
    assert client.get("/api/vendor-statements/V-NOPE/").status_code == 404


def test_bank_file_and_lineage_are_refused_without_the_export_permission(api_as):
    run = exported_run()
    payment = run.payments.get()
    for role in (Role.SUPPORT_TIER1, Role.COMPENSATION_QA):
        client = api_as(role)
        assert client.get(f"/api/payment-runs/{run.pk}/bank-file/").status_code == 403
        assert client.get(f"/api/payments/{payment.pk}/lineage/").status_code == 403
        assert client.get(f"/api/vendor-statements/{payment.vendor.code}/").status_code == 403
    seller = api_as(Role.SELLER_USER, user=SellerUserFactory().user)
    assert seller.get(f"/api/payment-runs/{run.pk}/bank-file/").status_code == 403
    assert seller.get(f"/api/payments/{payment.pk}/lineage/xlsx/").status_code == 403


def test_lineage_pages_through_every_line_of_a_payment(api_as):
    # given: a payment of a two-line invoice
    vendor, rate_line, specialist = setup_vendor()
    a, b = (rated(vendor, rate_line, tracking=t).shipment.tracking_number for t in ("LIN-A", "LIN-B"))
    upload(vendor, specialist, [line(a, "4.50", "0.45"), line(b, "4.50", "0.45")], number="INV-LIN")
    run = services.payment_run_prepare(actor=specialist, market=market("GB"), currency="GBP", pay_date=date(2026, 5, 1))
    payment = run.payments.get()
    client = api_as(Role.INTEGRATION)
    # when: read one row a page
    url = f"/api/payments/{payment.pk}/lineage/"
    first, second = (client.get(url, {"page_size": 1, "page": n}).json() for n in (1, 2))
    # then: both lines, each once, and the payment's amount is theirs to the cent
    assert first["count"] == 2 and first["next"] and second["next"] is None
    assert [first["results"][0]["tracking_number"], second["results"][0]["tracking_number"]] == [a, b]
    assert D(first["results"][0]["payment_amount"]) == D("11.88")
    assert client.get(url, {"page_size": 1, "page": 3}).status_code == 404
