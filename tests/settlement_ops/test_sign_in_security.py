"""Sign-in lockout per user and per client address (django-axes), a forged X-Forwarded-For
changes nothing, and the API answers 429 past its rate."""

import pytest
from django.core.cache import cache
from django.test import override_settings
from rest_framework.throttling import SimpleRateThrottle

from settlement_ops.roles import Role
from settlement_ops.security import client_ip
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _sign_in(client, username, password, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


@override_settings(AXES_FAILURE_LIMIT=3)
def test_the_right_password_is_refused_after_too_many_failures_even_with_a_forged_forwarded_for(client):
    # given three failures, each with a different forged X-Forwarded-For
    UserFactory(role=Role.FINANCE_SPECIALIST, username="sam")
    for n in range(3):
        _sign_in(client, "sam", "wrong", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
    # when the right password comes, from yet another forged address
    response = _sign_in(client, "sam", PASSWORD, HTTP_X_FORWARDED_FOR="10.9.9.9")
    # then the account is locked, with a sentence saying why
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


@override_settings(AXES_FAILURE_LIMIT=3)
def test_one_address_guessing_many_users_is_locked_out(client):
    # given failures for three different users from one address
    UserFactory(role=Role.FINANCE_SPECIALIST, username="victim")
    for name in ("a", "b", "c"):
        _sign_in(client, name, "wrong")
    # when that address signs in with a correct password of another user
    response = _sign_in(client, "victim", PASSWORD)
    # then it is locked out too
    assert response.status_code == 429


@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_success_before_the_limit_resets_the_count(client):
    UserFactory(role=Role.FINANCE_SPECIALIST, username="sam")
    _sign_in(client, "sam", "wrong")
    _sign_in(client, "sam", "wrong")
    assert _sign_in(client, "sam", PASSWORD).status_code == 302


class _Request:
    def __init__(self, remote, forwarded=None):
        self.META = {"REMOTE_ADDR": remote}
        if forwarded is not None:
            self.META["HTTP_X_FORWARDED_FOR"] = forwarded


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "6.6.6.6", "10.0.0.1"),  # no proxy trusted: the header is ignored
        (1, "6.6.6.6, 203.0.113.7", "203.0.113.7"),  # one proxy: the address it saw
        (2, "6.6.6.6, 203.0.113.7, 10.0.0.2", "203.0.113.7"),
        (2, "203.0.113.7", "10.0.0.1"),  # shorter than the proxy chain: not through the proxies
    ],
)
def test_client_address_behind_trusted_proxies(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_ip(_Request("10.0.0.1", forwarded)) == expected


def test_the_api_answers_429_past_its_rate(api_as, monkeypatch):
    # given a rate of three requests a minute per user
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/minute", "anon": "3/minute"})
    cache.clear()
    client = api_as(Role.INTEGRATION)
    # when
    statuses = [client.get("/api/markets/").status_code for _ in range(4)]
    # then
    assert statuses == [200, 200, 200, 429]
    assert client.get("/api/markets/").json()["error"]["code"] == "throttled"
