"""Big imports run as background jobs (settlement_ops.import_jobs): progress to 100 %, a refused
file's first 100 problems on the page with the total, all of them in the downloadable report."""

import csv
import io
from datetime import timedelta
from decimal import Decimal as D

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from billing.payables.models import InvoiceImport
from billing.receivables.models import Receipt
from settlement_ops.import_jobs import import_job_start, import_jobs_sweep
from settlement_ops.models import AuditEvent, ImportJob
from settlement_ops.roles import Role
from settlement_ops.tasks import import_job_task
from tests.factories import ContractFactory
from tests.vendors.test_rate_cards import GOOD, GOOD_S, xlsx

pytestmark = pytest.mark.django_db


def _statement(rows: int, *, bad: bool) -> bytes:
    header = "value_date,amount,currency,reference,payer_name,bank_reference\n"
    line = "31/11/2026,=1+1,XXX,ref,payer,{}\n" if bad else "2026-11-02,10.05,GBP,ref,payer,{}\n"
    return (header + "".join(line.format(f"B{i}") for i in range(rows))).encode()


def _post(client, url, data):
    """A page POST whose job runs in-process after commit, as in the demo (CELERY eager)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(url, data)


def _download(client, url) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return b"".join(response.streaming_content)


def test_a_refused_statement_shows_100_of_n_and_the_report_holds_all_n(client_as, api_as):
    # given: 150 lines, each wrong in date, amount and currency = 450 problems
    client = client_as(Role.FINANCE_SPECIALIST)
    # when
    response = _post(
        client,
        reverse("receivables:receipt_list"),
        {"action": "import", "market": "GB", "file": SimpleUploadedFile("bank.csv", _statement(150, bad=True))},
    )
    # then: the page goes to the job, which refused the file and wrote nothing
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("import_job", args=[job.pk])
    assert (job.kind, job.target, job.status, job.error_count) == ("receivables.bank_statement", "GB", "refused", 450)
    assert len(job.errors) == 100 and job.requested_by == client.user
    assert not Receipt.objects.exists()
    page = client.get(response["Location"]).content.decode()
    assert "450 problems — nothing was imported" in page
    assert "The first 100 of 450 are listed" in page
    assert page.count("is not a YYYY-MM-DD date") == 34  # rows 2..35 of the 100 shown
    assert len(page) < 100_000
    # the CSV report: every problem, with row and field, formula triggers neutralised
    report = list(
        csv.reader(io.StringIO(_download(client, reverse("import_job_errors", args=[job.pk, "csv"])).decode()))
    )
    assert report[0] == ["Sheet", "Row", "Field", "Problem"]
    assert len(report) == 1 + 450
    assert {(row[1], row[2]) for row in report[1:]} == {
        (str(n), field) for n in range(2, 152) for field in ("value_date", "amount", "currency")
    }
    amount = next(row for row in report if row[1] == "151" and row[2] == "amount")
    assert not amount[3].startswith("=")
    # the xlsx report: the same problems, rows as numbers
    sheet = openpyxl.load_workbook(
        io.BytesIO(_download(client, reverse("import_job_errors", args=[job.pk, "xlsx"]))), read_only=True
    )["Problems"]
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 1 + 450 and rows[1][1:3] == (2, "value_date")
    assert AuditEvent.objects.filter(action="import_job_refused", detail__errors=450).count() == 1
    # IT polls the same job through the API; a role without the door sees nothing
    api = api_as(Role.FINANCE_SPECIALIST, user=client.user)
    polled = api.get(f"/api/import-jobs/{job.pk}/").json()
    assert (polled["status"], polled["error_count"], len(polled["errors"])) == ("refused", 450, 100)
    assert len(b"".join(api.get(polled["problems_url"]).streaming_content).splitlines()) == 451
    assert api_as(Role.AUDITOR).get(f"/api/import-jobs/{job.pk}/").status_code == 404
    assert api_as(Role.AUDITOR).get("/api/import-jobs/").json()["results"] == []


def test_a_good_rate_card_is_imported_by_the_job_to_100_percent(client_as):
    # given a draft version
    version = ContractFactory().versions.get()
    client = client_as(Role.FINANCE_SPECIALIST)
    url = reverse("vendors:rate_card_import", args=[version.pk])
    # when the workbook is uploaded
    response = _post(client, url, {"file": SimpleUploadedFile("card.xlsx", xlsx(GOOD, GOOD_S))})
    # then the job imported it in full
    job = ImportJob.objects.get()
    assert response["Location"] == reverse("import_job", args=[job.pk])
    assert (job.status, job.progress_percent, job.processed_rows, job.total_rows) == ("done", 100, 4, 4)
    assert job.message == "Imported 2 rate lines and 2 surcharges."
    assert sorted(version.rate_lines.values_list("base_price", flat=True)) == [D("3.5000"), D("4.2000")]
    assert version.surcharges.get(kind="remote_area").flat_amount == D("2.75")
    progress = client.get(reverse("import_job_progress", args=[job.pk])).content.decode()
    assert "100 %" in progress and 'aria-valuenow="100"' in progress and "hx-get" not in progress
    assert reverse("vendors:rate_card", args=[version.pk]) in progress
    # the upload page lists the job; a redelivered task message changes nothing
    assert reverse("import_job", args=[job.pk]) in client.get(url).content.decode()
    assert import_job_task(job.pk) == "skipped"
    assert version.rate_lines.count() == 2


def test_a_refused_rate_card_names_sheet_row_and_field_and_keeps_the_old_card(client_as):
    version = ContractFactory().versions.get()
    client = client_as(Role.FINANCE_SPECIALIST)
    _post(
        client,
        reverse("vendors:rate_card_import", args=[version.pk]),
        {"file": SimpleUploadedFile("c.xlsx", xlsx(GOOD))},
    )
    bad = GOOD + [["standard", "GB-LON", "GB-SCO", 10, 5, "abc", 0, 1, 0]]
    _post(
        client,
        reverse("vendors:rate_card_import", args=[version.pk]),
        {"file": SimpleUploadedFile("c.xlsx", xlsx(bad))},
    )
    job = ImportJob.objects.get(status="refused")
    report = list(
        csv.reader(io.StringIO(_download(client, reverse("import_job_errors", args=[job.pk, "csv"])).decode()))
    )
    assert report[1:] == [
        ["Rate lines", "4", "base_price", "'abc' is not a number"],
        ["Rate lines", "4", "weight_to_kg", "must be greater than weight_from_kg"],
    ]
    assert "Rate lines row 4" in client.get(reverse("import_job", args=[job.pk])).content.decode()
    assert version.rate_lines.count() == 2  # the first file's card, untouched


def test_wrong_roles_are_refused_and_jobs_of_other_doors_look_missing(client_as, client, user_with_role):
    version = ContractFactory().versions.get()
    url = reverse("vendors:rate_card_import", args=[version.pk])
    auditor = client_as(Role.AUDITOR)
    assert _post(auditor, url, {"file": SimpleUploadedFile("c.xlsx", xlsx(GOOD))}).status_code == 403
    assert (
        _post(
            auditor,
            reverse("receivables:receipt_list"),
            {"action": "import", "market": "GB", "file": SimpleUploadedFile("b.csv", _statement(2, bad=False))},
        ).status_code
        == 403
    )
    assert not ImportJob.objects.exists()
    # a file of the wrong type is refused on the form, before any job is stored
    specialist = client_as(Role.FINANCE_SPECIALIST)
    refused = _post(specialist, url, {"file": SimpleUploadedFile("c.xlsx", b"%PDF-1.7 not a workbook")})
    assert refused.status_code == 400 and "not an Excel workbook" in refused.content.decode()
    assert not ImportJob.objects.exists()
    _post(specialist, url, {"file": SimpleUploadedFile("c.xlsx", xlsx(GOOD))})
    job = ImportJob.objects.get()
    # support staff may not change contracts: the job answers as a missing one would
    support = client_as(Role.SUPPORT_TIER1)
    assert support.get(reverse("import_job", args=[job.pk])).status_code == 404
    assert support.get(reverse("import_job", args=[job.pk + 1000])).status_code == 404
    assert support.get(reverse("import_job_errors", args=[job.pk, "csv"])).status_code == 404
    client.force_login(user_with_role(Role.SELLER_USER))
    assert client.get(reverse("import_job", args=[job.pk])).status_code == 403


def test_the_invoice_import_offers_the_same_error_report(client_as):
    from tests.payables.helpers import setup_vendor

    vendor, _rate_line, specialist = setup_vendor()
    job = InvoiceImport.objects.create(
        vendor=vendor,
        filename="inv.csv",
        content=b"x",
        sha256="0" * 64,
        status=InvoiceImport.Status.REFUSED,
        errors=[{"row": n, "field": "net", "message": "@SUM(A1) is not a number"} for n in range(2, 152)],
        error_count=150,
        uploaded_by=specialist,
    )
    client = client_as(Role.FINANCE_SPECIALIST)
    page = client.get(reverse("payables:import_detail", args=[job.pk])).content.decode()
    assert "The first 100 of 150 are listed" in page and page.count("is not a number") == 100
    report = list(
        csv.reader(io.StringIO(_download(client, reverse("payables:import_errors", args=[job.pk, "csv"])).decode()))
    )
    assert len(report) == 151 and report[150] == ["", "151", "net", "'@SUM(A1) is not a number"]


def test_the_sweep_runs_a_job_whose_message_was_lost_and_resumes_a_dead_one(user_with_role):
    version = ContractFactory().versions.get()
    start = dict(actor=user_with_role(Role.FINANCE_SPECIALIST), kind="vendors.rate_card", target=version.pk)
    # never sent: the test's transaction never commits, so the on-commit message is lost
    lost = import_job_start(**start, filename="a.xlsx", content=xlsx(GOOD))
    assert lost.status == ImportJob.Status.QUEUED
    assert import_jobs_sweep() == []  # just queued: its message may still come
    later = timezone.now() + timedelta(minutes=5)
    assert import_jobs_sweep(now=later) == [lost.pk]
    lost.refresh_from_db()
    assert (lost.status, lost.progress_percent, version.rate_lines.count()) == ("done", 100, 2)
    # a worker died mid-run an hour ago: its transaction wrote nothing, so it runs again
    dead = import_job_start(**start, filename="b.xlsx", content=xlsx(GOOD[:1]))
    ImportJob.objects.filter(pk=dead.pk).update(status="running", started_at=later - timedelta(hours=1))
    assert import_jobs_sweep(now=later) == [dead.pk]
    dead.refresh_from_db()
    assert (dead.status, dead.total_rows, version.rate_lines.count()) == ("done", 1, 1)
    assert import_jobs_sweep(now=later) == []


def test_it_imports_a_bank_statement_through_the_api_once_per_key(api_as):
    api = api_as(Role.INTEGRATION)
    body = {"kind": "receivables.bank_statement", "target": "GB"}

    def post(content, key="stmt-1", **extra):
        with TestCase.captureOnCommitCallbacks(execute=True):
            return api.post(
                "/api/import-jobs/",
                {**body, **extra, "file": SimpleUploadedFile("bank.csv", content)},
                format="multipart",
                HTTP_IDEMPOTENCY_KEY=key,
            )

    started = post(_statement(3, bad=False))
    assert started.status_code == 202, started.content
    job = api.get(f"/api/import-jobs/{started.json()['id']}/").json()
    assert (job["status"], job["progress_percent"], job["processed_rows"], job["problems_url"]) == (
        "done",
        100,
        3,
        None,
    )
    assert job["result"]["created"] == 3
    assert sorted(Receipt.objects.values_list("amount", flat=True)) == [D("10.05")] * 3
    # a retried request replays the first answer; nothing is imported twice
    again = post(_statement(3, bad=False))
    assert again.content == started.content and again["Idempotent-Replayed"] == "true"
    assert (ImportJob.objects.count(), Receipt.objects.count()) == (1, 3)
    # an unknown target or kind names the field; a door the role may not use is refused
    assert post(_statement(1, bad=False), key="k2", target="XX").json()["error"]["field"] == "target"
    assert post(_statement(1, bad=False), key="k3", kind="nope").json()["error"]["field"] == "kind"
    version = ContractFactory().versions.get()
    card = post(xlsx(GOOD), key="k4", kind="vendors.rate_card", target=str(version.pk))
    assert card.status_code == 403 and ImportJob.objects.count() == 1
