"""Rate lines and surcharges as JSON: the same rows and validation as the xlsx import, all or
nothing, errors by list, row and field; the workbook and the rating rule are in the schema."""

from decimal import Decimal

import pytest
from drf_spectacular.generators import SchemaGenerator

from settlement_ops.models import AuditEvent
from tests.factories import ContractFactory
from vendors.models import RateLine, Surcharge

D = Decimal


def _line(**extra):
    return {
        "service_level": "standard",
        "origin_zone": "GB-LON",
        "destination_zone": "GB-LON",
        "weight_from_kg": "0",
        "weight_to_kg": "2",
        "base_price": "3.95",
        "price_per_additional_kg": "0",
        "additional_step_kg": "1",
        "minimum_charge": "0",
        **extra,
    }


@pytest.mark.django_db
def test_json_rate_card_replaces_the_draft_and_prices_to_the_cent(api_as, approver):
    # given a draft contract with an old line
    contract = ContractFactory()
    version = contract.versions.get()
    RateLine.objects.create(
        version=version,
        service_level="standard",
        origin_zone="OLD",
        destination_zone="OLD",
        weight_from_kg=D("0"),
        weight_to_kg=D("1"),
        base_price=D("1"),
        price_per_additional_kg=D("0"),
        minimum_charge=D("0"),
    )
    api = api_as("finance_specialist", user=contract.author)
    body = {
        "rate_lines": [
            _line(),
            _line(
                weight_from_kg="2",
                weight_to_kg="30",
                base_price=4.20,  # a JSON number is read exactly, as the xlsx import reads cells
                price_per_additional_kg="0.55",
                additional_step_kg="0.5",
                minimum_charge="4.50",
            ),
        ],
        "surcharges": [{"kind": "fuel", "percent": "8.5"}, {"kind": "cod", "flat_amount": "1.25"}],
    }
    # when
    response = api.post(f"/api/contract-versions/{version.pk}/rates/", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    # then: the card is replaced, once, whatever the retries
    assert response.status_code == 200, response.content
    assert response.json() == {"rate_lines": 2, "surcharges": 2}
    retry = api.post(f"/api/contract-versions/{version.pk}/rates/", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert retry.content == response.content and retry["Idempotent-Replayed"] == "true"
    assert AuditEvent.objects.filter(action="rate_card_replace", object_id=str(version.pk)).count() == 1
    lines = list(version.rate_lines.order_by("weight_from_kg"))
    assert [(line.origin_zone, line.weight_to_kg, line.base_price) for line in lines] == [
        ("GB-LON", D("2.000"), D("3.9500")),
        ("GB-LON", D("30.000"), D("4.2000")),
    ]
    assert sorted(Surcharge.objects.filter(version=version).values_list("kind", "percent", "flat_amount")) == [
        ("cod", None, D("1.2500")),
        ("fuel", D("8.5000"), None),
    ]
    # and once approved, a 7 kg parcel quotes: 4.20 + ceil(5 / 0.5) x 0.55 = 9.70 freight, fuel
    # 8.5% = 0.82 (0.8245 half-up), total net 10.52, VAT 20% 2.10
    api.post(f"/api/contracts/{contract.pk}/submit/")
    assert api_as("finance_approver", user=approver).post(f"/api/contracts/{contract.pk}/approve/").status_code == 200
    quote = api_as("integration").post(
        "/api/quotes/",
        {
            "vendor": contract.vendor_id,
            "service_level": "standard",
            "origin_zone": "GB-LON",
            "destination_zone": "GB-LON",
            "ship_date": "2026-03-02",
            "weight_kg": "7",
        },
        format="json",
    )
    assert quote.status_code == 200, quote.content
    assert [(line["kind"], line["amount"]) for line in quote.json()["lines"]] == [
        ("freight", "9.70"),
        ("fuel", "0.82"),
        ("vat", "2.10"),
    ]
    # an approved version is not a draft any more
    api = api_as("finance_specialist", user=contract.author)
    again = api.post(f"/api/contract-versions/{version.pk}/rates/", body, format="json")
    assert again.status_code == 409
    # filters take the codes responses show: contract reference and vendor code
    listed = api.get(f"/api/rate-lines/?contract_reference={contract.reference}").json()["results"]
    assert sorted(row["base_price"] for row in listed) == ["3.9500", "4.2000"]
    assert api.get("/api/rate-lines/?contract_reference=C-NOPE").json()["results"] == []
    by_vendor = api.get(f"/api/contracts/?vendor_code={contract.vendor.code}&market=GB").json()["results"]
    assert [row["reference"] for row in by_vendor] == [contract.reference]
    assert [
        row["id"]
        for row in api.get(f"/api/contract-versions/?contract_reference={contract.reference}").json()["results"]
    ] == [version.pk]


@pytest.mark.django_db
def test_bad_json_rows_are_named_by_list_row_and_field_and_nothing_changes(api_as):
    version = ContractFactory().versions.get()
    api = api_as("finance_specialist")
    url = f"/api/contract-versions/{version.pk}/rates/"
    assert api.post(url, {"rate_lines": [_line()]}, format="json").status_code == 200
    # given: a bracket overlapping row 1, a price that is not a number, a wrong service level, a
    # surcharge with both percent and flat amount, and a remote-area surcharge without its zone
    body = {
        "rate_lines": [
            _line(),
            _line(weight_from_kg="1", weight_to_kg="5"),
            _line(weight_from_kg="5", weight_to_kg="10", base_price="abc"),
            _line(weight_from_kg="10", weight_to_kg="20", service_level="express"),
        ],
        "surcharges": [{"kind": "fuel", "percent": "5", "flat_amount": "1"}, {"kind": "remote_area", "percent": "3"}],
    }
    # when
    response = api.post(url, body, format="json")
    # then: 400, every problem named (JSON row numbers, not Excel's), the earlier card untouched
    assert response.status_code == 400
    errors = response.json()["error"]["errors"]
    assert [(e["list"], e["row"], e["field"]) for e in errors] == [
        ("rate_lines", 2, "weight_from_kg"),
        ("rate_lines", 3, "base_price"),
        ("rate_lines", 4, "service_level"),
        ("surcharges", 1, "percent"),
        ("surcharges", 2, "zone"),
    ]
    assert "overlaps row 1 " in errors[0]["message"]
    assert "'abc' is not a number" in errors[1]["message"]
    assert list(version.rate_lines.values_list("weight_to_kg", flat=True)) == [D("2.000")]
    # the shape itself: unknown fields and keys, non-scalar values, NUL, nothing at all
    shape = api.post(url, {"rate_lines": [_line(colour="red", base_price={"x": 1})]}, format="json").json()["error"]
    assert [(e["row"], e["field"], e["message"]) for e in shape["errors"]] == [
        (1, "colour", "unknown field"),
        (1, "base_price", "must be text or a number"),
    ]
    assert api.post(url, {"rate_lines": [_line(origin_zone="A\x00")]}, format="json").status_code == 400
    assert api.post(url, {"lines": []}, format="json").json()["error"]["code"] == "bad_body"
    assert api.post(url, {"rate_lines": []}, format="json").json()["error"]["field"] == "rate_lines"
    assert api.post(url, [], format="json").status_code == 400
    # roles: the integration may read contracts but not change them; another's 404 is a 404
    assert api_as("integration").post(url, {"rate_lines": [_line()]}, format="json").status_code == 403
    api = api_as("finance_specialist")
    assert api.post("/api/contract-versions/999999/rates/", {"rate_lines": [_line()]}, format="json").status_code == 404


def test_schema_documents_the_workbook_and_the_rating_rule():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    upload = schema["paths"]["/api/contract-versions/{id}/rate-card/"]["post"]["description"]
    for text in ('"Rate lines"', '"Surcharges"', "`price_per_additional_kg`", "`dimension_threshold_cm`", "5 MB"):
        assert text in upload
    rates = schema["paths"]["/api/contract-versions/{id}/rates/"]["post"]
    assert "rounded **up** to 0.001 kg" in rates["description"]
    assert "cod — COD value > 0 — of the COD value" in rates["description"]
    assert rates["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("RateCardJsonRequest")
