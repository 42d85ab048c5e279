"""Records only the services write are read-only in the admin, for every app that shows them."""

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db

READ_ONLY = [
    "settlement_ops/journalentry",
    "settlement_ops/auditevent",
    "billing/chargeline",
    "billing/chargelinetotal",
    "billing/billingrun",
    "billing/sellerfeeschedule",
    "receivables/statement",
    "receivables/invoice",
]


@pytest.mark.parametrize("model", READ_ONLY)
def test_a_superuser_may_look_but_not_add(client, model):
    # given
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "x"))
    # then
    assert client.get(f"/admin/{model}/").status_code == 200
    assert client.get(f"/admin/{model}/add/").status_code == 403
