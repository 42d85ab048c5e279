"""Shipment intake through the API (JSON and CSV), billing run and charge-line endpoints, the
Excel export and the pages — through the doors users use."""

from decimal import Decimal
from io import BytesIO

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from billing.models import BillingRun, ChargeLine, Shipment, ShipmentEvent
from settlement_ops.roles import Role
from tests.billing.helpers import gb_setup, make_shipment
from tests.factories import SellerFactory, VendorFactory, market

D = Decimal


def _record(vendor_obj, seller_obj, **overrides):
    record = {
        "tracking_number": "PN7734100012GB",
        "vendor": vendor_obj.code,
        "seller": seller_obj.code,
        "market": "GB",
        "service": "STD",
        "origin_zone": "LDN",
        "destination_zone": "LDN",
        "actual_weight_kg": "1.200",
        "length_cm": "30",
        "width_cm": "20",
        "height_cm": "10",
        "cod_amount": "0",
        "ship_date": "2026-11-02",
        "events": [
            {"status": "picked_up", "at": "2026-11-02T09:00:00Z"},
            {"status": "delivered", "at": "2026-11-03T14:30:00Z"},
        ],
    }
    record.update(overrides)
    return record


@pytest.mark.django_db
def test_bulk_intake_accepts_good_records_and_reports_each_rejection(api_as):
    # given
    vendor = VendorFactory(market=market("GB"))
    seller = SellerFactory(market=market("GB"))
    de_seller = SellerFactory(market=market("DE"))
    api = api_as(Role.INTEGRATION)
    records = [
        _record(vendor, seller),
        _record(vendor, seller, tracking_number="T2", actual_weight_kg="-1"),
        _record(vendor, seller, tracking_number="T3", vendor="NOPE"),
        _record(vendor, seller, tracking_number="T4", ship_date="02/11/2026"),
        _record(vendor, seller, tracking_number="T5", width_cm=""),
        _record(vendor, de_seller, tracking_number="T6"),
        _record(vendor, seller, tracking_number="T7", currency="EUR"),
        _record(vendor, seller, tracking_number="T8", events=[{"status": "teleported", "at": "2026-11-02T09:00:00Z"}]),
        _record(vendor, seller, tracking_number="T9", cod_amount="10.005"),
        _record(vendor, seller, tracking_number="T10", actual_weight_kg=None),  # accepted: weight may come later
        _record(vendor, seller),  # same tracking number again in this request
    ]
    # when
    response = api.post("/api/shipments/bulk/", records, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["accepted"], body["created"], body["updated"]) == (2, 2, 0)
    assert body["rejected"] == [
        {"index": 1, "field": "actual_weight_kg", "reason": "must be greater than zero"},
        {"index": 2, "field": "vendor", "reason": "unknown vendor 'NOPE'"},
        {"index": 3, "field": "ship_date", "reason": "'02/11/2026' is not a YYYY-MM-DD date"},
        {"index": 4, "field": "width_cm", "reason": "give all three dimensions or none"},
        {"index": 5, "field": "seller", "reason": f"seller {de_seller.code} belongs to market DE, not GB"},
        {"index": 6, "field": "currency", "reason": "market GB uses GBP, not EUR"},
        {"index": 7, "field": "events[0].status", "reason": "unknown status 'teleported'"},
        {"index": 8, "field": "cod_amount", "reason": "has more decimals than GBP allows"},
        {
            "index": 10,
            "field": "tracking_number",
            "reason": "duplicate of record 0 in this request (same vendor and tracking number)",
        },
    ]
    shipment = Shipment.objects.get(tracking_number="PN7734100012GB")
    assert (shipment.status, shipment.actual_weight_kg, shipment.revision) == ("delivered", D("1.200"), 1)
    assert ShipmentEvent.objects.filter(shipment=shipment).count() == 2
    assert Shipment.objects.get(tracking_number="T10").actual_weight_kg is None
    # the same key replays the first answer and writes nothing
    replay = api.post("/api/shipments/bulk/", records, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    assert replay.json() == body and replay["Idempotent-Replayed"] == "true"
    assert Shipment.objects.count() == 2


@pytest.mark.django_db
def test_resending_updates_never_duplicates(api_as):
    # given
    vendor = VendorFactory(market=market("GB"))
    seller = SellerFactory(market=market("GB"))
    api = api_as(Role.INTEGRATION)
    api.post("/api/shipments/bulk/", [_record(vendor, seller)], format="json")
    # when: re-sent unchanged, then with a new weight and a return event
    same = api.post("/api/shipments/bulk/", [_record(vendor, seller)], format="json").json()
    changed = api.post(
        "/api/shipments/bulk/",
        [
            _record(
                vendor,
                seller,
                actual_weight_kg="1.5",
                events=[
                    {"status": "delivered", "at": "2026-11-03T14:30:00Z"},
                    {"status": "returned", "at": "2026-11-06T10:00:00Z"},
                ],
            )
        ],
        format="json",
    ).json()
    # then
    assert (same["unchanged"], same["created"], same["updated"]) == (1, 0, 0)
    assert (changed["updated"], changed["created"]) == (1, 0)
    shipment = Shipment.objects.get()
    assert (shipment.actual_weight_kg, shipment.status, shipment.is_return, shipment.revision) == (
        D("1.500"),
        "returned",
        True,
        2,
    )
    assert shipment.events.count() == 3


@pytest.mark.django_db
def test_csv_upload_names_rows_and_keeps_good_ones(api_as):
    # given
    vendor = VendorFactory(market=market("GB"))
    seller = SellerFactory(market=market("GB"))
    api = api_as(Role.INTEGRATION)
    csv_text = (
        "tracking_number,vendor,seller,service,origin_zone,destination_zone,actual_weight_kg,cod_amount,ship_date,status,status_at\n"
        f"C1,{vendor.code},{seller.code},STD,LDN,SCO,2.6,12.50,2026-11-02,delivered,2026-11-03T10:00:00\n"
        f"C2,{vendor.code},{seller.code},STD,LDN,SCO,abc,0,2026-11-02,delivered,\n"
        f"C3,{vendor.code},{seller.code},STD,LDN,SCO,0.8,0,2026-11-02,in_transit,\n"
    )
    upload = SimpleUploadedFile("shipments.csv", csv_text.encode(), content_type="text/csv")
    # when
    response = api.post("/api/shipments/upload/", {"file": upload}, format="multipart")
    # then
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 2
    assert response.json()["rejected"] == [{"index": 1, "field": "actual_weight_kg", "reason": "'abc' is not a number"}]
    assert Shipment.objects.get(tracking_number="C1").cod_amount == D("12.50")


@pytest.mark.django_db
def test_csv_without_required_columns_is_refused_whole(api_as):
    api = api_as(Role.INTEGRATION)
    upload = SimpleUploadedFile("s.csv", b"tracking_number,vendor\nX,Y\n", content_type="text/csv")
    response = api.post("/api/shipments/upload/", {"file": upload}, format="multipart")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_header"
    assert "seller" in response.json()["error"]["message"]


@pytest.mark.django_db
def test_seller_users_and_auditors_cannot_push_shipments(api_as, seller_user):
    assert api_as(Role.AUDITOR).post("/api/shipments/bulk/", [], format="json").status_code == 403
    assert api_as(None, user=seller_user).get("/api/shipments/").status_code == 403


@pytest.mark.django_db
def test_run_api_start_list_lines_and_exceptions(api_as, django_capture_on_commit_callbacks):
    # given
    vendor, seller, _, _ = gb_setup()
    shipment = make_shipment(vendor=vendor, seller=seller, weight="1")
    make_shipment(vendor=vendor, seller=seller, weight=None)
    api = api_as(Role.FINANCE_SPECIALIST)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/billing-runs/", {"market": "GB", "business_date": "2026-11-10"}, format="json")
    # then
    assert response.status_code == 201, response.content
    run_id = response.json()["id"]
    run = api.get(f"/api/billing-runs/{run_id}/").json()
    assert (run["status"], run["shipments_rated"], run["exception_count"], run["vendor_net_total"]) == (
        "completed",
        1,
        1,
        "3.9500",
    )
    lines = api.get(f"/api/charge-lines/?run={run_id}").json()["results"]
    assert [(line["tracking_number"], line["vendor_net"], line["seller_net"], line["margin"]) for line in lines] == [
        (shipment.tracking_number, "3.9500", "4.9900", "1.0400")
    ]
    exceptions = api.get(f"/api/rating-exceptions/?run={run_id}").json()["results"]
    assert [(e["code"], e["reason"]) for e in exceptions] == [("missing_weight", "Missing weight")]
    detail = api.get(f"/api/shipments/{shipment.pk}/").json()
    assert [line["generation"] for line in detail["charge_lines"]] == [1]
    # auditors read but cannot start
    assert (
        api_as(Role.AUDITOR)
        .post("/api/billing-runs/", {"market": "GB", "business_date": "2026-11-10"}, format="json")
        .status_code
        == 403
    )


@pytest.mark.django_db
def test_run_api_refuses_a_future_date(api_as):
    api = api_as(Role.FINANCE_APPROVER)
    response = api.post("/api/billing-runs/", {"market": "GB", "business_date": "2999-01-01"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "future_date",
        "message": "2999-01-01 is in the future in GB.",
        "field": "business_date",
    }


@pytest.mark.django_db
def test_run_pages_and_excel_export(client_as, django_capture_on_commit_callbacks):
    # given
    vendor, seller, _, _ = gb_setup()
    make_shipment(vendor=vendor, seller=seller, weight="2.3", tracking="=HYPERLINK(1)")
    make_shipment(vendor=vendor, seller=seller, weight=None, tracking="NOWEIGHT1")
    client = client_as(Role.FINANCE_SPECIALIST)
    # when: started from the page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("billing:run_start"), {"market": "GB", "business_date": "2026-11-10"})
    run = BillingRun.objects.get()
    # then
    assert response.status_code == 302 and response["Location"] == reverse("billing:run_detail", args=[run.pk])
    page = client.get(reverse("billing:run_detail", args=[run.pk]))
    assert page.status_code == 200
    assert b"NOWEIGHT1" in page.content and b"Missing weight" in page.content and b"5.85" in page.content
    filtered = client.get(reverse("billing:run_detail", args=[run.pk]) + "?ex-code=no_contract")
    assert b"NOWEIGHT1" not in filtered.content
    workbook = openpyxl.load_workbook(
        BytesIO(b"".join(client.get(reverse("billing:run_export", args=[run.pk])).streaming_content))
    )
    sheet = workbook["Charge lines"]
    header = [c.value for c in sheet[3]]
    row = [c.value for c in sheet[4]]
    assert row[header.index("Tracking number")] == "'=HYPERLINK(1)"  # formula injection neutralised
    assert row[header.index("Freight")] == 5.85 and row[header.index("Vendor net")] == 5.85
    assert row[header.index("Seller net")] == 6.34 and row[header.index("Margin")] == pytest.approx(0.49)
    assert [c.value for c in workbook["Exceptions"][4]][:3] == ["NOWEIGHT1", vendor.code, "Missing weight"]
    shipment_page = client.get(reverse("billing:shipment_list") + "?q=NOWEIGHT")
    assert b"NOWEIGHT1" in shipment_page.content
    line = ChargeLine.objects.get()
    detail = client.get(reverse("billing:shipment_detail", args=[line.shipment_id]))
    assert b"Rating history" in detail.content and b"Current charge" in detail.content


@pytest.mark.django_db
def test_bulk_intake_refuses_json_numbers_with_a_fraction_for_amounts_weights_and_sizes(api_as):
    # given: 1.5 and 30.0 are JSON numbers, which arrive as binary floats; "1.50" is a decimal string
    vendor = VendorFactory(market=market("GB"))
    seller = SellerFactory(market=market("GB"))
    api = api_as(Role.INTEGRATION)
    records = [
        _record(vendor, seller, tracking_number="F1", cod_amount=1.5),
        _record(vendor, seller, tracking_number="F2", actual_weight_kg=1.5),
        _record(vendor, seller, tracking_number="F3", length_cm=30.0),
        _record(vendor, seller, tracking_number="F4", actual_weight_kg="1.50", cod_amount="1.50"),
        _record(vendor, seller, tracking_number="F5", actual_weight_kg=2, cod_amount=0),  # whole numbers are exact
        _record(vendor, seller, tracking_number="F6", cod_amount=True),
    ]
    # when
    response = api.post("/api/shipments/bulk/", records, format="json")
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    reason = 'must be sent as a decimal string such as "1.50", not a JSON number with a fraction'
    assert body["rejected"] == [
        {"index": 0, "field": "cod_amount", "reason": reason},
        {"index": 1, "field": "actual_weight_kg", "reason": reason},
        {"index": 2, "field": "length_cm", "reason": reason},
        {"index": 5, "field": "cod_amount", "reason": "must be a number"},
    ]
    assert body["accepted"] == 2
    assert not Shipment.objects.filter(tracking_number__in=["F1", "F2", "F3", "F6"]).exists()
    strings = Shipment.objects.get(tracking_number="F4")
    assert (strings.actual_weight_kg, strings.cod_amount) == (D("1.500"), D("1.50"))
    assert Shipment.objects.get(tracking_number="F5").actual_weight_kg == D("2.000")


@pytest.mark.django_db
def test_bulk_intake_refuses_a_body_that_is_not_a_json_list_and_leaves_collection_on(api_as):
    # given
    import gc

    vendor = VendorFactory(market=market("GB"))
    seller = SellerFactory(market=market("GB"))
    api = api_as(Role.INTEGRATION)
    # when: broken JSON, a JSON object, a form, no body at all
    broken = api.post("/api/shipments/bulk/", '[{"tracking_number": "X1",', content_type="application/json")
    an_object = api.post("/api/shipments/bulk/", _record(vendor, seller), format="json")
    a_form = api.post("/api/shipments/bulk/", {"tracking_number": "X2"})
    empty = api.post("/api/shipments/bulk/", "", content_type="application/json")
    # then: each refused whole, saying what is wrong; nothing stored; collection resumed
    assert broken.status_code == 400 and "JSON parse error" in str(broken.json()), broken.content
    for response in (an_object, a_form, empty):
        assert response.status_code == 400, response.content
        assert "Send a JSON list of shipments." in str(response.json())
    assert not Shipment.objects.exists()
    assert gc.isenabled()
    # and a list in the same session is taken
    good = api.post("/api/shipments/bulk/", [_record(vendor, seller)], format="json")
    assert good.status_code == 200 and good.json()["created"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize("idempotency_key", [None, "big-batch-1"])
def test_bulk_intake_refuses_a_body_over_the_upload_limit_before_parsing_it(api_as, settings, idempotency_key):
    # given a limit of 4 KB and a batch of 20 records (about 9 KB)
    from settlement_ops.models import IdempotencyRecord

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    vendor = VendorFactory(market=market("GB"))
    seller = SellerFactory(market=market("GB"))
    api = api_as(Role.INTEGRATION)
    records = [_record(vendor, seller, tracking_number=f"BIG{n}") for n in range(20)]
    headers = {"HTTP_IDEMPOTENCY_KEY": idempotency_key} if idempotency_key else {}
    # when
    response = api.post("/api/shipments/bulk/", records, format="json", **headers)
    # then: 413 with a sentence naming the limit, nothing stored, no key held
    assert response.status_code == 413, response.content
    assert "The request body is larger than 4 KB; split the batch." in str(response.json())
    assert not Shipment.objects.exists()
    assert not IdempotencyRecord.objects.exists()
    # and a batch under the limit is taken
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
    assert api.post("/api/shipments/bulk/", records, format="json", **headers).json()["created"] == 20
