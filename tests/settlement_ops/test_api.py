import hashlib
import json
import threading
from decimal import Decimal

import pytest
from django.db import connection

from settlement_ops.models import AuditEvent, FxRate, IdempotencyRecord
from settlement_ops.roles import Role
from tests.settlement_ops.helpers import post_simple_entry

pytestmark = pytest.mark.django_db

RATE = {"rate_date": "2026-11-20", "currency": "GBP", "rate": "1.165000000000"}


def test_api_needs_a_token_and_answers_with_a_json_error(api_client):
    response = api_client.get("/api/markets/")
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "not_authenticated", "message": "Authentication credentials were not provided."}
    }


def test_markets_are_listed_for_the_integration_role(api_as):
    response = api_as(Role.INTEGRATION).get("/api/markets/")
    assert response.status_code == 200
    by_code = {m["code"]: m for m in response.json()["results"]}
    assert set(by_code) == {"GB", "DE", "FR", "ID", "VN"}
    assert by_code["VN"]["currency"] == "VND"
    assert by_code["DE"]["vat_standard_rate"] == "19.00"


def test_a_role_without_the_permission_gets_403_and_the_refusal_is_logged(api_as):
    client = api_as(Role.SELLER_USER)
    response = client.get("/api/journal-entries/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert AuditEvent.objects.filter(kind="access_refused", action="api", actor=client.user).count() == 1


def test_journal_entries_show_their_postings(api_as):
    entry = post_simple_entry(amount="12.34")
    response = api_as(Role.AUDITOR).get(f"/api/journal-entries/{entry.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert sorted(p["amount"] for p in body["postings"]) == ["-12.3400", "12.3400"]
    assert api_as(Role.AUDITOR).get("/api/journal-entries/999999/").json()["error"]["code"] == "not_found"


def test_validation_errors_name_the_field(api_as):
    response = api_as(Role.FINANCE_SPECIALIST).post("/api/fx-rates/", {**RATE, "rate": "-1"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "validation_error",
            "message": "The request has invalid fields.",
            "fields": {"rate": ["must be greater than zero"]},
        }
    }


def test_idempotency_key_replays_the_first_response(api_as):
    client = api_as(Role.FINANCE_SPECIALIST)
    first = client.post("/api/fx-rates/", RATE, format="json", HTTP_IDEMPOTENCY_KEY="fx-2026-11-20")
    again = client.post("/api/fx-rates/", RATE, format="json", HTTP_IDEMPOTENCY_KEY="fx-2026-11-20")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert FxRate.objects.count() == 1
    assert AuditEvent.objects.filter(action="fx_rate_store").count() == 1  # the service ran once


def test_same_key_with_a_different_body_is_422(api_as):
    client = api_as(Role.FINANCE_SPECIALIST)
    client.post("/api/fx-rates/", RATE, format="json", HTTP_IDEMPOTENCY_KEY="k")
    response = client.post("/api/fx-rates/", {**RATE, "rate": "1.2"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert FxRate.objects.get().rate == Decimal("1.165")


def test_a_retry_while_the_first_is_running_is_409(api_as):
    client = api_as(Role.FINANCE_SPECIALIST)
    body = json.dumps(RATE).encode()
    digest = hashlib.sha256(b"POST" + b"/api/fx-rates/" + body).hexdigest()
    IdempotencyRecord.objects.create(
        user=client.user, key="busy", method="POST", path="/api/fx-rates/", request_hash=digest
    )
    response = client.post("/api/fx-rates/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="busy")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_in_progress"
    assert FxRate.objects.count() == 0


def test_keys_belong_to_the_caller(api_as, user_with_role):
    first = api_as(Role.FINANCE_SPECIALIST)
    first.post("/api/fx-rates/", RATE, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    other = api_as(Role.FINANCE_SPECIALIST, user=user_with_role(Role.FINANCE_SPECIALIST))
    response = other.post("/api/fx-rates/", {**RATE, "rate": "1.2"}, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    assert response.status_code == 201


def test_openapi_schema_and_docs_page(client_as):
    client = client_as(Role.FINANCE_SPECIALIST)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    assert "/api/markets/" in paths and "/api/fx-rates/" in paths and "/api/journal-entries/{id}/" in paths
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_requests_with_one_key_store_one_rate(api_client, user_with_role):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    user = user_with_role(Role.FINANCE_SPECIALIST)
    token = Token.objects.create(user=user)
    barrier = threading.Barrier(2)
    statuses = []

    def call():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        barrier.wait()
        statuses.append(client.post("/api/fx-rates/", RATE, format="json", HTTP_IDEMPOTENCY_KEY="race").status_code)
        connection.close()

    threads = [threading.Thread(target=call) for _ in range(2)]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    assert sorted(statuses) in ([201, 201], [201, 409])
    assert FxRate.objects.count() == 1
    assert AuditEvent.objects.filter(action="fx_rate_store").count() == 1
