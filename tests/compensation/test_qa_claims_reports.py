"""Sampled manual QA (reproducible sample, scorecards, calibration), carrier guarantee claims with
their letter and credit check, reports with charts and Excel, the weekly digest, corrective
actions, and the nightly task."""

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from billing.payables.models import VendorInvoice
from compensation import services
from compensation.models import CompensationRequest, GuaranteeClaim, QaSample, Verdict
from compensation.tasks import compensation_nightly_task
from settlement_ops.errors import ConflictError
from settlement_ops.roles import Role
from tests.compensation.helpers import SHIP, World, late_claim
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
D = Decimal


def _audited(world, count=30):
    records = [world.record(agent=f"agent-{i % 3}", reason=["other", "failed_delivery"][i % 2]) for i in range(count)]
    records.append(world.record(tracking_number="UNKNOWN-9"))  # needs review
    world.intake(*records)
    world.audit()
    return records


def test_the_daily_sample_takes_every_review_and_a_reproducible_share_per_stratum():
    # given
    world = World()
    _audited(world)
    day = world.market.local_date()
    # when
    first = services.qa_sample_draw(market=world.market, day=day)
    picked = set(QaSample.objects.values_list("request_id", "why"))
    again = services.qa_sample_draw(market=world.market, day=day)
    # then
    review = CompensationRequest.objects.get(tracking_number="UNKNOWN-9")
    assert (review.pk, "needs_review") in picked
    # 6 strata (3 agents x 2 reasons) of 5 compliant requests: 5 % rounds up to one each
    assert first == 7 and again == 0
    QaSample.objects.all().delete()
    services.qa_sample_draw(market=world.market, day=day)
    assert set(QaSample.objects.values_list("request_id", "why")) == picked


def test_scorecards_of_two_reviewers_show_their_agreement_and_decide_a_review(client):
    # given
    world = World()
    _audited(world, count=2)
    request = CompensationRequest.objects.get(tracking_number="UNKNOWN-9")
    attributes = list(request.policy.attributes.order_by("code"))
    client.force_login(world.qa)
    form = {"verdict": "compliant", "comment": "fine"}
    form.update({f"score_{a.pk}": "pass" for a in attributes})
    # when
    client.post(reverse("compensation:request_review", args=[request.pk]), form)
    form2 = {**form, "verdict": "non_compliant", f"score_{attributes[0].pk}": "fail"}
    client.force_login(world.qa2)
    client.post(reverse("compensation:request_review", args=[request.pk]), form2)
    # then
    request.refresh_from_db()
    assert request.verdict == Verdict.COMPLIANT  # the first review decides a needs-review request
    assert request.reviews.count() == 2
    with pytest.raises(ConflictError):
        services.qa_review_submit(
            actor=world.qa, request=request, verdict="compliant", scores={a.pk: ("pass", "") for a in attributes}
        )
    page = client.get(reverse("compensation:request_detail", args=[request.pk]))
    agreement = {a["code"]: a["agreed"] for a in page.context["agreement"]}
    assert agreement[attributes[0].code] is False and agreement[attributes[1].code] is True
    from compensation.selectors import qa_agreement

    rates = {row["code"]: row["rate"] for row in qa_agreement()}
    assert rates[attributes[0].code] == D("0") and rates[attributes[1].code] == D("100")


def test_late_deliveries_become_one_claim_per_carrier_with_a_letter_and_a_credit_check(client):
    # given
    claim = late_claim()
    # then
    assert (claim.amount, claim.lines.count(), claim.status) == (D("10.00"), 2, GuaranteeClaim.Status.OPEN)
    line = claim.lines.first()
    assert (line.promised_days, line.actual_days) == (2, 5)
    again = services.guarantee_claims_build(
        market=claim.market, period_start=date(2026, 10, 5), period_end=date(2026, 10, 11)
    )
    assert again == [] and GuaranteeClaim.objects.count() == 1
    client.force_login(UserFactory(role=Role.FINANCE_SPECIALIST))
    letter = client.get(reverse("compensation:claim_letter", args=[claim.pk]))
    sheet = load_workbook(io.BytesIO(b"".join(letter.streaming_content))).active
    values = [row for row in sheet.iter_rows(values_only=True)]
    assert any(row[0] == "Total claimed" and row[5] == 10 for row in values)
    aging = client.get(reverse("compensation:claim_list"))
    assert claim.number in aging.content.decode() and "<svg" in aging.content.decode()
    # when: the carrier's next credit note honours it
    billed = VendorInvoice.objects.create(
        vendor=claim.vendor,
        market=claim.market,
        number="INV-77",
        invoice_date=date(2026, 10, 12),
        currency="GBP",
        net_total=D("40.00"),
        gross_total=D("40.00"),
    )
    VendorInvoice.objects.create(
        vendor=claim.vendor,
        market=claim.market,
        kind=VendorInvoice.Kind.CREDIT_NOTE,
        credited_invoice=billed,
        number="CN-77",
        invoice_date=timezone.localdate(),
        currency="GBP",
        net_total=D("10.00"),
        gross_total=D("10.00"),
    )
    assert services.guarantee_claims_check_credits(market=claim.market) == 1
    claim.refresh_from_db()
    assert (claim.status, claim.amount_credited) == (GuaranteeClaim.Status.HONOURED, D("10.00"))


def test_reports_charts_excel_digest_and_corrective_actions(client, settings):
    # given
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    world = World()
    _audited(world, count=4)
    action = services.corrective_action_save(
        actor=world.qa,
        market=world.market,
        title="Coach agent-1 on caps",
        owner=world.qa,
        due_date=date(2026, 12, 31),
        attribute_code="amount_cap",
    )
    client.force_login(world.qa)
    end = (SHIP + timedelta(days=5)).isoformat()
    # when
    page = client.get(reverse("compensation:report"), {"period": "monthly", "end": end, "market": "GB"})
    workbook = client.get(reverse("compensation:report"), {"period": "monthly", "end": end, "format": "xlsx"})
    sent = services.digest_send(end=SHIP + timedelta(days=5))
    # then
    assert page.status_code == 200
    report = page.context["report"]
    assert report["count"] == 5 and report["verdicts"]["needs_review"] == 1
    assert report["recovery"][0]["currency"] == "GBP"
    assert "<svg" in page.content.decode() and action.title in page.content.decode()
    assert workbook.status_code == 200
    assert sent == 2 and "Compensation QA weekly digest" in mail.outbox[0].subject
    assert "Non-compliance rate" in mail.outbox[0].body


def test_the_nightly_task_audits_charges_back_and_samples():
    world = World()
    shipment = world.shipment(("picked_up", SHIP), ("lost", SHIP + timedelta(days=1)))
    world.intake(world.record(tracking_number=shipment.tracking_number))
    result = compensation_nightly_task.delay().get()
    assert result["GB"]["audited"] == 1 and result["GB"]["chargebacks"] == 1
    assert compensation_nightly_task.delay().get()["GB"]["audited"] == 0
