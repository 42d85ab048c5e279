from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from settlement_ops.errors import DomainError
from settlement_ops.models import AccountKind, ImmutableRowError, JournalEntry, PartyType, Posting
from settlement_ops.selectors import account_balance, balance, trial_balance, unbalanced_entries
from settlement_ops.services import PostingLine, account_for, ledger_check, ledger_post, ledger_reverse
from tests.conftest import run_concurrently
from tests.factories import market
from tests.settlement_ops.helpers import post_simple_entry

pytestmark = pytest.mark.django_db


def _accounts(code="GB"):
    m = market(code)
    return (
        m,
        account_for(market=m, kind=AccountKind.LOGISTICS_COST),
        account_for(market=m, kind=AccountKind.ACCRUED_LOGISTICS_COST),
    )


def test_balanced_entry_writes_all_postings_and_balances_derive_from_them():
    # given
    m, cost, accrual = _accounts()
    payable = account_for(market=m, kind=AccountKind.VENDOR_PAYABLE, party_type=PartyType.VENDOR, party_id=7)
    # when
    entry = ledger_post(
        market=m,
        entry_date=date(2026, 11, 2),
        idempotency_key="k1",
        source_type="test",
        source_id="1",
        description="Three-line entry",
        lines=[
            PostingLine(cost, Decimal("120.00")),
            PostingLine(accrual, Decimal("-100.00")),
            PostingLine(payable, Decimal("-20.00")),
        ],
    )
    # then
    assert entry.postings.count() == 3
    assert account_balance(account=cost).amount == Decimal("120.00")
    assert account_balance(account=payable).amount == Decimal("-20.00")
    assert balance(market=m, party_type="vendor", party_id=7) == {"GBP": Decimal("-20.00")}
    assert payable.code == "2000-V7"
    assert not unbalanced_entries().exists()
    nets = {a.code: a.net for a in trial_balance(market=m)}
    assert nets == {"2000-V7": Decimal("-20.00"), "2100": Decimal("-100.00"), "5000": Decimal("120.00")}


def test_unbalanced_entry_is_refused_and_nothing_is_written():
    m, cost, accrual = _accounts()
    with pytest.raises(DomainError, match=r"does not balance: GBP \+0.01"):
        ledger_post(
            market=m,
            entry_date=date(2026, 11, 2),
            idempotency_key="bad",
            source_type="test",
            source_id="1",
            description="Off by a penny",
            lines=[PostingLine(cost, Decimal("100.01")), PostingLine(accrual, Decimal("-100.00"))],
        )
    assert JournalEntry.objects.count() == 0
    assert Posting.objects.count() == 0


def test_balance_is_checked_per_currency():
    m = market("GB")
    gbp = account_for(market=m, kind=AccountKind.BANK)
    eur = account_for(market=m, kind=AccountKind.CLEARING, currency="EUR")
    with pytest.raises(DomainError, match="does not balance"):
        ledger_post(
            market=m,
            entry_date=date(2026, 11, 2),
            idempotency_key="fx",
            source_type="test",
            source_id="1",
            description="Mixed currencies",
            lines=[PostingLine(gbp, Decimal("100.00")), PostingLine(eur, Decimal("-100.00"))],
        )


@pytest.mark.parametrize(
    "amount, message",
    [(Decimal("10.005"), "more decimals than GBP allows"), (Decimal("0"), "amount is zero")],
)
def test_unrounded_or_zero_amounts_are_refused(amount, message):
    m, cost, accrual = _accounts()
    with pytest.raises(DomainError, match=message):
        ledger_post(
            market=m,
            entry_date=date(2026, 11, 2),
            idempotency_key="x",
            source_type="test",
            source_id="1",
            description="bad",
            lines=[PostingLine(cost, amount), PostingLine(accrual, -amount)],
        )


def test_float_amounts_are_refused_with_the_domain_error():
    m, cost, accrual = _accounts()
    with pytest.raises(DomainError) as refused:
        ledger_post(
            market=m,
            entry_date=date(2026, 11, 2),
            idempotency_key="f",
            source_type="test",
            source_id="1",
            description="float",
            lines=[PostingLine(cost, 10.5), PostingLine(accrual, -10.5)],
        )
    assert (refused.value.code, refused.value.field) == ("float_amount", "amount")
    assert "Posting 0: 10.5 is a binary float" in refused.value.message
    assert not JournalEntry.objects.filter(idempotency_key="f").exists()


def test_accounts_of_another_market_are_refused():
    m, cost, _ = _accounts("GB")
    other = account_for(market=market("DE"), kind=AccountKind.ACCRUED_LOGISTICS_COST)
    with pytest.raises(DomainError, match="belongs to market DE"):
        ledger_post(
            market=m,
            entry_date=date(2026, 11, 2),
            idempotency_key="m",
            source_type="test",
            source_id="1",
            description="cross",
            lines=[PostingLine(cost, Decimal("1.00")), PostingLine(other, Decimal("-1.00"))],
        )


def test_idr_amounts_post_without_minor_units():
    m, cost, accrual = _accounts("ID")
    entry = ledger_post(
        market=m,
        entry_date=date(2026, 11, 2),
        idempotency_key="idr",
        source_type="test",
        source_id="1",
        description="IDR",
        lines=[PostingLine(cost, Decimal("15000")), PostingLine(accrual, Decimal("-15000"))],
    )
    assert {p.currency for p in entry.postings.all()} == {"IDR"}
    with pytest.raises(DomainError, match="more decimals than IDR allows"):
        ledger_post(
            market=m,
            entry_date=date(2026, 11, 2),
            idempotency_key="idr2",
            source_type="test",
            source_id="1",
            description="IDR",
            lines=[PostingLine(cost, Decimal("15000.5")), PostingLine(accrual, Decimal("-15000.5"))],
        )


def test_posting_the_same_key_twice_returns_the_first_entry():
    first = post_simple_entry(key="run:7:vendor:3", amount="50.00")
    again = post_simple_entry(key="run:7:vendor:3", amount="50.00")
    assert again.pk == first.pk
    assert JournalEntry.objects.count() == 1
    assert Posting.objects.count() == 2
    assert sorted(p.amount for p in Posting.objects.all()) == [Decimal("-50.00"), Decimal("50.00")]


def test_the_same_lines_in_another_order_are_the_same_posting():
    m, cost, accrual = _accounts()
    first = post_simple_entry(key="order", amount="12.34")
    again = ledger_post(
        market=m,
        entry_date=date(2026, 11, 1),
        idempotency_key="order",
        source_type="test",
        source_id="1",
        description="Test accrual",
        lines=[PostingLine(accrual, Decimal("-12.34")), PostingLine(cost, Decimal("12.34"))],
    )
    assert again.pk == first.pk and JournalEntry.objects.count() == 1


@pytest.mark.parametrize("change", ["amount", "account"])
def test_a_reused_key_with_other_lines_is_refused_and_writes_nothing(change):
    # given
    m, cost, accrual = _accounts()
    first = post_simple_entry(key="run:7:vendor:3", amount="50.00")
    other = account_for(market=m, kind=AccountKind.VAT_INPUT)
    lines = {
        "amount": [PostingLine(cost, Decimal("999.00")), PostingLine(accrual, Decimal("-999.00"))],
        "account": [PostingLine(other, Decimal("50.00")), PostingLine(accrual, Decimal("-50.00"))],
    }[change]
    # when
    with pytest.raises(DomainError) as refused:
        ledger_post(
            market=m,
            entry_date=date(2026, 11, 1),
            idempotency_key="run:7:vendor:3",
            source_type="test",
            source_id="1",
            description="Test accrual",
            lines=lines,
        )
    # then
    assert refused.value.code == "idempotency_key_reused" and refused.value.status == 422
    assert f"already used for JE{first.pk} with other lines" in refused.value.message
    assert JournalEntry.objects.count() == 1 and Posting.objects.count() == 2


def test_posted_rows_cannot_be_changed_or_deleted_through_the_orm():
    entry = post_simple_entry()
    posting = entry.postings.first()
    entry.description = "changed"
    with pytest.raises(ImmutableRowError):
        entry.save()
    with pytest.raises(ImmutableRowError):
        entry.delete()
    posting.amount = Decimal("1.00")
    with pytest.raises(ImmutableRowError):
        posting.save()
    with pytest.raises(ImmutableRowError):
        Posting.objects.filter(pk=posting.pk).update(amount=Decimal("1.00"))
    with pytest.raises(ImmutableRowError):
        JournalEntry.objects.all().delete()


@pytest.mark.postgres
def test_postgres_refuses_raw_sql_changes_to_postings():
    entry = post_simple_entry()
    with pytest.raises(Exception, match="immutable"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE settlement_ops_posting SET amount = 1 WHERE entry_id = %s", [entry.pk])
    with pytest.raises(Exception, match="immutable"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM settlement_ops_journalentry WHERE id = %s", [entry.pk])
    assert sorted(p.amount for p in Posting.objects.filter(entry=entry)) == [Decimal("-100.00"), Decimal("100.00")]


@pytest.mark.parametrize(
    ("column", "value", "what"),
    [
        ("market_id", "'DE'", "another market"),
        ("entry_date", "entry_date + 1", "another date"),
        ("entry_id", "0", "no entry"),
    ],
)
def test_the_database_refuses_a_posting_whose_market_or_date_is_not_its_entrys(column, value, what):
    # given: an entry of GB on its day, and market DE existing
    entry = post_simple_entry()
    market("DE")
    columns = "entry_id, account_id, currency, amount, market_id, entry_date, party_type, party_id, memo"
    # when: a posting of it is written with another market, date or entry than the entry's own
    with (
        pytest.raises(IntegrityError, match="posting_entry_market_date_fk"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            f"INSERT INTO settlement_ops_posting ({columns}) "
            f"SELECT {columns.replace(column, value)} FROM settlement_ops_posting WHERE entry_id = %s LIMIT 1",
            [entry.pk],
        )
    # then: the composite key (entry, market, date) refused it ({what}); the entry keeps its two
    assert Posting.objects.filter(entry=entry).count() == 2, what
    assert Posting.objects.count() == 2


def test_reversal_posts_the_mirror_entry_once():
    entry = post_simple_entry(amount="80.00")
    cost = entry.postings.get(amount__gt=0).account
    reversal = ledger_reverse(entry=entry, reason="wrong vendor")
    again = ledger_reverse(entry=entry, reason="clicked twice")
    assert again.pk == reversal.pk
    assert reversal.reverses_id == entry.pk
    assert sorted(p.amount for p in reversal.postings.all()) == [Decimal("-80.00"), Decimal("80.00")]
    assert account_balance(account=cost).amount == Decimal("0.00")
    with pytest.raises(DomainError, match="cannot itself be reversed"):
        ledger_reverse(entry=reversal, reason="undo")


def test_nightly_ledger_check_passes_on_a_balanced_ledger():
    post_simple_entry()
    assert ledger_check() == {"ok": True, "problems": []}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_posts_with_the_same_key_write_exactly_one_entry():
    # given two workers posting the same accrual at the same moment
    m, cost, accrual = _accounts()

    def post(amount):
        def run():
            with transaction.atomic():
                entry = ledger_post(
                    market=m,
                    entry_date=date(2026, 11, 2),
                    idempotency_key="race:1",
                    source_type="test",
                    source_id="1",
                    description="race",
                    lines=[PostingLine(cost, Decimal(amount)), PostingLine(accrual, -Decimal(amount))],
                )
                # hold the transaction open so the other insert must wait on the unique key
                connection.cursor().execute("SELECT pg_sleep(0.3)")
                return entry.pk

        return run

    # when
    results, errors = run_concurrently(post("10.00"), post("10.00"))
    # then
    assert errors == [None, None]
    assert results[0] == results[1]
    assert JournalEntry.objects.filter(idempotency_key="race:1").count() == 1
    assert Posting.objects.count() == 2


def test_ledger_check_is_exact_for_amounts_binary_floats_cannot_hold():
    # 1.20 = 1.00 + 0.20 exactly in NUMERIC, but not in binary floats: the check must be exact
    m = market("GB")
    ledger_post(
        market=m,
        entry_date=date(2026, 11, 2),
        idempotency_key="tenths",
        source_type="test",
        source_id="1",
        description="tenths",
        lines=[
            PostingLine(account_for(market=m, kind=AccountKind.LOGISTICS_COST), Decimal("1.20")),
            PostingLine(account_for(market=m, kind=AccountKind.ACCRUED_LOGISTICS_COST), Decimal("-1.00")),
            PostingLine(account_for(market=m, kind=AccountKind.VAT_INPUT), Decimal("-0.20")),
        ],
    )
    for index in range(30):
        post_simple_entry(key=f"tenth:{index}", amount=f"0.{index % 10}1")
    assert list(unbalanced_entries()) == []
    assert ledger_check()["ok"] is True
