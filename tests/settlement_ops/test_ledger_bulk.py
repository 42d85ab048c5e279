"""The bulk poster `ledger_post_many`: every guarantee of `ledger_post` for many entries at once —
balanced, validated, period-guarded, idempotent by key, all or nothing — and two writers posting
overlapping keys at the same moment on PostgreSQL."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection, transaction

from settlement_ops.errors import DomainError
from settlement_ops.models import AccountingPeriod, AccountKind, JournalEntry, Posting
from settlement_ops.roles import Role
from settlement_ops.selectors import account_balance
from settlement_ops.services import (
    EntrySpec,
    PeriodClosedError,
    PostingLine,
    account_for,
    accounts_for,
    ledger_post,
    ledger_post_many,
)
from tests.conftest import run_concurrently
from tests.factories import UserFactory, market

pytestmark = pytest.mark.django_db

D = Decimal
NOV = date(2026, 11, 2)


def _accounts(code="GB"):
    m = market(code)
    return (
        m,
        account_for(market=m, kind=AccountKind.LOGISTICS_COST),
        account_for(market=m, kind=AccountKind.ACCRUED_LOGISTICS_COST),
    )


def _spec(key: str, amount: str = "10.00", *, on: date = NOV, debit=None, credit=None, **kwargs) -> EntrySpec:
    m, cost, accrual = _accounts()
    return EntrySpec(
        market=m,
        entry_date=on,
        lines=(PostingLine(debit or cost, D(amount), key), PostingLine(credit or accrual, -D(amount), key)),
        idempotency_key=key,
        source_type="test",
        source_id=key,
        description=f"Accrual {key}",
        **kwargs,
    )


def _totals() -> tuple[int, int]:
    return JournalEntry.objects.count(), Posting.objects.count()


def test_many_balanced_entries_are_written_with_their_postings_in_the_order_given():
    # given
    m, cost, accrual = _accounts()
    vat = account_for(market=m, kind=AccountKind.VAT_INPUT)
    specs = [
        _spec("bulk:1", "10.00"),
        _spec("bulk:2", "0.01"),
        EntrySpec(
            market=m,
            entry_date=NOV,
            lines=(
                PostingLine(cost, D("100.00")),
                PostingLine(vat, D("20.00")),
                PostingLine(accrual, D("-120.00")),
            ),
            idempotency_key="bulk:3",
            source_type="test",
            source_id="3",
            description="Three lines",
        ),
    ]
    # when
    entries = ledger_post_many(entries=specs)
    # then: one entry per spec, in the specs' order and with ids in that order
    assert [e.idempotency_key for e in entries] == ["bulk:1", "bulk:2", "bulk:3"]
    assert [e.pk for e in entries] == sorted(e.pk for e in entries)
    assert _totals() == (3, 7)
    assert account_balance(account=cost).amount == D("110.01")
    assert account_balance(account=accrual).amount == D("-130.01")
    assert account_balance(account=vat).amount == D("20.00")
    stored = JournalEntry.objects.get(idempotency_key="bulk:3")
    assert (stored.description, stored.entry_date, stored.market_id) == ("Three lines", NOV, "GB")
    assert sorted(stored.postings.values_list("amount", flat=True)) == [D("-120.00"), D("20.00"), D("100.00")]
    # ids_only answers the same entries by id
    assert ledger_post_many(entries=specs, ids_only=True) == [e.pk for e in entries]


def test_one_unbalanced_entry_refuses_the_whole_batch_and_names_its_key():
    m, cost, accrual = _accounts()
    bad = EntrySpec(
        market=m,
        entry_date=NOV,
        lines=(PostingLine(cost, D("100.01")), PostingLine(accrual, D("-100.00"))),
        idempotency_key="bulk:bad",
        source_type="test",
        source_id="x",
        description="Off by a penny",
    )
    with pytest.raises(DomainError) as refused:
        ledger_post_many(entries=[_spec("bulk:good"), bad, _spec("bulk:good-2")])
    assert refused.value.code == "unbalanced"
    assert "bulk:bad" in refused.value.message and "does not balance: GBP +0.01" in refused.value.message
    assert _totals() == (0, 0)


@pytest.mark.parametrize(
    "amount, code",
    [(D("10.005"), "unrounded_amount"), (D("0"), "zero_amount"), (10.5, "float_amount")],
)
def test_unrounded_zero_and_float_amounts_are_refused_naming_the_entry(amount, code):
    m, cost, accrual = _accounts()
    bad = EntrySpec(
        market=m,
        entry_date=NOV,
        lines=(PostingLine(cost, amount), PostingLine(accrual, -amount)),
        idempotency_key="bulk:amount",
        source_type="test",
        source_id="x",
        description="bad",
    )
    with pytest.raises(DomainError) as refused:
        ledger_post_many(entries=[_spec("bulk:ok"), bad])
    assert refused.value.code == code and "bulk:amount" in refused.value.message
    assert _totals() == (0, 0)


def test_an_account_of_another_market_is_refused():
    other = account_for(market=market("DE"), kind=AccountKind.ACCRUED_LOGISTICS_COST)
    with pytest.raises(DomainError) as refused:
        ledger_post_many(entries=[_spec("bulk:ok"), _spec("bulk:cross", credit=other)])
    assert refused.value.code == "wrong_market"
    assert "bulk:cross" in refused.value.message and "belongs to market DE" in refused.value.message
    assert _totals() == (0, 0)


def test_a_replayed_batch_returns_the_stored_entries_and_writes_nothing_more():
    # given a batch posted once
    first = ledger_post_many(entries=[_spec("bulk:1"), _spec("bulk:2", "5.00")])
    # when the same batch comes again (a retried job), with one more entry
    again = ledger_post_many(entries=[_spec("bulk:2", "5.00"), _spec("bulk:1"), _spec("bulk:3", "7.00")])
    # then
    assert [e.pk for e in again[:2]] == [first[1].pk, first[0].pk]
    assert _totals() == (3, 6)
    # and the single poster agrees: it is the same code path
    assert ledger_post(**_spec_kwargs(_spec("bulk:3", "7.00"))).pk == again[2].pk


def _spec_kwargs(spec: EntrySpec) -> dict:
    return {
        "market": spec.market,
        "entry_date": spec.entry_date,
        "lines": spec.lines,
        "idempotency_key": spec.idempotency_key,
        "source_type": spec.source_type,
        "source_id": spec.source_id,
        "description": spec.description,
    }


@pytest.mark.parametrize("change", ["amount", "account"])
def test_a_stored_key_with_other_lines_is_refused_and_nothing_of_the_batch_is_written(change):
    # given
    m, cost, accrual = _accounts()
    [stored] = ledger_post_many(entries=[_spec("bulk:used", "50.00")])
    other = account_for(market=m, kind=AccountKind.VAT_INPUT)
    reused = {"amount": _spec("bulk:used", "999.00"), "account": _spec("bulk:used", "50.00", debit=other)}[change]
    # when
    with pytest.raises(DomainError) as refused:
        ledger_post_many(entries=[_spec("bulk:new"), reused])
    # then
    assert refused.value.code == "idempotency_key_reused" and refused.value.status == 422
    assert f"'bulk:used' was already used for JE{stored.pk} with other lines" in refused.value.message
    assert _totals() == (1, 2)


def test_a_key_twice_in_one_batch_is_one_entry_with_the_same_lines_and_refused_with_others():
    entries = ledger_post_many(entries=[_spec("bulk:twice"), _spec("bulk:twice")])
    assert entries[0].pk == entries[1].pk and _totals() == (1, 2)
    with pytest.raises(DomainError) as refused:
        ledger_post_many(entries=[_spec("bulk:again"), _spec("bulk:again", "11.00")])
    assert refused.value.code == "idempotency_key_reused" and "bulk:again" in refused.value.message
    assert _totals() == (1, 2)


def _period(code: str, month: date, status: str) -> AccountingPeriod:
    return AccountingPeriod.objects.create(
        market=market(code),
        month=month,
        status=status,
        soft_closed_by=UserFactory(role=Role.FINANCE_SPECIALIST),
        soft_closed_at="2026-11-02T10:00Z",
        closed_by=UserFactory(role=Role.FINANCE_APPROVER) if status == AccountingPeriod.Status.CLOSED else None,
        closed_at="2026-11-03T10:00Z" if status == AccountingPeriod.Status.CLOSED else None,
    )


def test_a_closed_period_refuses_the_batch_but_a_replay_of_stored_entries_still_answers():
    # given October posted, then closed
    [october] = ledger_post_many(entries=[_spec("bulk:oct", on=date(2026, 10, 15))])
    _period("GB", date(2026, 10, 1), AccountingPeriod.Status.CLOSED)
    # when a batch holds a new October entry beside a November one
    with pytest.raises(PeriodClosedError) as refused:
        ledger_post_many(entries=[_spec("bulk:nov"), _spec("bulk:oct-2", on=date(2026, 10, 20))])
    # then nothing of it is written
    assert "Period 2026-10 of GB is closed" in refused.value.message
    assert _totals() == (1, 2)
    # a retry of what was stored before the close returns it, as ledger_post does
    assert ledger_post_many(entries=[_spec("bulk:oct", on=date(2026, 10, 15))])[0].pk == october.pk


def test_a_soft_closed_period_takes_only_an_approvers_adjustment():
    _period("GB", date(2026, 10, 1), AccountingPeriod.Status.SOFT_CLOSED)
    approver = UserFactory(role=Role.FINANCE_APPROVER)
    with pytest.raises(PeriodClosedError) as refused:
        ledger_post_many(entries=[_spec("bulk:soft", on=date(2026, 10, 20), actor=approver)])
    assert refused.value.code == "period_soft_closed"
    [entry] = ledger_post_many(entries=[_spec("bulk:soft", on=date(2026, 10, 20), actor=approver, adjustment=True)])
    assert entry.created_by_id == approver.pk and _totals() == (1, 2)


def test_accounts_for_many_parties_are_created_once_and_found_again():
    m = market("GB")
    made = accounts_for(market=m, kind=AccountKind.SELLER_RECEIVABLE, party_type="seller", party_ids=[7, 8, 9])
    again = accounts_for(market=m, kind=AccountKind.SELLER_RECEIVABLE, party_type="seller", party_ids=[9, 10])
    assert made[9].pk == again[9].pk and again[10].code.endswith("-S10")
    assert made[7].pk == account_for(market=m, kind=AccountKind.SELLER_RECEIVABLE, party_type="seller", party_id=7).pk


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_writers_posting_overlapping_keys_at_once_write_each_entry_once():
    # given two jobs whose batches share forty keys, listed in opposite orders
    _accounts()
    first_keys = [f"race:{n:03d}" for n in range(0, 80)]
    second_keys = [f"race:{n:03d}" for n in range(40, 120)][::-1]

    def post(keys):
        def run():
            with transaction.atomic():
                ids = ledger_post_many(entries=[_spec(key) for key in keys], ids_only=True)
                # hold the locks, so the other writer meets our uncommitted keys
                connection.cursor().execute("SELECT pg_sleep(0.3)")
                return dict(zip(keys, ids, strict=True))

        return run

    # when
    results, errors = run_concurrently(post(first_keys), post(second_keys))
    # then: no error reaches either caller (no deadlock), each key was posted once, both agree
    assert errors == [None, None]
    assert JournalEntry.objects.filter(idempotency_key__startswith="race:").count() == 120
    assert Posting.objects.count() == 240
    shared = set(first_keys) & set(second_keys)
    assert all(results[0][key] == results[1][key] for key in shared)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_concurrent_writer_of_the_same_key_with_other_lines_is_refused():
    _accounts()

    def post(amount):
        def run():
            with transaction.atomic():
                ledger_post_many(entries=[_spec("race:mine", amount), _spec(f"race:own-{amount}", amount)])
                connection.cursor().execute("SELECT pg_sleep(0.3)")

        return run

    results, errors = run_concurrently(post("10.00"), post("20.00"))
    refused = [e for e in errors if e is not None]
    assert len(refused) == 1 and isinstance(refused[0], DomainError)
    assert refused[0].code == "idempotency_key_reused" and "race:mine" in refused[0].message
    # the loser wrote nothing, not even its own key
    assert JournalEntry.objects.filter(idempotency_key__startswith="race:").count() == 2
