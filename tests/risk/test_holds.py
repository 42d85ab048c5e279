"""Holds: a held vendor's payables leave payment runs with the case's reason (also when the run
is prepared at the same moment), release needs a second person, a second-approver hold blocks
the run's approval until another approver co-signs, and a case with money at risk is closed by
a second person."""

import datetime as dt

import pytest

from billing.payables import services as payables
from billing.payables.models import Payable, PaymentRunExclusion, PaymentRunItem
from risk import holds, services
from risk.models import Case, Finding, Hold
from risk.planting import plant_duplicate_invoice
from settlement_ops.errors import DomainError, PermissionDeniedError
from settlement_ops.roles import Role
from tests.conftest import run_concurrently
from tests.factories import UserFactory
from tests.risk.helpers import clean_world

PAY_DATE = dt.date(2026, 5, 1)


def _case(world):
    plant_duplicate_invoice(world["market"], world["today"])
    services.rules_run_market(market=world["market"], today=world["today"], codes=["duplicate_invoice"])
    return services.case_open(actor=world["analyst"], findings=list(Finding.objects.all()))


def _prepare(world, user=None):
    return payables.payment_run_prepare(
        actor=user or world["specialist"], market=world["market"], currency="GBP", pay_date=PAY_DATE
    )


@pytest.mark.django_db
def test_vendor_hold_excludes_payables_with_the_case_reason():
    # given
    world = clean_world()
    case = _case(world)
    other = clean_world()  # another vendor, so the run has something to pay
    # when
    hold = holds.hold_place(
        actor=world["analyst"],
        case=case,
        kind=Hold.Kind.VENDOR_PAYABLES,
        vendor=world["vendor"],
        reason="Duplicate billing",
    )
    run = _prepare(world, other["specialist"])
    # then
    exclusion = PaymentRunExclusion.objects.get(run=run, payable=world["payable"])
    assert exclusion.code == "risk_hold"
    assert case.number in exclusion.reason and "Duplicate billing" in exclusion.reason
    assert PaymentRunItem.objects.filter(run=run, payable=other["payable"]).exists()
    case.refresh_from_db()
    assert case.state == Case.State.ACTING and case.money_stopped == hold.amount_stopped > 0


@pytest.mark.django_db
def test_a_hold_takes_a_payable_out_of_a_prepared_run(django_capture_on_commit_callbacks):
    # given
    world = clean_world()
    other = clean_world()
    run = _prepare(world)
    case = _case(world)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        holds.hold_place(
            actor=world["analyst"], case=case, kind="vendor_payables", vendor=world["vendor"], reason="BEC"
        )
    # then (on commit: the payable left the prepared run with the reason)
    payable = Payable.objects.get(pk=world["payable"].pk)
    assert payable.status == Payable.Status.OPEN
    assert PaymentRunExclusion.objects.filter(run=run, payable=payable, reason__contains="BEC").exists()
    assert PaymentRunItem.objects.filter(run=run, payable=other["payable"], is_open=True).exists()


@pytest.mark.django_db
def test_self_release_is_refused_and_another_approver_releases():
    # given
    world = clean_world()
    case = _case(world)
    approver = UserFactory(role=Role.FINANCE_APPROVER)
    hold = holds.hold_place(actor=approver, case=case, kind="vendor_payables", vendor=world["vendor"], reason="x")
    # when / then
    with pytest.raises(PermissionDeniedError) as refused:
        holds.hold_release(actor=approver, hold=hold)
    assert refused.value.code == "four_eyes"
    released = holds.hold_release(actor=UserFactory(role=Role.FINANCE_APPROVER), hold=hold, note="vendor verified")
    assert released.status == Hold.Status.RELEASED


@pytest.mark.django_db
def test_second_approver_hold_blocks_the_run_until_co_signed():
    # given
    world = clean_world()
    case = _case(world)
    holds.hold_place(
        actor=world["analyst"], case=case, kind="second_approver", vendor=world["vendor"], reason="New IBAN"
    )
    run = _prepare(world)
    first, second = UserFactory(role=Role.FINANCE_APPROVER), UserFactory(role=Role.FINANCE_APPROVER)
    hold = Hold.objects.get(kind="second_approver")
    # when / then
    with pytest.raises(PermissionDeniedError) as refused:
        payables.payment_run_approve(actor=first, run=run)
    assert refused.value.code == "second_approver_required"
    holds.hold_co_approve(actor=second, hold=hold, run=run)
    with pytest.raises(PermissionDeniedError):
        payables.payment_run_approve(actor=second, run=run)
    payables.payment_run_approve(actor=first, run=run)
    hold.refresh_from_db()
    assert hold.status == Hold.Status.CONSUMED


@pytest.mark.django_db
def test_closing_a_case_with_money_at_risk_needs_a_second_person():
    # given
    world = clean_world()
    case = _case(world)
    assert case.money_at_risk > 0
    services.case_update(actor=world["analyst"], case=case, root_cause="vendor_error", root_cause_text="typo")
    # when
    case = services.case_close(actor=world["analyst"], case=case, resolution="Credit note received")
    # then
    assert case.state == Case.State.CLOSE_REQUESTED
    with pytest.raises(DomainError):
        services.case_close(actor=world["analyst"], case=case)
    approver = UserFactory(role=Role.FINANCE_APPROVER)
    case = services.case_close(actor=approver, case=case)
    assert case.state == Case.State.CLOSED and case.closed_by == approver


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_hold_excludes_the_payable_from_a_concurrent_payment_run():
    # given
    world = clean_world()
    other = clean_world()
    case = _case(world)

    def hold():
        return holds.hold_place(
            actor=world["analyst"], case=case, kind="vendor_payables", vendor=world["vendor"], reason="Race"
        )

    def prepare():
        return _prepare(world, other["specialist"])

    # when
    results, errors = run_concurrently(hold, prepare)
    # then: whichever committed first, the held payable is in no open run
    assert errors == [None, None], errors
    payable = Payable.objects.get(pk=world["payable"].pk)
    assert payable.status == Payable.Status.OPEN
    assert not PaymentRunItem.objects.filter(payable=payable, is_open=True).exists()
    assert PaymentRunExclusion.objects.filter(payable=payable, reason__contains=case.number).exists()
    assert PaymentRunItem.objects.filter(payable=other["payable"], is_open=True).exists()


@pytest.mark.django_db
def test_a_contract_rating_hold_keeps_its_shipments_unrated_until_released():
    from billing.models import ChargeLine, RatingException
    from tests.receivables.helpers import World
    from vendors.models import Contract

    # given: a case, and a carrier's contract with a shipment to rate
    world = clean_world()
    case = _case(world)
    w = World()
    [shipment] = w.ship(w.seller(), "1.000", ship_date=dt.date(2026, 10, 5))
    contract = Contract.objects.get(vendor=w.vendor)
    hold = holds.hold_place(
        actor=world["analyst"], case=case, kind="contract_rating", contract=contract, reason="rates under review"
    )
    # when: the billing run rates the market
    w.rate(dt.date(2026, 10, 31))
    # then: the shipment is an exception that says why, and nothing was charged
    assert RatingException.objects.get(shipment=shipment).code == "contract_blocked"
    assert not ChargeLine.objects.filter(shipment=shipment).exists()
    # when: a second person releases the hold, the next run rates it
    holds.hold_release(actor=UserFactory(role=Role.FINANCE_APPROVER), hold=hold, note="rates confirmed")
    w.rate(dt.date(2026, 10, 31))
    assert ChargeLine.objects.filter(shipment=shipment).count() == 1
