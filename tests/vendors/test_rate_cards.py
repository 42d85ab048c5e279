"""Rate-card Excel import (all or nothing, row-by-row errors), export round trip, quote page and API."""

import io
from datetime import date
from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from settlement_ops.models import ImportJob
from tests.factories import ContractFactory, RateLineFactory
from tests.vendors.helpers import gb_card
from vendors.models import RateLine, Surcharge

pytestmark = pytest.mark.django_db

HEADER = [
    "service_level",
    "origin_zone",
    "destination_zone",
    "weight_from_kg",
    "weight_to_kg",
    "base_price",
    "price_per_additional_kg",
    "additional_step_kg",
    "minimum_charge",
]
S_HEADER = [
    "kind",
    "percent",
    "flat_amount",
    "valid_from",
    "valid_to",
    "zone",
    "dimension_threshold_cm",
    "minimum_amount",
]
GOOD = [
    ["standard", "GB-LON", "GB-SCO", 0, 1, 3.5, 0, 1, 0],
    ["standard", "GB-LON", "GB-SCO", 1, 10, 4.2, 0.8, 0.5, 0],
]
GOOD_S = [
    ["fuel", 12.5, None, date(2026, 1, 1), None, None, None, None],
    ["remote_area", None, 2.75, None, None, "GB-SCO", None, None],
]


def xlsx(lines, surcharges=None, header=HEADER, s_header=S_HEADER) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "Rate lines"
    ws.append(header)
    for row in lines:
        ws.append(row)
    if surcharges is not None:
        ss = wb.create_sheet("Surcharges")
        ss.append(s_header)
        for row in surcharges:
            ss.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def upload(client, version, content, name="card.xlsx"):
    """Through the page and the background job it starts (run in-process after commit, as in the demo)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            reverse("vendors:rate_card_import", args=[version.pk]), {"file": SimpleUploadedFile(name, content)}
        )


def outcome(client, response) -> str:
    """The page that tells the outcome: the form itself (refused at once), else the job's page."""
    return (client.get(response["Location"]) if response.status_code == 302 else response).content.decode()


def test_good_file_replaces_the_draft_card(client_as):
    contract = ContractFactory()
    version = contract.versions.get()
    RateLineFactory(version=version, origin_zone="OLD", destination_zone="OLD")
    response = upload(client_as("finance_specialist"), version, xlsx(GOOD, GOOD_S))
    assert response.status_code == 302
    lines = list(
        version.rate_lines.order_by("weight_from_kg").values_list(
            "weight_from_kg", "weight_to_kg", "base_price", "additional_step_kg"
        )
    )
    assert lines == [(D("0"), D("1"), D("3.5"), D("1")), (D("1"), D("10"), D("4.2"), D("0.5"))]
    fuel = version.surcharges.get(kind="fuel")
    assert (fuel.percent, fuel.valid_from, fuel.minimum_amount) == (D("12.5"), date(2026, 1, 1), D("0"))
    assert version.surcharges.get(kind="remote_area").flat_amount == D("2.75")


def test_bad_rows_import_nothing_and_are_listed(client_as):
    # given a draft with one existing line and a file with several bad rows
    contract = ContractFactory()
    version = contract.versions.get()
    RateLineFactory(version=version)
    bad = GOOD + [
        ["standard", "GB-LON", "GB-SCO", 10, 5, 9, 0, 1, 0],  # row 4: to below from
        ["standard", "GB-LON", "GB-SCO", 5, 20, "abc", 0, 1, 0],  # row 5: not a number (and overlaps row 3)
        ["express", "GB-LON", "GB-SCO", 30, 40, 9, 0, 0, 0],  # row 6: wrong service level, step 0
    ]
    bad_s = [["fuel", 10, 2, None, None, None, None, None], ["oversize", None, 8, None, None, None, None, None]]
    # when
    client = client_as("finance_specialist")
    response = upload(client, version, xlsx(bad, bad_s))
    # then: the job refused the file, naming sheet, row and field
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.REFUSED
    errors = [(f"{e['sheet']} row {e['row']}", e["field"], e["message"]) for e in job.errors]
    assert errors == [
        ("Rate lines row 4", "weight_to_kg", "must be greater than weight_from_kg"),
        ("Rate lines row 5", "weight_from_kg", "bracket (5, 20] overlaps row 3 (1, 10] of standard GB-LON->GB-SCO"),
        ("Rate lines row 6", "additional_step_kg", "must be greater than zero"),
        ("Rate lines row 6", "service_level", "must be the contract's service level 'standard'"),
        ("Surcharges row 2", "percent", "give either percent or flat_amount, not both or neither"),
        ("Surcharges row 3", "dimension_threshold_cm", "an oversize surcharge needs a dimension threshold above 0"),
    ]
    page = outcome(client, response)
    assert "6 problems — nothing was imported" in page
    assert "6 problems in the file; nothing was imported." in page
    assert version.rate_lines.count() == 1 and version.rate_lines.get().origin_zone == "GB-LON"
    assert not version.surcharges.exists()


def test_not_a_number_is_named(api_as):
    version = ContractFactory().versions.get()
    api = api_as("finance_specialist")
    rows = [["standard", "A", "B", 0, 1, "abc", 0, 1, 0]]
    response = api.post(
        f"/api/contract-versions/{version.pk}/rate-card/",
        {"file": SimpleUploadedFile("c.xlsx", xlsx(rows))},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["error"]["errors"] == [
        {"sheet": "Rate lines", "row": 2, "field": "base_price", "message": "'abc' is not a number"}
    ]
    assert not RateLine.objects.filter(version=version).exists()


@pytest.mark.parametrize(
    "content, name, status, message",
    [
        # a wrong type is refused on the form (400); a workbook's rows by its job (302 to the job's page)
        (b"not a spreadsheet", "card.xlsx", 400, "The file is named .xlsx but is not an Excel workbook."),
        (b"a,b\n1,2", "card.csv", 400, "Upload a .xlsx file."),
        (b"PK\x03\x04 broken zip", "card.xlsx", 400, "The file is not a readable Excel .xlsx workbook."),
        (xlsx(GOOD, header=HEADER[:-1]), "card.xlsx", 302, "1 problem in the file; nothing was imported."),
    ],
)
def test_bad_files_import_nothing(client_as, content, name, status, message):
    version = ContractFactory().versions.get()
    client = client_as("finance_specialist")
    response = upload(client, version, content, name)
    assert response.status_code == status
    assert message in outcome(client, response)
    assert not version.rate_lines.exists()


def test_active_version_cannot_be_reimported(api_as):
    contract, version, _ = gb_card(surcharges=False)
    response = api_as("finance_specialist").post(
        f"/api/contract-versions/{version.pk}/rate-card/",
        {"file": SimpleUploadedFile("c.xlsx", xlsx(GOOD))},
        format="multipart",
    )
    assert response.status_code == 409
    assert response.json()["error"]["message"] == "Version 1 is active; only a draft can be changed."
    assert version.rate_lines.count() == 3


def test_export_round_trips_into_a_draft(client_as):
    # given an active card with every surcharge kind
    contract, version, _ = gb_card()
    auditor = client_as("auditor")
    exported = b"".join(auditor.get(reverse("vendors:rate_card_export", args=[version.pk])).streaming_content)
    sheet = load_workbook(io.BytesIO(exported), read_only=True)["Rate lines"]
    first = list(sheet.iter_rows(values_only=True))[1]
    assert first[:6] == ("standard", "GB-LON", "GB-SCO", 0, 1, 3.5)  # numbers stay numbers
    # when the file is imported into a new draft
    draft = ContractFactory(vendor=contract.vendor, service_level="standard").versions.get()
    response = upload(client_as("finance_specialist"), draft, exported)
    # then the draft has the same rate lines and surcharges
    assert response.status_code == 302
    fields = [
        "service_level",
        "origin_zone",
        "destination_zone",
        "weight_from_kg",
        "weight_to_kg",
        "base_price",
        "price_per_additional_kg",
        "additional_step_kg",
        "minimum_charge",
    ]
    s_fields = [
        "kind",
        "percent",
        "flat_amount",
        "valid_from",
        "valid_to",
        "zone",
        "dimension_threshold_cm",
        "minimum_amount",
    ]
    assert list(draft.rate_lines.order_by("weight_from_kg").values_list(*fields)) == list(
        version.rate_lines.order_by("weight_from_kg").values_list(*fields)
    )
    assert sorted(Surcharge.objects.filter(version=draft).values_list(*s_fields), key=str) == sorted(
        version.surcharges.values_list(*s_fields), key=str
    )


def test_quote_api_breakdown(api_as):
    contract, version, lines = gb_card()
    response = api_as("integration").post(
        "/api/quotes/",
        {
            "vendor": contract.vendor_id,
            "service_level": "standard",
            "origin_zone": "GB-LON",
            "destination_zone": "GB-SCO",
            "ship_date": "2026-12-01",
            "weight_kg": "5",
            "length_cm": "121",
            "width_cm": "10",
            "height_cm": "10",
            "cod_value": "123.45",
            "is_returned": True,
        },
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert [(line["kind"], line["amount"]) for line in body["lines"]] == [
        ("freight", "10.60"),
        ("fuel", "1.59"),
        ("remote_area", "2.75"),
        ("oversize", "8.00"),
        ("cod", "1.85"),
        ("peak", "0.53"),
        ("returns", "5.30"),
        ("vat", "6.12"),
    ]
    assert (body["net"], body["vat"], body["total"], body["currency"]) == ("30.62", "6.12", "36.74", "GBP")
    assert (body["contract_version_id"], body["rate_line_id"]) == (version.pk, lines[1].pk)


def test_quote_api_errors(api_as):
    contract, _, _ = gb_card()
    api = api_as("integration")
    base = {
        "vendor": contract.vendor_id,
        "service_level": "standard",
        "origin_zone": "GB-LON",
        "destination_zone": "GB-SCO",
        "ship_date": "2026-03-01",
    }
    response = api.post("/api/quotes/", {**base, "weight_kg": "0"}, format="json")
    assert response.json()["error"] == {
        "code": "bad_weight",
        "message": "Weight must be greater than zero.",
        "field": "weight_kg",
    }
    response = api.post("/api/quotes/", {**base, "weight_kg": "31"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "no_rate_line"
    response = api.post("/api/quotes/", {**base, "ship_date": "2025-12-31", "weight_kg": "1"}, format="json")
    assert response.json()["error"]["code"] == "no_contract"
    assert api_as("seller_user").post("/api/quotes/", {**base, "weight_kg": "1"}, format="json").status_code == 403


def test_quote_page(client_as):
    contract, version, lines = gb_card()
    page = client_as("finance_specialist").get(
        reverse("vendors:quote"),
        {
            "vendor": contract.vendor_id,
            "service_level": "standard",
            "origin_zone": "GB-LON",
            "destination_zone": "GB-SCO",
            "ship_date": "2026-03-10",
            "weight_kg": "5",
        },
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert f"{contract.reference}" in html and f"#{lines[1].pk}" in html
    assert "12.5% of 10.6" in html and "17.62" in html
    bad = client_as("finance_specialist").get(
        reverse("vendors:quote"),
        {
            **{
                "vendor": contract.vendor_id,
                "service_level": "standard",
                "origin_zone": "GB-LON",
                "destination_zone": "XX",
                "ship_date": "2026-03-10",
                "weight_kg": "5",
            }
        },
    )
    assert bad.status_code == 400 and "No rate line in" in bad.content.decode()


def test_rate_card_page_filters_and_paginates(client_as):
    contract, version, _ = gb_card()
    page = client_as("auditor").get(reverse("vendors:rate_card", args=[version.pk]), {"origin_zone": "GB-LON"})
    assert page.status_code == 200
    assert len(page.context["object_list"]) == 3
    assert "Peak season" in page.content.decode()
    assert "Import from Excel" not in page.content.decode()  # auditors read only
