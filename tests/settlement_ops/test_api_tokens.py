"""API tokens per integration: created on a staff page (key shown once, only its hash stored),
scoped to a role's permissions, expiring, listed and revoked."""

import datetime as dt
import hashlib

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from settlement_ops.api_tokens import api_token_create, api_token_revoke
from settlement_ops.errors import DomainError
from settlement_ops.models import ApiToken, AuditEvent
from settlement_ops.roles import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "x")


def _token(admin, *, role=Role.FINANCE_SPECIALIST, scope=Role.INTEGRATION, days=30):
    user = UserFactory(role=role)
    return api_token_create(
        actor=admin,
        name="ERP push",
        user=user,
        scope=Group.objects.get(name=scope),
        expires_at=timezone.now() + dt.timedelta(days=days),
    )


def test_admin_creates_a_token_on_the_page_and_sees_the_key_once(client, admin):
    # given
    client.force_login(admin)
    erp = UserFactory(role=Role.INTEGRATION, username="erp")
    scope = Group.objects.get(name=Role.INTEGRATION)
    # when
    response = client.post(
        "/api-tokens/",
        {
            "name": "ERP push",
            "user": erp.pk,
            "scope": scope.pk,
            "expires_on": str(dt.date.today() + dt.timedelta(days=30)),
        },
    )
    # then the key is in this answer, the database keeps only its hash, and the list shows it
    assert response.status_code == 200
    key = response.context["new_key"]
    token = ApiToken.objects.get()
    assert key.startswith(f"so_{token.prefix}_") and key not in str(ApiToken.objects.values().get())
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    listing = client.get("/api-tokens/").content.decode()
    assert "ERP push" in listing and key not in listing
    assert AuditEvent.objects.filter(action="api_token_create", actor=admin).exists()


def test_a_token_acts_as_its_user_within_its_scope(api_client, admin):
    # given a specialist's account, with a token scoped to the integration role
    token, key = _token(admin)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    # then what the scope allows works, what only the user's role allows is refused
    assert api_client.get("/api/markets/").status_code == 200
    assert api_client.get("/api/periods/").status_code == 403
    # and the DRF "Token" keyword works too
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get("/api/markets/").status_code == 200
    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None


def test_revoked_expired_and_wrong_keys_are_refused(api_client, admin):
    token, key = _token(admin)
    # a wrong secret with a real prefix
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer so_{token.prefix}_wrong")
    assert api_client.get("/api/markets/").status_code == 401
    # expired
    ApiToken.objects.filter(pk=token.pk).update(
        created_at=timezone.now() - dt.timedelta(days=2), expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api_client.get("/api/markets/").status_code == 401
    # revoked
    other, other_key = _token(admin)
    api_token_revoke(actor=admin, token=other)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {other_key}")
    response = api_client.get("/api/markets/")
    assert response.status_code == 401 and "revoked" in response.json()["error"]["message"]


def test_revoke_on_the_page(client, admin):
    token, _ = _token(admin)
    client.force_login(admin)
    response = client.post(f"/api-tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == admin


@pytest.mark.parametrize("days", [0, 400])
def test_expiry_must_be_in_the_future_and_within_a_year(admin, days):
    with pytest.raises(DomainError):
        _token(admin, days=days)


def test_the_demo_style_drf_token_still_works(api_as):
    assert api_as(Role.INTEGRATION).get("/api/markets/").status_code == 200
