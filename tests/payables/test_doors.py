"""Pages and API: upload through the page, API upload with idempotency, roles refused."""

from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from billing.payables.models import InvoiceImport, VendorInvoice
from settlement_ops.roles import Role
from tests.payables.helpers import HEADER, exported_run, line, rated, setup_vendor

pytestmark = pytest.mark.django_db


def _file(rows, name="inv.csv"):
    return SimpleUploadedFile(name, (HEADER + "".join(r[0] for r in rows)).encode(), content_type="text/csv")


def test_upload_page_refuses_a_bad_file_and_shows_every_problem(client_as, django_capture_on_commit_callbacks):
    vendor, rate_line, _ = setup_vendor()
    client = client_as(Role.FINANCE_SPECIALIST)
    rows = [line("T1", "4.50", "0.45"), ("T2,x,1,0,0,1.00,0.20,1.20\n", D(1), D("0.2"))]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("payables:invoice_upload"),
            {
                "vendor": vendor.pk,
                "kind": "invoice",
                "invoice_number": "P-1",
                "invoice_date": "2026-03-10",
                "net_total": "5.95",
                "vat_total": "1.19",
                "gross_total": "7.14",
                "file": _file(rows),
            },
        )
    job = InvoiceImport.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("payables:import_detail", args=[job.pk])
    page = client.get(response["Location"])
    assert "nothing was imported" in page.content.decode() and "billed_weight_kg" in page.content.decode()
    assert VendorInvoice.objects.count() == 0


def test_upload_page_sends_a_vendor_without_mapping_to_the_mapping_page(client_as):
    from tests.factories import ActiveContractFactory

    vendor = ActiveContractFactory().vendor
    client = client_as(Role.FINANCE_SPECIALIST)
    response = client.post(
        reverse("payables:invoice_upload"),
        {
            "vendor": vendor.pk,
            "kind": "invoice",
            "net_total": "1",
            "vat_total": "0",
            "gross_total": "1",
            "file": _file([line("T", "1.00")]),
        },
    )
    assert response["Location"] == reverse("payables:mapping_edit", args=[vendor.pk])


def test_api_upload_is_idempotent_and_refused_for_roles_without_the_right(api_as, django_capture_on_commit_callbacks):
    vendor, rate_line, _ = setup_vendor()
    cl = rated(vendor, rate_line)
    api = api_as(Role.INTEGRATION)
    data = {
        "vendor": vendor.code,
        "invoice_number": "API-1",
        "invoice_date": "2026-03-10",
        "net_total": "4.95",
        "vat_total": "0.99",
        "gross_total": "5.94",
    }
    content = (HEADER + line(cl.shipment.tracking_number, "4.50", "0.45")[0]).encode()
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post(
            "/api/vendor-invoice-imports/",
            {**data, "file": SimpleUploadedFile("a.csv", content)},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="k-1",
        )
    again = api.post(
        "/api/vendor-invoice-imports/",
        {**data, "file": SimpleUploadedFile("a.csv", content)},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert first.status_code == again.status_code == 202
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert InvoiceImport.objects.count() == 1
    job = api.get(f"/api/vendor-invoice-imports/{first.json()['id']}/").json()
    assert job["status"] == "done" and job["invoice"] is not None
    assert api.post(f"/api/vendor-invoices/{job['invoice']}/reaudit/").status_code == 403  # integration cannot audit
    assert (
        api_as(Role.AUDITOR)
        .post("/api/payment-runs/", {"market": "GB", "pay_date": "2026-05-01"}, format="json")
        .status_code
        == 403
    )


def test_api_preparer_cannot_approve_their_own_run(api_as, approver):
    run = exported_run()
    api = api_as(Role.FINANCE_APPROVER, user=run.prepared_by)
    run.prepared_by.groups.add(*approver.groups.all())
    response = api.get(f"/api/payment-runs/{run.pk}/")
    assert response.status_code == 200 and response.json()["bank_file_sha256"] == run.bank_files.get().sha256


def test_exports_and_lineage_are_workbooks(client_as):
    run = exported_run()
    client = client_as(Role.AUDITOR)
    payment = run.payments.get()
    for url in (
        reverse("payables:payment_lineage", args=[payment.pk]),
        reverse("payables:run_workbook", args=[run.pk]),
        reverse("payables:remittance", args=[payment.pk]),
        reverse("payables:invoice_export"),
    ):
        response = client.get(url)
        assert response.status_code == 200 and b"".join(response.streaming_content)[:2] == b"PK"
    pdf = client.get(reverse("payables:remittance", args=[payment.pk]) + "?format=pdf")
    assert pdf.content.startswith(b"%PDF")
    from billing.payables.selectors import payment_lineage

    rows = list(payment_lineage(payment))
    assert (
        rows[0]["bank_file_sha256"] == run.bank_files.get().sha256 and rows[0]["contract"] and rows[0]["rate_line_id"]
    )
