"""Compensation intake through the API and the upload page: idempotency, per-record errors, files
all or nothing, pseudonymous buyers, the market's currency only."""

import io

import pytest
from django.urls import reverse
from openpyxl import Workbook

from compensation.intake import COLUMNS
from compensation.models import CompensationRequest
from settlement_ops.roles import Role
from tests.compensation.helpers import World

pytestmark = pytest.mark.django_db
URL = "/api/compensation-requests/bulk/"


@pytest.fixture
def world():
    return World()


def test_bulk_stores_accepted_and_reports_rejected_by_index_and_field(api_as, world):
    # given
    shipment = world.shipment(("picked_up", world_day(0)))
    records = [
        world.record(tracking_number=shipment.tracking_number),
        world.record(currency="EUR"),
        world.record(amount="-5.00"),
        world.record(amount="0"),
        world.record(buyer_reference="jane.doe@example.com"),
        world.record(buyer_reference="+44 20 7946 0958"),
        world.record(buyer_reference="Jane Doe"),
        world.record(amount=12.5),
        world.record(tracking_number="NOT-OURS-1"),
    ]
    client = api_as(Role.INTEGRATION)
    # when
    response = client.post(URL, records, format="json")
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["created"] == 2
    rejected = {(r["index"], r["field"]) for r in body["rejected"]}
    assert rejected == {
        (1, "currency"),
        (2, "amount"),
        (3, "amount"),
        (4, "buyer_reference"),
        (5, "buyer_reference"),
        (6, "buyer_reference"),
        (7, "amount"),
    }
    wrong_currency = next(r for r in body["rejected"] if r["index"] == 1)
    assert wrong_currency["reason"] == "market GB compensates in GBP, not EUR"
    linked = CompensationRequest.objects.get(external_id=records[0]["external_id"])
    assert linked.shipment == shipment
    unknown = CompensationRequest.objects.get(external_id=records[8]["external_id"])
    assert unknown.shipment is None and unknown.tracking_number == "NOT-OURS-1"


def world_day(offset):
    from tests.compensation.helpers import SHIP

    return SHIP.replace(day=SHIP.day + offset)


def test_a_resent_batch_creates_nothing_and_a_replayed_key_returns_the_first_answer(api_as, world):
    # given
    client = api_as(Role.INTEGRATION)
    records = [world.record(), world.record()]
    first = client.post(URL, records, format="json", HTTP_IDEMPOTENCY_KEY="batch-1").json()
    # when
    again = client.post(URL, records, format="json")
    replay = client.post(URL, records, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    other = client.post(URL, [world.record()], format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    # then
    assert first["created"] == 2
    assert again.json()["unchanged"] == 2 and again.json()["created"] == 0
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == first
    assert other.status_code == 422
    assert CompensationRequest.objects.count() == 2


def test_an_audited_request_cannot_change(api_as, world):
    # given
    client = api_as(Role.INTEGRATION)
    record = world.record()
    client.post(URL, [record], format="json")
    world.audit()
    # when
    body = client.post(URL, [{**record, "amount": "21.00"}], format="json").json()
    # then
    assert body["accepted"] == 0
    assert body["rejected"][0]["field"] == "amount"
    assert "already audited" in body["rejected"][0]["reason"]


def test_support_reads_but_cannot_push(api_as, world):
    assert api_as(Role.SUPPORT_TIER1).post(URL, [world.record()], format="json").status_code == 403
    assert api_as(Role.SUPPORT_TIER1).get("/api/compensation-requests/").status_code == 200


def _csv(rows) -> bytes:
    lines = [",".join(COLUMNS)]
    for row in rows:
        lines.append(",".join(str(row.get(c, "")) for c in COLUMNS))
    return ("\n".join(lines) + "\n").encode()


def test_api_upload_is_all_or_nothing(api_as, world):
    # given
    client = api_as(Role.INTEGRATION)
    good, bad = world.record(evidence="a;b"), world.record(currency="IDR")
    from django.core.files.uploadedfile import SimpleUploadedFile

    # when
    refused = client.post(
        "/api/compensation-requests/upload/",
        {"file": SimpleUploadedFile("c.csv", _csv([good, bad]))},
        format="multipart",
    )
    accepted = client.post(
        "/api/compensation-requests/upload/",
        {"file": SimpleUploadedFile("c.csv", _csv([good]))},
        format="multipart",
    )
    # then
    assert refused.status_code == 422
    assert refused.json()["rejected"] == [
        {"index": 1, "field": "currency", "reason": "market GB compensates in GBP, not IDR"}
    ]
    assert accepted.status_code == 200 and accepted.json()["created"] == 1
    assert CompensationRequest.objects.get().evidence == ["a", "b"]


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("c.pdf", b"%PDF-1.4", "Upload a .csv or .xlsx file."),
        ("c.csv", b"\xff\xfe\x00bad", "The file is not UTF-8 text."),
        ("c.csv", b"market,amount\nGB,1\n", "The header lacks column(s)"),
        ("c.xlsx", b"not a zip", "The file is not a readable .xlsx workbook."),
    ],
)
def test_bad_files_are_refused_with_a_sentence(client_as, world, name, content, message):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = client_as(Role.COMPENSATION_QA)
    response = client.post(reverse("compensation:upload"), {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert CompensationRequest.objects.count() == 0


def test_hostile_uploads_are_refused_by_the_guarded_reader_and_nothing_is_stored(api_as, client_as, world):
    # given: a PDF named .xlsx, and a few KB of xlsx declaring a 16,384 x 1,048,576 sheet
    from django.core.files.uploadedfile import SimpleUploadedFile

    from compensation.models import IntakeUpload
    from tests.settlement_ops.test_uploads import dimension_bomb

    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n"
    bomb = dimension_bomb(header=tuple(COLUMNS))
    # when
    api = api_as(Role.INTEGRATION).post(
        "/api/compensation-requests/upload/",
        {"file": SimpleUploadedFile("requests.xlsx", pdf)},
        format="multipart",
    )
    page = client_as(Role.COMPENSATION_QA).post(
        reverse("compensation:upload"), {"file": SimpleUploadedFile("requests.xlsx", bomb)}
    )
    # then
    assert api.status_code == 400
    assert api.json()["error"] == {
        "code": "bad_file",
        "message": "The file is not a readable .xlsx workbook.",
        "field": "file",
    }
    assert page.status_code == 200
    assert "The file has more than 10,001 rows; split it into smaller files." in page.content.decode()
    assert CompensationRequest.objects.count() == 0
    assert IntakeUpload.objects.count() == 0


def test_upload_page_previews_then_imports_an_xlsx(client_as, world):
    # given
    from django.core.files.uploadedfile import SimpleUploadedFile

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(COLUMNS)
    for record in (world.record(), world.record(reason="damaged")):
        sheet.append([str(record.get(c, "")) if c != "evidence" else "photo-1" for c in COLUMNS])
    data = io.BytesIO()
    workbook.save(data)
    client = client_as(Role.COMPENSATION_QA)
    # when
    preview = client.post(reverse("compensation:upload"), {"file": SimpleUploadedFile("r.xlsx", data.getvalue())})
    # then
    assert preview.status_code == 200
    assert "2 rows ready" in preview.content.decode()
    assert CompensationRequest.objects.count() == 0
    upload = preview.context["upload"]
    confirmed = client.post(reverse("compensation:upload_confirm", args=[upload.pk]))
    assert confirmed.status_code == 302
    assert CompensationRequest.objects.filter(source="xlsx").count() == 2
