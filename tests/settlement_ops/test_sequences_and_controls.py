from datetime import date
from decimal import Decimal

import pytest
from django.db import transaction

from settlement_ops.errors import PermissionDeniedError
from settlement_ops.models import ApprovalLimit, NumberSequence
from settlement_ops.roles import Role
from settlement_ops.services import approval_check, document_number_next, sequence_next
from tests.conftest import run_concurrently
from tests.factories import market

pytestmark = pytest.mark.django_db


def test_numbers_are_consecutive_per_market_kind_and_year():
    gb, de = market("GB"), market("DE")
    with transaction.atomic():
        first = document_number_next(market=gb, kind="inv", on=date(2026, 3, 1))
        second = document_number_next(market=gb, kind="inv", on=date(2026, 12, 31))
        other_market = document_number_next(market=de, kind="inv", on=date(2026, 3, 1))
        next_year = document_number_next(market=gb, kind="inv", on=date(2027, 1, 1))
        credit = document_number_next(market=gb, kind="cn", on=date(2026, 3, 1))
    assert (first, second) == ("GB-INV-2026-000001", "GB-INV-2026-000002")
    assert other_market == "DE-INV-2026-000001"
    assert next_year == "GB-INV-2027-000001"
    assert credit == "GB-CN-2026-000001"


def test_a_rolled_back_document_gives_its_number_back():
    gb = market("GB")
    with pytest.raises(RuntimeError), transaction.atomic():
        sequence_next(market=gb, kind="inv", year=2026)
        raise RuntimeError("document failed validation")
    with transaction.atomic():
        assert sequence_next(market=gb, kind="inv", year=2026) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_numbering_is_gapless_and_unique():
    gb = market("GB")

    def take_numbers():
        taken = []
        for _ in range(10):
            with transaction.atomic():
                taken.append(sequence_next(market=gb, kind="inv", year=2026))
        return taken

    results, errors = run_concurrently(take_numbers, take_numbers, take_numbers, take_numbers)
    assert errors == [None] * 4
    numbers = sorted(n for batch in results for n in batch)
    assert numbers == list(range(1, 41))
    assert NumberSequence.objects.get(market=gb, kind="inv", year=2026).last_value == 40


@pytest.mark.django_db(transaction=True)
def test_sequence_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="inside the document's transaction"):
        sequence_next(market=market("GB"), kind="inv", year=2026)


def test_four_eyes_refuses_the_preparer(user_with_role):
    approver = user_with_role(Role.FINANCE_APPROVER)
    with pytest.raises(PermissionDeniedError, match="Four eyes"):
        approval_check(
            actor=approver, action="payment_run", prepared_by=approver, amount=Decimal("1.00"), currency="GBP"
        )


def test_approval_limits_by_role_and_currency(user_with_role):
    preparer = user_with_role(Role.FINANCE_SPECIALIST)
    approver = user_with_role(Role.FINANCE_APPROVER)
    limit = ApprovalLimit.objects.get(role=Role.FINANCE_APPROVER, action="payment_run", currency="GBP").max_amount
    assert limit == Decimal("500000")
    # at the limit: allowed
    approval_check(actor=approver, action="payment_run", prepared_by=preparer, amount=limit, currency="GBP")
    # a penny above: refused with the limit named
    with pytest.raises(PermissionDeniedError, match="above your approval limit of GBP 500000"):
        approval_check(
            actor=approver, action="payment_run", prepared_by=preparer, amount=limit + Decimal("0.01"), currency="GBP"
        )
    # a role with no limit cannot approve at all
    with pytest.raises(PermissionDeniedError, match="no approval limit"):
        approval_check(
            actor=preparer, action="payment_run", prepared_by=approver, amount=Decimal("1.00"), currency="GBP"
        )
    # actions without an amount only need four eyes
    approval_check(actor=approver, action="bank_account", prepared_by=preparer)
