import os
import threading

import pytest
from django.db import connection

from settlement_ops.roles import Role
from tests.factories import SellerUserFactory, UserFactory


def pytest_configure(config):
    # No DATABASE_URL: the embedded PostgreSQL server (started once, reused by later runs).
    if not os.environ.get("DATABASE_URL"):
        from settlement_ops import embedded_db

        embedded_db.start()
    # Tests run tasks in-process by default, also when REDIS_URL is set; the tests marked
    # celery_worker switch to the real broker with the live_celery_worker fixture.
    from settlement_ops.celery import app

    app.conf.task_always_eager = True
    _one_redis_database_per_xdist_worker(app)


def _one_redis_database_per_xdist_worker(app) -> None:
    """Under pytest-xdist each worker process has its own test database; it gets its own Redis
    database too, so the broker tests of two workers never purge or consume each other's tasks,
    and cache keys (throttles, cached pages) never cross. Worker processes the tests start
    inherit REDIS_URL."""
    worker, url = os.environ.get("PYTEST_XDIST_WORKER"), os.environ.get("REDIS_URL")
    if not worker or not url:
        return
    from urllib.parse import urlsplit, urlunsplit

    from django.conf import settings

    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    database = (base + 1 + int(worker.removeprefix("gw"))) % 16
    url = urlunsplit(parts._replace(path=f"/{database}"))
    os.environ["REDIS_URL"] = settings.REDIS_URL = settings.CELERY_BROKER_URL = url
    app.conf.broker_url = url
    for cache in settings.CACHES.values():
        cache["KEY_PREFIX"] = worker


def _redis_unavailable() -> str | None:
    """Why a real Celery worker cannot run here, or None when Redis answers at REDIS_URL."""
    url = os.environ.get("REDIS_URL")
    if not url:
        return "REDIS_URL is not set"
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"no Redis answers at {url} ({exc})"
    return None


def pytest_collection_modifyitems(config, items):
    worker_tests = [item for item in items if "celery_worker" in item.keywords]
    # They all purge and consume the one Redis broker: under xdist they share one process.
    for item in worker_tests:
        item.add_marker(pytest.mark.xdist_group("redis_broker"))
    reason = _redis_unavailable() if worker_tests else None
    if reason:
        for item in worker_tests:
            item.add_marker(pytest.mark.skip(reason=f"needs a real Celery worker over Redis: {reason}"))


@pytest.fixture
def user_with_role(db):
    """user_with_role("finance_approver") -> a user in that group."""

    def make(role: str | None = None, **kwargs):
        return UserFactory(role=role, **kwargs)

    return make


@pytest.fixture
def client_as(client, user_with_role):
    """client_as("auditor") -> a test client signed in as a new user of that role."""

    def make(role: str, **kwargs):
        user = user_with_role(role, **kwargs)
        client.force_login(user)
        client.user = user
        return client

    return make


@pytest.fixture
def specialist(user_with_role):
    return user_with_role(Role.FINANCE_SPECIALIST)


@pytest.fixture
def approver(user_with_role):
    return user_with_role(Role.FINANCE_APPROVER)


@pytest.fixture
def seller_user(db):
    return SellerUserFactory().user


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def api_as(api_client, user_with_role):
    """api_as("integration") -> a DRF client authenticated by token as a user of that role."""
    from rest_framework.authtoken.models import Token

    def make(role: str, user=None):
        user = user or user_with_role(role)
        token, _ = Token.objects.get_or_create(user=user)
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        api_client.user = user
        return api_client

    return make


@pytest.fixture
def live_celery_worker(transactional_db):
    """A real Celery worker thread consuming from the Redis broker (REDIS_URL).

    Tasks called with .delay() travel through Redis and run in the worker against the test
    database; use with @pytest.mark.celery_worker and transactional tests.
    """
    from celery.contrib.testing.worker import start_worker

    from settlement_ops.celery import app

    app.conf.task_always_eager = False
    app.loader.import_default_modules()
    app.control.purge()  # nothing left over from an earlier run
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            yield app
    finally:
        app.conf.task_always_eager = True


def run_concurrently(*functions, timeout: float = 60):
    """Run callables in threads that start together, each with its own DB connection.
    Returns (results, errors) in call order."""
    barrier = threading.Barrier(len(functions))
    results = [None] * len(functions)
    errors = [None] * len(functions)

    def runner(index, fn):
        try:
            barrier.wait()
            results[index] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i, fn)) for i, fn in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return results, errors
