"""The signed-in user is loaded with its roles, permissions and seller language in one query
(settlement_ops.backends.SignedInUserBackend), and what it may do still follows the database on
every request: a role taken away, a permission granted to the user alone, a deactivated user."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from settlement_ops.roles import Role
from tests.factories import SellerFactory, SellerUserFactory, UserFactory, market

pytestmark = pytest.mark.django_db

RUNS = "/billing/runs/"


def _permission(dotted: str) -> Permission:
    app_label, codename = dotted.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def test_a_staff_page_reads_the_user_roles_and_permissions_in_one_query(client):
    user = UserFactory(role=Role.FINANCE_SPECIALIST)
    client.force_login(user)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(RUNS)
    assert response.status_code == 200
    about_the_user = [
        q["sql"] for q in captured.captured_queries if "auth_permission" in q["sql"] or "auth_group" in q["sql"]
    ]
    assert len(about_the_user) == 1
    assert "FROM auth_user u WHERE" in about_the_user[0]


def test_a_role_taken_away_refuses_the_next_request(client):
    user = UserFactory(role=Role.FINANCE_SPECIALIST)
    client.force_login(user)
    assert client.get(RUNS).status_code == 200
    user.groups.clear()
    assert client.get(RUNS).status_code == 403


def test_permissions_granted_to_the_user_alone_count(client):
    user = UserFactory()
    client.force_login(user)
    assert client.get(RUNS).status_code == 403
    user.user_permissions.add(_permission("settlement_ops.access_staff_pages"), _permission("billing.view_billingrun"))
    assert client.get(RUNS).status_code == 200
    # one of the two is not enough
    user.user_permissions.remove(_permission("billing.view_billingrun"))
    assert client.get(RUNS).status_code == 403


def test_a_deactivated_user_is_signed_out(client):
    user = UserFactory(role=Role.FINANCE_SPECIALIST)
    client.force_login(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    response = client.get(RUNS)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_superuser_without_roles_opens_staff_pages(client):
    user = UserFactory(is_superuser=True)
    client.force_login(user)
    assert client.get(RUNS).status_code == 200


def test_a_seller_user_reads_the_portal_in_the_market_language_and_no_staff_page(client):
    seller_user = SellerUserFactory(seller=SellerFactory(market=market("VN")))
    client.force_login(seller_user.user)
    home = client.get(reverse("portal:home"))
    assert home.status_code == 200 and home["Content-Language"] == "vi"
    assert client.get(RUNS).status_code == 403
    # a staff role given to the seller's user shows up on the next request, language unchanged
    seller_user.user.groups.add(Group.objects.get(name=Role.FINANCE_SPECIALIST))
    assert client.get(reverse("portal:home"))["Content-Language"] == "vi"


def test_a_portal_page_looks_the_seller_up_once_and_a_changed_link_applies_on_the_next_request(client):
    seller_user = SellerUserFactory()
    client.force_login(seller_user.user)
    with CaptureQueriesContext(connection) as captured:
        # the access check and the scoped invoice list both ask for the user's seller
        assert client.get(reverse("portal:invoices")).status_code == 200
    assert sum("sellers_selleruser" in q["sql"] and "FROM auth_user u" not in q["sql"] for q in captured) == 1
    seller_user.delete()
    assert client.get(reverse("portal:invoices")).status_code == 403


def test_the_navigation_follows_the_users_permissions_from_one_request_to_the_next(client):
    user = UserFactory(role=Role.FINANCE_SPECIALIST)
    client.force_login(user)
    tokens = f'href="{reverse("api_tokens")}"'
    assert tokens not in client.get(RUNS).content.decode()
    user.user_permissions.add(_permission("settlement_ops.manage_apitoken"))
    assert tokens in client.get(RUNS).content.decode()
    user.user_permissions.clear()
    assert tokens not in client.get(RUNS).content.decode()
