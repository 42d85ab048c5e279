"""Period close: closed periods refuse postings through every door, closing checks the tie-outs
and is four eyes, two closes race and one wins, reopening needs a second person and a reason."""

from datetime import date
from decimal import Decimal

import pytest

from billing.models import BillingRun
from billing.payables import services as ap
from billing.receivables.cash import receipt_record
from billing.services import billing_run_start
from settlement_ops.errors import ConflictError, DomainError, PermissionDeniedError
from settlement_ops.models import AccountingPeriod, AccountKind, AuditEvent, JournalEntry, Posting
from settlement_ops.periods import (
    period_close,
    period_reopen_approve,
    period_reopen_request,
    period_soft_close,
    tie_outs,
)
from settlement_ops.roles import Role
from settlement_ops.services import (
    PeriodClosedError,
    PostingLine,
    account_for,
    ledger_adjust,
    ledger_post,
    ledger_reverse,
)
from tests.conftest import run_concurrently
from tests.factories import UserFactory, market
from tests.payables.helpers import line, rated, setup_vendor, upload
from tests.receivables.helpers import World

D = Decimal
OCT = date(2026, 10, 1)


def closed(market_code: str, month: date) -> AccountingPeriod:
    """A closed period row, as period_close leaves it (for the refusal tests: the ledger's side)."""
    return AccountingPeriod.objects.create(
        market=market(market_code),
        month=month,
        status=AccountingPeriod.Status.CLOSED,
        soft_closed_by=UserFactory(role=Role.FINANCE_SPECIALIST),
        soft_closed_at="2026-11-02T10:00Z",
        closed_by=UserFactory(role=Role.FINANCE_APPROVER),
        closed_at="2026-11-03T10:00Z",
    )


def test_a_closed_period_refuses_a_posting_and_a_correction_goes_to_the_next_open_period(db):
    # given an October entry, then October closed
    oct_entry = ledger_post(
        market=market("GB"),
        entry_date=date(2026, 10, 20),
        lines=[
            PostingLine(account_for(market=market("GB"), kind=AccountKind.LOGISTICS_COST), D("5.00")),
            PostingLine(account_for(market=market("GB"), kind=AccountKind.ACCRUED_LOGISTICS_COST), D("-5.00")),
        ],
        idempotency_key="test:oct:1",
        source_type="test",
        source_id="1",
        description="October",
    )
    closed("GB", OCT)
    # when / then: a new posting dated in October is refused with a sentence saying what to do
    with pytest.raises(
        PeriodClosedError, match=r"Period 2026-10 of GB is closed.*next open period \(from 2026-11-01\)"
    ):
        ledger_post(
            market=market("GB"),
            entry_date=date(2026, 10, 31),
            lines=[
                PostingLine(account_for(market=market("GB"), kind=AccountKind.LOGISTICS_COST), D("1.00")),
                PostingLine(account_for(market=market("GB"), kind=AccountKind.ACCRUED_LOGISTICS_COST), D("-1.00")),
            ],
            idempotency_key="test:oct:2",
            source_type="test",
            source_id="2",
            description="late",
        )
    assert not JournalEntry.objects.filter(idempotency_key="test:oct:2").exists()
    # a retry of the posting made before the close still answers with its entry
    assert (
        ledger_post(
            market=market("GB"),
            entry_date=date(2026, 10, 20),
            lines=[
                PostingLine(account_for(market=market("GB"), kind=AccountKind.LOGISTICS_COST), D("5.00")),
                PostingLine(account_for(market=market("GB"), kind=AccountKind.ACCRUED_LOGISTICS_COST), D("-5.00")),
            ],
            idempotency_key="test:oct:1",
            source_type="test",
            source_id="1",
            description="October",
        )
        == oct_entry
    )
    # a correction asked for October posts on the first day of November, referencing the original
    reversal = ledger_reverse(entry=oct_entry, reason="wrong vendor", entry_date=date(2026, 10, 25))
    assert reversal.entry_date == date(2026, 11, 1)
    assert reversal.reverses == oct_entry and f"JE{oct_entry.pk}" in reversal.description


def test_a_closed_period_refuses_a_receipt_through_the_api(api_as):
    # given
    closed("GB", OCT)
    api = api_as(Role.FINANCE_SPECIALIST)
    # when
    response = api.post(
        "/api/receivables/receipts/",
        {"market": "GB", "amount": "10.00", "currency": "GBP", "value_date": "2026-10-15", "bank_reference": "B-1"},
        format="json",
    )
    # then
    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "period_closed"
    assert "2026-10 of GB is closed" in response.json()["error"]["message"]


def test_a_closed_period_refuses_a_receipt_a_billing_run_and_a_payment_confirmation(db):
    # given a rated world and a closed October
    w = World()
    seller = w.seller()
    w.ship(seller, 1)
    closed("GB", OCT)
    # a receipt with a value date in October
    with pytest.raises(PeriodClosedError, match="2026-10 of GB is closed"):
        receipt_record(
            actor=w.clerk,
            market=w.market,
            amount=D("5.99"),
            currency="GBP",
            value_date=date(2026, 10, 20),
            bank_reference="B-OCT",
            reference="",
            seller=seller,
        )
    # a billing run dated in October is refused before it rates anything, with the same sentence
    with pytest.raises(PeriodClosedError, match="2026-10 of GB is closed"):
        billing_run_start(market=w.market, business_date=date(2026, 10, 31))
    assert not BillingRun.objects.filter(business_date=date(2026, 10, 31)).exists()
    assert not Posting.objects.filter(entry__source_type="billing_run").exists()


def test_a_closed_period_refuses_a_payment_confirmation(db):
    # given a payment sent to the bank, then the current month closed
    vendor, rate_line, specialist = setup_vendor()
    cl = rated(vendor, rate_line)
    upload(vendor, specialist, [line(cl.shipment.tracking_number, "4.50", "0.45")])
    approver = UserFactory(role=Role.FINANCE_APPROVER)
    run = ap.payment_run_prepare(actor=specialist, market=market("GB"), currency="GBP", pay_date=date(2026, 12, 1))
    ap.payment_run_approve(actor=approver, run=run)
    ap.payment_run_export(actor=specialist, run=run)
    payment = run.payments.get()
    closed("GB", market("GB").local_date().replace(day=1))
    # when / then
    with pytest.raises(PeriodClosedError, match="of GB is closed"):
        ap.payment_mark(actor=specialist, payment=payment, status="paid")
    payment.refresh_from_db()
    assert payment.status == "sent" and payment.entry_id is None


def test_a_soft_closed_period_takes_only_an_approvers_adjustment(db):
    # given
    specialist, approver = UserFactory(role=Role.FINANCE_SPECIALIST), UserFactory(role=Role.FINANCE_APPROVER)
    gb = market("GB")
    period_soft_close(actor=specialist, market=gb, month=OCT)
    lines = [
        PostingLine(account_for(market=gb, kind=AccountKind.LOGISTICS_COST), D("2.00")),
        PostingLine(account_for(market=gb, kind=AccountKind.ACCRUED_LOGISTICS_COST), D("-2.00")),
    ]
    # then: an ordinary posting is refused, an adjustment by a specialist too
    with pytest.raises(PeriodClosedError, match="soft-closed"):
        ledger_post(
            market=gb,
            entry_date=date(2026, 10, 31),
            lines=lines,
            idempotency_key="t:1",
            source_type="t",
            source_id="1",
            description="x",
        )
    with pytest.raises(PermissionDeniedError):
        ledger_adjust(
            actor=specialist,
            market=gb,
            entry_date=date(2026, 10, 31),
            lines=lines,
            reason="accrual",
            idempotency_key="t:2",
        )
    entry = ledger_adjust(
        actor=approver,
        market=gb,
        entry_date=date(2026, 10, 31),
        lines=lines,
        reason="late accrual",
        idempotency_key="t:3",
    )
    assert entry.source_type == "adjustment" and entry.entry_date == date(2026, 10, 31)


def test_close_refuses_a_broken_tie_out_and_lists_the_failure(db):
    # given October rated (charges to the seller's receivable, accrual, output VAT) and soft-closed
    w = World()
    seller = w.seller()
    w.ship(seller, 1, 3)
    w.rate(date(2026, 10, 31))
    approver = UserFactory(role=Role.FINANCE_APPROVER)
    period = period_soft_close(actor=w.clerk, market=w.market, month=OCT)
    assert all(c.passed for c in tie_outs(market=w.market, end=date(2026, 10, 31)))
    # four eyes: the preparer cannot close
    with pytest.raises(PermissionDeniedError, match="Four eyes"):
        period_close(actor=w.clerk, period=period)
    # a test-only posting to the receivable with no document behind it, by an approver's adjustment
    ledger_adjust(
        actor=approver,
        market=w.market,
        entry_date=date(2026, 10, 31),
        lines=[
            PostingLine(
                account_for(
                    market=w.market, kind=AccountKind.SELLER_RECEIVABLE, party_type="seller", party_id=seller.pk
                ),
                D("3.00"),
            ),
            PostingLine(account_for(market=w.market, kind=AccountKind.LOGISTICS_REVENUE), D("-3.00")),
        ],
        reason="planted",
        idempotency_key="test:planted",
    )
    # when / then
    with pytest.raises(DomainError) as refused:
        period_close(actor=approver, period=period)
    assert refused.value.code == "tie_out_failed"
    assert [e["field"] for e in refused.value.errors] == ["seller_receivable"]
    assert "difference 3.00" in refused.value.errors[0]["message"]
    period.refresh_from_db()
    assert period.status == AccountingPeriod.Status.SOFT_CLOSED


def test_close_with_every_tie_out_passing_then_reopen_needs_a_second_person(db):
    # given
    w = World()
    seller = w.seller()
    w.ship(seller, 1)
    w.rate(date(2026, 10, 31))
    approver, approver2 = UserFactory(role=Role.FINANCE_APPROVER), UserFactory(role=Role.FINANCE_APPROVER)
    period = period_soft_close(actor=w.clerk, market=w.market, month=OCT)
    # when
    period = period_close(actor=approver, period=period)
    # then
    assert period.status == AccountingPeriod.Status.CLOSED and period.closed_by == approver
    assert {c["account_kind"] for c in period.close_checks} >= {"seller_receivable", "bank", "vat_output"}
    assert all(c["passed"] for c in period.close_checks)
    with pytest.raises(ConflictError):
        period_close(actor=approver2, period=period)
    with pytest.raises(DomainError, match="reason"):
        period_reopen_request(actor=approver, period=period, reason=" ")
    period_reopen_request(actor=approver, period=period, reason="Late vendor credit note")
    with pytest.raises(PermissionDeniedError, match="Four eyes"):
        period_reopen_approve(actor=approver, period=period)
    period = period_reopen_approve(actor=approver2, period=period)
    assert period.status == AccountingPeriod.Status.OPEN
    event = AuditEvent.objects.get(action="period_reopen")
    assert event.kind == AuditEvent.Kind.APPROVAL and event.username == approver2.username
    assert event.detail["reason"] == "Late vendor credit note" and event.detail["requested_by"] == approver.username
    assert AuditEvent.objects.filter(action="period_close", kind=AuditEvent.Kind.APPROVAL).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_closes_of_the_same_period_race_and_exactly_one_wins():
    # given a soft-closed (empty, so tying) October and two approvers
    gb = market("GB")
    specialist = UserFactory(role=Role.FINANCE_SPECIALIST)
    first, second = UserFactory(role=Role.FINANCE_APPROVER), UserFactory(role=Role.FINANCE_APPROVER)
    period = period_soft_close(actor=specialist, market=gb, month=OCT)
    # when
    results, errors = run_concurrently(
        lambda: period_close(actor=first, period=period), lambda: period_close(actor=second, period=period)
    )
    # then
    assert sum(r is not None for r in results) == 1, (results, errors)
    assert [type(e) for e in errors if e is not None] == [ConflictError]
    period.refresh_from_db()
    assert period.status == AccountingPeriod.Status.CLOSED
    assert AuditEvent.objects.filter(action="period_close").count() == 1
