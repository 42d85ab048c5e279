"""Two payment runs prepared at the same moment: exactly one gets the payable."""

import datetime as dt

import pytest

from billing.payables import services
from billing.payables.models import Payable, PaymentRunItem
from settlement_ops.errors import DomainError
from settlement_ops.roles import Role
from tests.conftest import run_concurrently
from tests.factories import UserFactory, market
from tests.payables.helpers import open_payable


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_exactly_one_gets_the_payable():
    # given
    payable = open_payable()
    preparers = [UserFactory(role=Role.FINANCE_SPECIALIST) for _ in range(2)]

    def prepare(user):
        return lambda: services.payment_run_prepare(
            actor=user, market=market("GB"), currency="GBP", pay_date=dt.date(2026, 5, 1)
        )

    # when
    results, errors = run_concurrently(prepare(preparers[0]), prepare(preparers[1]))
    # then
    runs = [r for r in results if r is not None]
    assert len(runs) == 1
    assert sum(isinstance(e, DomainError) and e.code == "nothing_due" for e in errors) == 1
    assert PaymentRunItem.objects.filter(payable=payable, is_open=True).count() == 1
    assert Payable.objects.get(pk=payable.pk).payment_run_id == runs[0].pk
