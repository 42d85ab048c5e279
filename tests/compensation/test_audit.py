"""The set-based audit: each attribute's result and sentence, verdicts, liable party, policy
versions with four eyes, and the SQL against a Python reference on a seeded sample."""

import random
from datetime import timedelta
from decimal import Decimal

import pytest

from compensation import services
from compensation.models import AuditPolicy, AuditResult, CompensationRequest, QualityAttribute, Verdict
from settlement_ops.errors import ConflictError, PermissionDeniedError
from settlement_ops.models import JournalEntry
from settlement_ops.selectors import unbalanced_entries
from tests.compensation.helpers import SHIP, World, at

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def world():
    return World()


def _results(external_id) -> dict:
    request = CompensationRequest.objects.get(external_id=external_id)
    return {r.attribute.code: (r.outcome, r.sentence) for r in request.results.select_related("attribute")}, request


def test_lost_parcel_in_carrier_custody_is_compliant_and_the_carrier_is_liable(world):
    # given
    shipment = world.shipment(("picked_up", SHIP), ("lost", SHIP + timedelta(days=2)))
    record = world.record(tracking_number=shipment.tracking_number)
    world.intake(record)
    # when
    run = world.audit()
    # then
    results, request = _results(record["external_id"])
    assert request.verdict == Verdict.COMPLIANT
    assert results["eligibility"] == (
        "pass",
        f"The carrier had parcel {shipment.tracking_number}: its first custody event is on 2026-10-05.",
    )
    assert results["amount_cap"][0] == "pass"
    assert results["duplicate"] == ("pass", f"First compensation of order {record['order_number']} for lost.")
    assert results["evidence"][0] == "na"
    assert results["timeliness"] == (
        "pass",
        "Issued 3 days after the event on 2026-10-07, within the 30 the policy allows.",
    )
    assert results["agent_limit"] == ("pass", "Within agent agent-1's approval limit of GBP 60.")
    assert request.liable_party == "carrier"
    assert request.liable_basis == "Lost in the carrier's custody (custody since 2026-10-05)."
    assert run.audited == 1 and run.compliant == 1
    assert run.entry is not None and not unbalanced_entries()


def test_each_failing_attribute_says_why(world):
    # given
    never_picked = world.shipment(status="created")
    on_time = world.shipment(("picked_up", SHIP), ("delivered", SHIP + timedelta(days=1)))
    first = world.record(order_number="ORD-DUP", reason="damaged", evidence=[])
    duplicate = world.record(
        order_number="ORD-DUP", reason="damaged", agent="agent-2", issued_at=at(SHIP + timedelta(days=6))
    )
    records = [
        world.record(tracking_number=never_picked.tracking_number),
        world.record(tracking_number=on_time.tracking_number, reason="late_delivery"),
        world.record(amount="90.00", item_value="200.00", instrument="cash", agent="agent-senior"),
        world.record(amount="30.00", item_value="25.00"),
        first,
        duplicate,
        world.record(amount="61.00", item_value="100.00"),
        world.record(
            tracking_number=on_time.tracking_number,
            reason="missing_item",
            issued_at=at(SHIP + timedelta(days=40)),
            evidence=["x"],
        ),
    ]
    world.intake(*records)
    # when
    world.audit()
    # then
    r, req = _results(records[0]["external_id"])
    assert r["eligibility"][0] == "fail" and "has no carrier-custody event" in r["eligibility"][1]
    assert req.verdict == Verdict.NON_COMPLIANT
    r, req = _results(records[1]["external_id"])
    assert r["eligibility"] == ("fail", "Delivered 1 days after shipping, within the promise of 2 days: not late.")
    r, req = _results(records[2]["external_id"])
    assert r["amount_cap"] == ("fail", "GBP 90.00 is above the cap of GBP 80 for lost by cash.")
    assert req.verdict == Verdict.NON_COMPLIANT
    r, _ = _results(records[3]["external_id"])
    assert r["amount_cap"] == ("fail", "GBP 30.00 is more than 100 percent of the item value of GBP 25.00.")
    r, req = _results(first["external_id"])
    assert r["duplicate"][0] == "pass" and r["evidence"][0] == "fail"
    r, req = _results(duplicate["external_id"])
    assert r["duplicate"] == (
        "fail",
        f"Order ORD-DUP was already compensated for damaged by request {first['external_id']} (agent agent-1).",
    )
    r, req = _results(records[6]["external_id"])
    assert r["agent_limit"] == ("fail", "GBP 61.00 is above agent agent-1's approval limit of GBP 60.")
    assert req.verdict == Verdict.NEEDS_REVIEW  # a soft attribute
    r, req = _results(records[7]["external_id"])
    assert r["timeliness"][0] == "fail" and "the policy allows 30" in r["timeliness"][1]
    assert req.liable_party == "seller"


def test_a_request_for_a_shipment_we_do_not_know_needs_review(world):
    record = world.record(tracking_number="NOBODY-KNOWS")
    world.intake(record)
    world.audit()
    results, request = _results(record["external_id"])
    assert results["eligibility"] == (
        "na",
        "No shipment with tracking number NOBODY-KNOWS is known, so its events cannot be checked.",
    )
    assert request.verdict == Verdict.NEEDS_REVIEW
    assert request.liable_party == "platform"


def test_late_delivery_against_the_contract_is_the_carrier_s_and_late_dispatch_the_seller_s(world):
    carrier_late = world.shipment(("picked_up", SHIP), ("delivered", SHIP + timedelta(days=5)))
    seller_late = world.shipment(("picked_up", SHIP + timedelta(days=4)), ("delivered", SHIP + timedelta(days=5)))
    a = world.record(tracking_number=carrier_late.tracking_number, reason="late_delivery")
    b = world.record(tracking_number=seller_late.tracking_number, reason="late_delivery")
    world.intake(a, b)
    world.audit()
    _, ra = _results(a["external_id"])
    _, rb = _results(b["external_id"])
    assert (ra.verdict, ra.liable_party) == (Verdict.COMPLIANT, "carrier")
    assert ra.liable_basis == "Delivered 5 days after pickup against the contract's promise of 2 days."
    assert (rb.liable_party, rb.liable_basis) == (
        "seller",
        "Dispatched late: handed to the carrier 4 days after the ship date (the policy allows 1).",
    )


def test_a_second_run_audits_nothing_again_and_posts_nothing_more(world):
    world.intake(world.record())
    world.audit()
    entries = JournalEntry.objects.count()
    run = world.audit()
    assert run.audited == 0 and run.entry is None
    assert JournalEntry.objects.count() == entries
    assert AuditResult.objects.count() == 6


def test_policy_versions_need_four_eyes_and_never_rewrite_past_results(world):
    # given
    record = world.record(reason="other")
    world.intake(record)
    world.audit()
    draft = services.policy_draft_create(actor=world.qa, market=world.market)
    services.policy_attribute_save(
        actor=world.qa,
        policy=draft,
        code=QualityAttribute.Code.AGENT_LIMIT,
        description="Stricter",
        params={"default": "5"},
        severity="hard",
    )
    # when / then
    with pytest.raises(PermissionDeniedError):
        services.policy_activate(actor=world.qa, policy=draft)
    services.policy_activate(actor=world.qa2, policy=draft)
    with pytest.raises(ConflictError):
        services.policy_attribute_save(
            actor=world.qa, policy=draft, code="agent_limit", description="x", params={}, severity="hard"
        )
    world.policy.refresh_from_db()
    assert world.policy.status == AuditPolicy.Status.RETIRED
    results, request = _results(record["external_id"])
    assert request.policy == world.policy and request.verdict == Verdict.COMPLIANT
    later = world.record(reason="other")
    world.intake(later)
    world.audit()
    results, request = _results(later["external_id"])
    assert request.policy == draft and request.verdict == Verdict.NON_COMPLIANT
    assert results["agent_limit"][0] == "fail"


def _reference(request, facts) -> str:
    """The verdict by the rules in Python (a reference for the SQL)."""
    amount, item = request.amount, request.item_value
    fails_hard = fails_soft = False
    if request.reason in ("lost", "damaged") and request.shipment_id:
        fails_hard |= not facts["custody"]
    if request.reason == "late_delivery" and request.shipment_id:
        fails_hard |= not (facts["delivered"] and facts["transit"] > 2)
    # The most specific cap wins: "*:cash" (GBP 80) for cash, "*:*" (100 % of the item) otherwise.
    if request.instrument == "cash":
        fails_hard |= amount > D("80")
    else:
        fails_hard |= item is not None and amount > item
    fails_hard |= facts["dup"]
    fails_soft |= request.reason in ("damaged", "wrong_item", "missing_item") and not request.evidence
    fails_soft |= amount > D("60")
    if fails_hard:
        return Verdict.NON_COMPLIANT
    if fails_soft or (request.shipment_id is None and request.reason in ("lost", "damaged", "late_delivery")):
        return Verdict.NEEDS_REVIEW
    return Verdict.COMPLIANT


def test_sql_verdicts_equal_the_python_reference_on_a_seeded_sample(world):
    # given
    rng = random.Random(15)
    shipments = [
        world.shipment(("picked_up", SHIP), ("delivered", SHIP + timedelta(days=rng.choice([1, 2, 4])))),
        world.shipment(("picked_up", SHIP), ("lost", SHIP + timedelta(days=1))),
        world.shipment(status="created"),
    ]
    facts = {
        shipments[0].pk: {"custody": True, "delivered": True},
        shipments[1].pk: {"custody": True, "delivered": False},
        shipments[2].pk: {"custody": False, "delivered": False},
    }
    transit = (shipments[0].events.get(status="delivered").occurred_at.date() - SHIP).days
    records = []
    for i in range(60):
        shipment = rng.choice(shipments + [None])
        records.append(
            world.record(
                tracking_number=shipment.tracking_number if shipment else "",
                reason=rng.choice(["lost", "damaged", "late_delivery", "wrong_item", "other"]),
                instrument=rng.choice(["voucher", "cash", "refund"]),
                amount=f"{rng.randint(5, 95)}.00",
                item_value=rng.choice([None, "50.00", "90.00"]),
                order_number=f"O-{rng.randint(1, 15)}",
                evidence=rng.choice([[], ["p"]]),
                issued_at=at(SHIP + timedelta(days=10), hour=i % 20),
            )
        )
    world.intake(*records)
    # when
    world.audit()
    # then
    seen = set()
    for request in CompensationRequest.objects.order_by("issued_at", "id"):
        key = (request.order_number, request.reason)
        f = dict(facts.get(request.shipment_id, {"custody": False, "delivered": False}))
        f["transit"], f["dup"] = transit, key in seen
        seen.add(key)
        assert request.verdict == _reference(request, f), (
            request.reason,
            request.shipment_id,
            request.amount,
            request.item_value,
            request.instrument,
            f,
            list(request.results.values_list("attribute__code", "outcome")),
        )
