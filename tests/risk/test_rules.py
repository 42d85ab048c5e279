"""Each rule fires on its planted condition and stays quiet on clean data; a second run the same
day changes nothing; a parameter change adds a version without rewriting past findings."""

import pytest

from risk import services
from risk.models import Finding, RuleVersion
from risk.planting import PLANTERS
from risk.rules import RULES
from tests.risk.helpers import clean_world
from tests.settlement_ops.helpers import post_simple_entry


@pytest.fixture
def world(db):
    return clean_world()


def _plant(code, world):
    market, today = world["market"], world["today"]
    if code == "seller_ar_overdue":
        return PLANTERS[code](market, today, create=True)
    if code == "payout_with_open_items":
        return PLANTERS[code](market, today, entry=post_simple_entry(key="risk:payout"))
    return PLANTERS[code](market, today)


def test_every_rule_has_a_planter():
    assert set(PLANTERS) == {rule.code for rule in RULES}


def test_clean_data_raises_no_finding(world):
    # when
    report = services.rules_run_market(market=world["market"], today=world["today"])
    # then
    assert {code: r["hits"] for code, r in report.items() if r["hits"]} == {}
    assert not Finding.objects.exists()


@pytest.mark.parametrize("code", [rule.code for rule in RULES])
def test_rule_fires_on_its_planted_condition(world, code):
    # given
    assert _plant(code, world) is not None
    # when
    services.rules_run_market(market=world["market"], today=world["today"], codes=[code])
    # then
    findings = list(Finding.objects.filter(rule_code=code))
    assert len(findings) >= 1, code
    finding = findings[0]
    assert finding.state == Finding.State.OPEN
    assert finding.money_at_risk >= 0 and finding.evidence
    assert finding.rule_version.version == 1


def test_running_twice_the_same_day_changes_nothing(world):
    # given
    for code in PLANTERS:
        _plant(code, world)
    services.rules_run_market(market=world["market"], today=world["today"])
    before = list(Finding.objects.order_by("pk").values())
    # when
    report = services.rules_run_market(market=world["market"], today=world["today"])
    # then
    assert list(Finding.objects.order_by("pk").values()) == before
    assert sum(r["new"] + r["updated"] for r in report.values()) == 0
    assert len({f["rule_code"] for f in before}) == len(RULES)


def test_the_next_day_updates_the_same_finding(world):
    import datetime as dt

    # given
    _plant("duplicate_invoice", world)
    services.rules_run_market(market=world["market"], today=world["today"], codes=["duplicate_invoice"])
    # when
    services.rules_run_market(
        market=world["market"], today=world["today"] + dt.timedelta(days=1), codes=["duplicate_invoice"]
    )
    # then
    finding = Finding.objects.get(rule_code="duplicate_invoice")
    assert finding.seen_count == 2 and finding.first_seen_on == world["today"]


def test_parameter_change_keeps_past_findings_on_their_version(world):
    # given
    _plant("round_or_just_under_limit", world)
    services.rules_run_market(market=world["market"], today=world["today"], codes=["round_or_just_under_limit"])
    # when: a round amount now needs ten times more
    version = services.rule_params_change(
        actor=world["analyst"],
        rule_code="round_or_just_under_limit",
        market=world["market"],
        params={"round_min": 100000},
        note="fewer alerts",
    )
    services.rules_run_market(market=world["market"], today=world["today"], codes=["round_or_just_under_limit"])
    # then
    assert version.version == 2
    assert RuleVersion.objects.filter(rule_code="round_or_just_under_limit", is_current=True).get() == version
    assert Finding.objects.get(rule_code="round_or_just_under_limit").rule_version.version == 1
