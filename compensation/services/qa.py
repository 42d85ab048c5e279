"""Sampled manual QA: the daily sample and the QA scorecard."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction

from settlement_ops.errors import ConflictError, DomainError
from settlement_ops.models import AuditEvent, Market
from settlement_ops.services import audit_record

from ..models import AuditPolicy, AuditResult, CompensationRequest, QaReview, QaSample, QaScore, Verdict


def _day_bounds(market: Market, day: date):
    start = datetime.combine(day, time.min, tzinfo=market.tz)
    return start, start + timedelta(days=1)


@transaction.atomic(durable=True)
def qa_sample_draw(*, market: Market, day: date, actor=None) -> int:
    """Draw the market's QA sample of the requests audited on `day` (market time): every
    needs-review request, plus the policy's share of compliant ones from each (agent, reason)
    stratum, at least one per stratum. Reproducible: the generator is seeded by market and day,
    and drawing again adds nothing. Returns the number of requests sampled."""
    start, end = _day_bounds(market, day)
    audited = CompensationRequest.objects.filter(market=market, audited_at__gte=start, audited_at__lt=end)
    review_ids = list(audited.filter(verdict=Verdict.NEEDS_REVIEW).order_by("pk").values_list("pk", flat=True))
    policy = AuditPolicy.objects.filter(market=market, status=AuditPolicy.Status.ACTIVE).first()
    share = policy.sample_percent if policy else Decimal(0)
    strata: dict[tuple[str, str], list[int]] = defaultdict(list)
    for pk, agent, reason in (
        audited.filter(verdict=Verdict.COMPLIANT).order_by("pk").values_list("pk", "agent", "reason")
    ):
        strata[(agent, reason)].append(pk)
    rng = random.Random(f"{market.code}:{day.isoformat()}")
    picked = []
    if share > 0:
        for key in sorted(strata):
            ids = strata[key]
            count = min(len(ids), max(1, math.ceil(Decimal(len(ids)) * share / 100)))
            picked.extend(rng.sample(ids, count))
    rows = [QaSample(request_id=pk, market=market, sample_date=day, why="needs_review") for pk in review_ids]
    rows += [QaSample(request_id=pk, market=market, sample_date=day, why="random") for pk in sorted(picked)]
    before = QaSample.objects.filter(market=market, sample_date=day).count()
    QaSample.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    created = QaSample.objects.filter(market=market, sample_date=day).count() - before
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="compensation_qa_sample",
        detail={"market": market.code, "day": day.isoformat(), "sampled": len(rows)},
    )
    return created


@transaction.atomic(durable=True)
def qa_review_submit(*, actor, request: CompensationRequest, verdict: str, scores: dict, comment: str = "") -> QaReview:
    """One QA user's scorecard: a verdict per attribute of the policy that audited the request,
    each with an optional comment, and an overall verdict. A second QA user may score the same
    request (calibration). The first review of a needs-review request decides its verdict.

    `scores` maps attribute id -> (outcome, comment). Raises DomainError for a missing or
    unknown attribute or outcome."""
    request = CompensationRequest.objects.select_for_update().get(pk=request.pk)
    if request.policy_id is None:
        raise ConflictError("The request is not audited yet; QA scores audited requests.", code="not_audited")
    if verdict not in (Verdict.COMPLIANT, Verdict.NON_COMPLIANT, Verdict.NEEDS_REVIEW):
        raise DomainError("Choose an overall verdict.", field="verdict")
    attributes = {a.pk: a for a in request.policy.attributes.all()}
    outcomes = AuditResult.Outcome.values
    rows = []
    for attribute_id, attribute in attributes.items():
        outcome, note = scores.get(attribute_id) or scores.get(str(attribute_id)) or ("", "")
        if outcome not in outcomes:
            raise DomainError(
                f"Score {attribute.code}: choose pass, fail or not applicable.", field=f"score_{attribute_id}"
            )
        rows.append((attribute_id, outcome, (note or "")[:255]))
    try:
        with transaction.atomic():
            review = QaReview.objects.create(request=request, reviewer=actor, verdict=verdict, comment=comment or "")
    except IntegrityError:
        raise ConflictError("You already scored this request.", code="already_reviewed") from None
    QaScore.objects.bulk_create(
        QaScore(review=review, attribute_id=aid, outcome=outcome, comment=note) for aid, outcome, note in rows
    )
    if request.verdict == Verdict.NEEDS_REVIEW and verdict != Verdict.NEEDS_REVIEW:
        request.verdict = verdict
        request._change_reason = f"QA review {review.pk}"
        request.save(update_fields=["verdict"])
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="compensation_qa_review",
        obj=review,
        detail={"request": request.pk, "verdict": verdict},
    )
    return review
