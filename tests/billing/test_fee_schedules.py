"""Seller fee schedules with four eyes: drafted (API or page), approved by someone else, and only
then used by rating, in force by validity dates; retries replay; bad brackets are named by row."""

import io
from datetime import date
from decimal import Decimal
from importlib import import_module

import openpyxl
import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group
from django.urls import reverse

from billing.models import ChargeLine, SellerFeeSchedule
from billing.pricing import find_schedule
from billing.services import billing_run_start
from settlement_ops.models import AuditEvent
from settlement_ops.roles import Role
from tests.billing.helpers import STANDARD_LINES, make_contract, make_fee_schedule, make_shipment
from tests.factories import SellerFactory, VendorFactory, market

D = Decimal
LINES = [
    {"weight_from_kg": "0", "weight_to_kg": "2", "base_fee": "6.00"},
    {
        "weight_from_kg": "2",
        "weight_to_kg": "30",
        "base_fee": "7.00",
        "fee_per_additional_step": "0.40",
        "additional_step_kg": "1",
    },
]


def _draft(**extra):
    return {
        "market": "GB",
        "service_level": "STD",
        "name": "STD from November",
        "valid_from": "2026-11-01",
        "cod_fee_percent": "1.5",
        "cod_fee_minimum": "0.50",
        "returns_fee": "2.00",
        "lines": LINES,
        **extra,
    }


def _preparer_who_may_also_approve(user_with_role):
    user = user_with_role(Role.FINANCE_SPECIALIST)
    user.groups.add(Group.objects.get(name=Role.FINANCE_APPROVER))
    return user


def _rate(business_date, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = billing_run_start(market=market("GB"), business_date=business_date)
    run.refresh_from_db()
    return run


@pytest.mark.django_db
def test_a_drafted_schedule_rates_only_after_someone_else_approves_it(
    api_as, user_with_role, django_capture_on_commit_callbacks
):
    # given: GB vendor and seller; the old schedule (4.99 up to 2 kg) in force since January
    vendor, seller = VendorFactory(market=market("GB")), SellerFactory(market=market("GB"))
    make_contract(vendor=vendor, lines=STANDARD_LINES)
    old = make_fee_schedule()
    maker, checker = _preparer_who_may_also_approve(user_with_role), user_with_role(Role.FINANCE_APPROVER)
    before = make_shipment(vendor=vendor, seller=seller, weight="1", ship_date=date(2026, 10, 30))
    early = make_shipment(vendor=vendor, seller=seller, weight="7", ship_date=date(2026, 11, 2))

    # when: the specialist drafts the November schedule through the API
    api = api_as(Role.FINANCE_SPECIALIST, user=maker)
    created = api.post("/api/seller-fee-schedules/", _draft(), format="json", HTTP_IDEMPOTENCY_KEY="draft-1")
    # then: a draft in the market's currency and VAT rate, with its brackets and maker
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["status"], body["currency"], body["vat_rate"], body["created_by"], body["approved_by"]) == (
        "draft",
        "GBP",
        "20.00",
        maker.username,
        None,
    )
    assert [(line["weight_to_kg"], line["base_fee"], line["minimum_fee"]) for line in body["lines"]] == [
        ("2.000", "6.0000", "0.0000"),
        ("30.000", "7.0000", "0.0000"),
    ]
    # a retried draft makes no second schedule
    again = api.post("/api/seller-fee-schedules/", _draft(), format="json", HTTP_IDEMPOTENCY_KEY="draft-1")
    assert again.content == created.content and again["Idempotent-Replayed"] == "true"
    assert SellerFeeSchedule.objects.filter(name="STD from November").count() == 1
    schedule_id = body["id"]

    # when: a run rates while it is a draft: the old schedule prices both (drafts never rate)
    run = _rate(date(2026, 11, 2), django_capture_on_commit_callbacks)
    lines = {line.shipment_id: line for line in ChargeLine.objects.filter(run=run)}
    assert lines[early.pk].seller_fee_schedule_id == old.pk
    assert lines[early.pk].seller_base == D("7.74")  # 5.99 + 5 steps x 0.35 under the old schedule

    # the maker cannot approve it although their roles may approve (four eyes), nor can a role
    # without approval rights
    refused = api.post(f"/api/seller-fee-schedules/{schedule_id}/approve/")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "four_eyes"
    assert api_as(Role.INTEGRATION).post(f"/api/seller-fee-schedules/{schedule_id}/approve/").status_code == 403
    # another user approves it, once, whatever the retries
    checker_api = api_as(Role.FINANCE_APPROVER, user=checker)
    approved = checker_api.post(f"/api/seller-fee-schedules/{schedule_id}/approve/", HTTP_IDEMPOTENCY_KEY="ok-1")
    assert approved.status_code == 200, approved.content
    assert (approved.json()["status"], approved.json()["approved_by"]) == ("approved", checker.username)
    replay = checker_api.post(f"/api/seller-fee-schedules/{schedule_id}/approve/", HTTP_IDEMPOTENCY_KEY="ok-1")
    assert replay.content == approved.content
    second = checker_api.post(f"/api/seller-fee-schedules/{schedule_id}/approve/", HTTP_IDEMPOTENCY_KEY="ok-2")
    assert second.status_code == 409 and second.json()["error"]["code"] == "bad_status"
    assert AuditEvent.objects.filter(action="seller_fee_schedule_approve", object_id=str(schedule_id)).count() == 1

    # then: from 1 November the new schedule rates (it takes over from the open-ended old one),
    # before that the old one still does
    late = make_shipment(vendor=vendor, seller=seller, weight="7", ship_date=date(2026, 11, 3), cod="100")
    run = _rate(date(2026, 11, 3), django_capture_on_commit_callbacks)
    line = ChargeLine.objects.get(run=run, shipment=late)
    assert line.seller_fee_schedule_id == schedule_id
    # 7 kg: 7.00 + ceil((7 - 2) / 1) x 0.40 = 9.00; COD max(1.5% of 100, 0.50) = 1.50; VAT 20% of 10.50
    assert (line.seller_base, line.seller_cod, line.seller_net, line.seller_vat, line.seller_gross) == (
        D("9.00"),
        D("1.50"),
        D("10.50"),
        D("2.10"),
        D("12.60"),
    )
    assert lines[before.pk].seller_fee_schedule_id == old.pk
    listed = checker_api.get("/api/seller-fee-schedules/?market=GB&in_force_on=2026-11-03").json()["results"]
    assert [row["id"] for row in listed] == [schedule_id]
    assert [row["id"] for row in checker_api.get("/api/seller-fee-schedules/?status=draft").json()["results"]] == []


@pytest.mark.django_db
def test_bad_drafts_are_refused_naming_row_and_field_and_nothing_is_saved(api_as, user_with_role):
    api = api_as(Role.INTEGRATION)
    # given brackets that overlap, run backwards and hold a negative fee
    bad = _draft(
        lines=[
            {"weight_from_kg": "0", "weight_to_kg": "2", "base_fee": "6.00"},
            {"weight_from_kg": "1.5", "weight_to_kg": "30", "base_fee": "7.00"},
            {"weight_from_kg": "40", "weight_to_kg": "35", "base_fee": "1"},
            {"weight_from_kg": "50", "weight_to_kg": "60", "base_fee": "-1"},
        ]
    )
    # when
    response = api.post("/api/seller-fee-schedules/", bad, format="json")
    # then: each problem by row (1-based) and field; nothing written
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "bad_rows"
    assert [(e["row"], e["field"]) for e in error["errors"]] == [
        (2, "weight_from_kg"),
        (3, "weight_to_kg"),
        (4, "base_fee"),
    ]
    assert "overlaps row 1" in error["errors"][0]["message"]
    assert not SellerFeeSchedule.objects.exists()
    # unknown market, dates the wrong way round, no brackets
    assert api.post("/api/seller-fee-schedules/", _draft(market="XX"), format="json").json()["error"]["fields"][
        "market"
    ]
    wrong_dates = api.post("/api/seller-fee-schedules/", _draft(valid_to="2026-10-01"), format="json").json()
    assert wrong_dates["error"]["field"] == "valid_to"
    assert api.post("/api/seller-fee-schedules/", _draft(lines=[]), format="json").status_code == 400
    # a role that may only read: 403; a rejection needs a reason and another person
    assert api_as(Role.AUDITOR).post("/api/seller-fee-schedules/", _draft(), format="json").status_code == 403
    # the fewest fields: fees default to none, brackets to 1 kg steps without a minimum
    minimal = {k: v for k, v in _draft().items() if k not in ("cod_fee_percent", "cod_fee_minimum", "returns_fee")}
    minimal["lines"] = [{"weight_from_kg": "0", "weight_to_kg": "30", "base_fee": "5"}]
    draft = api_as(Role.INTEGRATION).post("/api/seller-fee-schedules/", minimal, format="json").json()
    assert (draft["cod_fee_percent"], draft["returns_fee"], draft["lines"][0]["additional_step_kg"]) == (
        "0.0000",
        "0.0000",
        "1.000",
    )
    schedule_id = draft["id"]
    checker = api_as(Role.FINANCE_APPROVER)
    assert checker.post(f"/api/seller-fee-schedules/{schedule_id}/reject/", {"reason": ""}).status_code == 400
    rejected = checker.post(f"/api/seller-fee-schedules/{schedule_id}/reject/", {"reason": "COD minimum too low"})
    assert (rejected.json()["status"], rejected.json()["rejection_reason"]) == ("rejected", "COD minimum too low")
    assert checker.post(f"/api/seller-fee-schedules/{schedule_id}/approve/").status_code == 409
    assert checker.get("/api/seller-fee-schedules/999999/").status_code == 404


@pytest.mark.django_db
def test_staff_pages_draft_with_row_messages_and_approve_by_a_second_person(client, user_with_role):
    maker, checker = _preparer_who_may_also_approve(user_with_role), user_with_role(Role.FINANCE_APPROVER)
    client.force_login(maker)
    form = {
        "market": "GB",
        "service_level": "STD",
        "name": "Page schedule",
        "valid_from": "2026-12-01",
        "volumetric_divisor": "5000",
        "cod_fee_percent": "0",
        "cod_fee_minimum": "0",
        "returns_fee": "2.5",
        "lines-TOTAL_FORMS": "3",
        "lines-INITIAL_FORMS": "0",
        "lines-0-weight_from_kg": "0",
        "lines-0-weight_to_kg": "2",
        "lines-0-base_fee": "1234.5",
        # row 2 left blank: ignored
        "lines-2-weight_from_kg": "1",
        "lines-2-weight_to_kg": "5",
        "lines-2-base_fee": "9",
    }
    # when: the overlapping bracket is posted
    page = client.post(reverse("billing:fee_schedule_create"), form)
    # then: the page says which bracket and nothing is saved
    assert page.status_code == 400
    assert "overlaps row 1" in page.content.decode()
    assert not SellerFeeSchedule.objects.exists()
    # when: fixed
    form["lines-2-weight_from_kg"] = "2"
    created = client.post(reverse("billing:fee_schedule_create"), form)
    schedule = SellerFeeSchedule.objects.get(name="Page schedule")
    assert created.status_code == 302 and schedule.status == "draft" and schedule.created_by == maker
    detail = client.get(reverse("billing:fee_schedule_detail", args=[schedule.pk])).content.decode()
    assert "1,234.50" in detail and "Approve</button>" not in detail  # money formatted; no button for the maker
    refused = client.post(reverse("billing:fee_schedule_approve", args=[schedule.pk]), follow=True)
    assert "Four eyes" in refused.content.decode()
    # the approver sees the button and approves
    client.force_login(checker)
    assert "Approve</button>" in client.get(reverse("billing:fee_schedule_detail", args=[schedule.pk])).content.decode()
    done = client.post(reverse("billing:fee_schedule_approve", args=[schedule.pk]), follow=True)
    assert "approved" in done.content.decode()
    schedule.refresh_from_db()
    assert (schedule.status, schedule.approved_by) == ("approved", checker)
    listing = client.get(reverse("billing:fee_schedule_list"), {"status": "approved"}).content.decode()
    assert "Page schedule" in listing
    # auditors' workbook: the brackets as numbers
    export = client.get(reverse("billing:fee_schedule_export"), {"market": "GB"})
    book = openpyxl.load_workbook(io.BytesIO(b"".join(export.streaming_content)), read_only=True)
    brackets = [row[5:8] for row in book["Brackets"].iter_rows(min_row=2, values_only=True)]
    assert brackets == [(0, 2, 1234.5), (2, 5, 9)]
    assert [row[14] for row in book["Schedules"].iter_rows(min_row=2, values_only=True)] == [checker.username]
    # a role without fee schedules: refused, and a missing schedule looks the same
    client.force_login(user_with_role(Role.SUPPORT_TIER1))
    assert client.get(reverse("billing:fee_schedule_detail", args=[schedule.pk])).status_code == 403
    assert client.get(reverse("billing:fee_schedule_detail", args=[schedule.pk + 999])).status_code == 403


@pytest.mark.django_db
def test_schedules_published_before_four_eyes_migrate_as_approved():
    # given: a schedule published before four eyes ("active", no maker)
    legacy = make_fee_schedule()
    SellerFeeSchedule.objects.filter(pk=legacy.pk).update(status="active")
    assert SellerFeeSchedule.objects.get(pk=legacy.pk).status == "active"
    # when: the migration's data step runs (the schema steps around it are the model's)
    migration = import_module("billing.migrations.0009_seller_fee_schedule_four_eyes")
    migration.approve_existing(django_apps, None)
    # then: it is approved (no maker, no approver) and rating's rule 1 picks it
    schedule = SellerFeeSchedule.objects.get(pk=legacy.pk)
    assert (schedule.status, schedule.created_by, schedule.approved_by) == ("approved", None, None)
    assert find_schedule(market_code="GB", service_level="STD", ship_date=date(2026, 11, 2)) == schedule
