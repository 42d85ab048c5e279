"""Idempotency-Key: a server error releases the key; a replay is the first response's bytes."""

import pytest
from django.urls import get_resolver
from rest_framework.viewsets import ViewSetMixin

from settlement_ops import api as kernel_api
from settlement_ops.api import IdempotentMixin
from settlement_ops.models import FxRate, IdempotencyRecord
from settlement_ops.roles import Role

pytestmark = pytest.mark.django_db

RATE = {"rate_date": "2026-11-20", "currency": "GBP", "rate": "1.165"}


def test_an_unhandled_error_releases_the_key_so_the_retry_runs(api_as, monkeypatch):
    # given the first attempt dies with an unhandled exception (a 500)
    client = api_as(Role.FINANCE_SPECIALIST)
    client.raise_request_exception = False

    def boom(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(kernel_api, "fx_rate_store", boom)
    first = client.post("/api/fx-rates/", RATE, format="json", HTTP_IDEMPOTENCY_KEY="fx-boom")
    assert first.status_code == 500
    assert not IdempotencyRecord.objects.filter(key="fx-boom").exists()
    # when the client retries with the same key once the fault is gone
    monkeypatch.undo()
    retry = client.post("/api/fx-rates/", RATE, format="json", HTTP_IDEMPOTENCY_KEY="fx-boom")
    # then it runs (not 409)
    assert retry.status_code == 201
    assert FxRate.objects.count() == 1


def test_a_replay_is_byte_identical_with_the_same_content_type(api_as):
    # given
    client = api_as(Role.FINANCE_SPECIALIST)
    first = client.post("/api/fx-rates/", RATE, format="json", HTTP_IDEMPOTENCY_KEY="fx-bytes")
    # when the stored data would render differently today (e.g. a serializer change)
    record = IdempotencyRecord.objects.get(key="fx-bytes")
    IdempotencyRecord.objects.filter(pk=record.pk).update(response_body={"rate": "changed"})
    again = client.post("/api/fx-rates/", RATE, format="json", HTTP_IDEMPOTENCY_KEY="fx-bytes")
    # then the replay is the first response's bytes
    assert again.status_code == 201
    assert again.content == first.content
    assert again["Content-Type"] == first["Content-Type"]


def _api_viewsets():
    resolver = get_resolver()
    seen = set()

    def walk(patterns):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from walk(pattern.url_patterns)
                continue
            cls = getattr(pattern.callback, "cls", None)
            actions = getattr(pattern.callback, "actions", None) or {}
            if cls and issubclass(cls, ViewSetMixin) and "post" in actions and cls not in seen:
                seen.add(cls)
                yield cls

    return list(walk(resolver.url_patterns))


# Reads that answer a computation and never store anything.
NOT_MONEY_MOVING = {"QuoteViewSet"}


def test_every_api_post_goes_through_the_idempotency_mixin():
    missing = [
        f"{cls.__module__}.{cls.__name__}"
        for cls in _api_viewsets()
        if not issubclass(cls, IdempotentMixin) and cls.__name__ not in NOT_MONEY_MOVING
    ]
    assert missing == []
