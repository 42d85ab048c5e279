"""Risk through its doors: pages with filters and the chart, Excel exports, the REST API in the
OpenAPI schema, roles."""

import io

import openpyxl
import pytest

from risk.models import Case, Hold
from settlement_ops.roles import Role
from tests.factories import UserFactory
from tests.risk.pages import risk_case, risk_hold

pytestmark = pytest.mark.django_db


def test_dashboard_shows_exposure_cases_and_the_trend_chart(client_as):
    risk_case()
    page = client_as(Role.RISK_ANALYST).get("/risk/")
    assert page.status_code == 200
    assert b"<svg" in page.content and b"Duplicate vendor invoice" in page.content


def test_finding_and_case_lists_filter(client_as):
    case = risk_case()
    client = client_as(Role.AUDITOR)
    assert case.number.encode() in client.get("/risk/cases/?state=open").content
    assert case.number.encode() not in client.get("/risk/cases/?state=closed").content
    assert b"billed invoice number" in client.get("/risk/findings/?rule_code=duplicate_invoice&state=case").content
    assert b"billed invoice number" not in client.get("/risk/findings/?state=dismissed").content


def test_auditor_exports_findings_and_cases_as_numbers(client_as):
    case = risk_case()
    client = client_as(Role.AUDITOR)
    for url, sheet in (("/risk/findings/export/", "Findings"), ("/risk/cases/export/", "Cases")):
        response = client.get(url)
        assert response.status_code == 200
        wb = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
        rows = list(wb[sheet].iter_rows(values_only=True))
        assert len(rows) == 2
    assert isinstance(rows[1][7], int | float) and rows[1][0] == case.number


def test_analyst_opens_case_and_places_hold_through_the_pages(client_as):
    case = risk_case()
    client = client_as(Role.RISK_ANALYST)
    vendor_id = case.findings.first().subject_id
    response = client.post(
        f"/risk/cases/{case.pk}/hold/", {"kind": "vendor_payables", "vendor": vendor_id, "reason": "Dup"}
    )
    assert response.status_code == 302
    assert Hold.objects.filter(case=case, status="active").exists()
    # the analyst cannot release it
    hold = Hold.objects.get(case=case)
    assert client.post(f"/risk/holds/{hold.pk}/release/").status_code == 403


def test_api_lists_and_self_release_is_refused(api_as):
    hold = risk_hold()
    api = api_as(Role.FINANCE_APPROVER)
    assert api.get("/api/risk/findings/").status_code == 200
    assert hold.case.number in api.get("/api/risk/cases/").content.decode()
    # the approver who placed a hold cannot release it
    approver = UserFactory(role=Role.FINANCE_APPROVER)
    from risk import holds

    own = holds.hold_place(actor=approver, case=hold.case, kind="second_approver", vendor=hold.vendor, reason="x")
    api = api_as(Role.FINANCE_APPROVER, user=approver)
    response = api.post(f"/api/risk/holds/{own.pk}/release/", {"note": "mine"}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "four_eyes"
    other = api_as(Role.FINANCE_APPROVER)
    assert other.post(f"/api/risk/holds/{own.pk}/release/", {"note": "ok"}, format="json").status_code == 200


def test_integration_reads_seller_payout_holds_and_cannot_see_findings(api_as):
    api = api_as(Role.INTEGRATION)
    assert api.get("/api/risk/holds/?kind=seller_payout&status=active").status_code == 200
    assert api.get("/api/risk/findings/").status_code == 403


def test_schema_lists_the_risk_endpoints(client_as):
    schema = client_as(Role.AUDITOR).get("/api/schema/").content
    for path in (b"/api/risk/findings/", b"/api/risk/cases/", b"/api/risk/holds/"):
        assert path in schema


def test_case_close_is_requested_by_analyst_and_approved_by_approver_through_pages(client_as, client):
    case = risk_case()
    analyst = client_as(Role.RISK_ANALYST)
    analyst.post(f"/risk/cases/{case.pk}/update/", {"root_cause": "vendor_error"})
    analyst.post(f"/risk/cases/{case.pk}/close/", {"resolution": "credit note"})
    case.refresh_from_db()
    assert case.state == Case.State.CLOSE_REQUESTED
    approver = UserFactory(role=Role.FINANCE_APPROVER)
    client.force_login(approver)
    client.post(f"/risk/cases/{case.pk}/close/", {})
    case.refresh_from_db()
    assert case.state == Case.State.CLOSED
