"""Settings defaults, deploy checks, roles and demo data."""

import os
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from sellers.models import Seller
from settlement_ops.models import AuditEvent, FxRate, Market
from settlement_ops.roles import Role, collect_role_permissions
from settlement_ops.tasks import ledger_check_task
from tests.settlement_ops.helpers import post_simple_entry
from vendors.models import Vendor

ROOT = Path(__file__).resolve().parents[2]


def _run_python(code: str, env: dict) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "SECRET_KEY", "DEBUG")
    }
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


def test_embedded_default_is_the_embedded_postgres_socket_and_eager_celery():
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='settlement_ops.settings.base'; django.setup();"
        "from django.conf import settings as s; db=s.DATABASES['default'];"
        "print(db['ENGINE'], db['NAME'], db['OPTIONS']['host'], s.CELERY_TASK_ALWAYS_EAGER, s.DEBUG, s.TIME_ZONE)"
    )
    result = _run_python(code, {})
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "settlement",
        str(ROOT / "var" / "run"),
        "True",
        "False",
        "UTC",
    ], result.stderr


def test_embedded_server_starts_once_is_reused_and_stops(tmp_path):
    # given a folder of its own, so the server this suite may be running on is left alone
    env = {"SETTLEMENT_OPS_VAR": str(tmp_path / "var")}
    command = "import sys; from settlement_ops import embedded_db; sys.exit(embedded_db.main(sys.argv))"

    def embedded(*args):
        return subprocess.run(
            [sys.executable, "-c", command, *args],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )

    try:
        # when
        started = embedded("start")
        # then: PostgreSQL 18 answers on its own socket, with the btree_gist the constraints need
        assert started.returncode == 0, started.stderr
        url = started.stdout.strip()
        socket_dir = str(tmp_path / "var" / "run")
        assert url == f"postgres://postgres@/settlement?host={socket_dir}"
        import psycopg2

        connection = psycopg2.connect(dbname="settlement", user="postgres", host=socket_dir)
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version_num")
            assert int(cursor.fetchone()[0]) >= 180000
            cursor.execute("CREATE EXTENSION btree_gist")
            cursor.execute("SELECT pg_postmaster_start_time()")
            first_start = cursor.fetchone()[0]
        connection.close()
        # a second start reuses the running server
        assert embedded("start").returncode == 0
        connection = psycopg2.connect(dbname="settlement", user="postgres", host=socket_dir)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_postmaster_start_time()")
            assert cursor.fetchone()[0] == first_start
        connection.close()
        assert embedded("status").returncode == 0
    finally:
        stopped = embedded("stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout, stopped.stderr
    assert embedded("status").returncode == 3


def test_database_and_redis_urls_switch_to_postgres_and_workers():
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='settlement_ops.settings.base'; django.setup();"
        "from django.conf import settings as s; print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, s.CELERY_BROKER_URL)"
    )
    result = _run_python(code, {"DATABASE_URL": "postgres://u@db:5432/x", "REDIS_URL": "redis://r:6379/1"})
    assert result.stdout.split() == ["django.db.backends.postgresql", "False", "redis://r:6379/1"], result.stderr


def test_production_settings_pass_the_deploy_check():
    env = {
        "DJANGO_SETTINGS_MODULE": "settlement_ops.settings.production",
        "SECRET_KEY": "k" * 64 + "-production-secret-with-enough-variety-1234567890",
        "ALLOWED_HOSTS": "settlement.example",
        "DATABASE_URL": "postgres://u@db:5432/x",
        "REDIS_URL": "redis://r:6379/0",
    }
    result = _run_python(
        "import django; django.setup(); from django.core.management import call_command; call_command('check', '--deploy', '--fail-level', 'WARNING')",
        env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {
        "DJANGO_SETTINGS_MODULE": "settlement_ops.settings.production",
        "ALLOWED_HOSTS": "x",
        "DATABASE_URL": "postgres://u@db/x",
        "REDIS_URL": "redis://r",
    }
    result = _run_python("import django; django.setup()", env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_market_business_dates_follow_their_timezone(db):
    from datetime import datetime

    moment = datetime(2026, 11, 22, 20, 30, tzinfo=UTC)
    dates = {m.code: m.local_date(moment).isoformat() for m in Market.objects.all()}
    assert dates == {"GB": "2026-11-22", "DE": "2026-11-22", "FR": "2026-11-22", "ID": "2026-11-23", "VN": "2026-11-23"}


@pytest.mark.django_db
def test_every_role_is_a_group_with_its_declared_permissions():
    declared = collect_role_permissions()
    for role in Role.ALL:
        group = Group.objects.get(name=role)
        granted = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
        assert granted == declared[role], role
    assert "settlement_ops.access_staff_pages" not in declared[Role.SELLER_USER]
    assert "settlement_ops.access_staff_pages" not in declared[Role.INTEGRATION]


@pytest.mark.django_db
def test_seed_demo_creates_users_of_every_role_and_is_repeatable(capsys):
    call_command("seed_demo", "--shipments", "50", "--sellers", "3", "--vendors", "2")
    first = capsys.readouterr().out
    assert "settle-demo-2026" in first and "API token of user 'integration'" in first
    for role in Role.ALL:
        assert User.objects.filter(groups__name=role).exists(), role
    counts = (User.objects.count(), FxRate.objects.count())
    call_command("seed_demo", "--shipments", "50", "--sellers", "3", "--vendors", "2")
    assert (User.objects.count(), FxRate.objects.count()) == counts
    assert User.objects.get(username="approver").check_password("settle-demo-2026")


@pytest.mark.django_db
def test_seed_demo_leaves_an_inactive_market_alone():
    # given a market the product does not serve, as the bench leaves behind in the same database
    Market.objects.create(
        code="ZZ",
        name="Bench",
        currency="GBP",
        vat_standard_rate=20,
        timezone="UTC",
        language="en",
        invoice_prefix="ZZ",
        is_active=False,
    )
    # when the demo is seeded: it no longer fails on a market it has no demo names for
    call_command("seed_demo", "--shipments", "50", "--sellers", "3", "--vendors", "2")
    # then the served markets have their demo parties and the inactive one none
    assert Vendor.objects.filter(market="GB").exists() and Seller.objects.filter(market="GB").exists()
    assert not Vendor.objects.filter(market="ZZ").exists() and not Seller.objects.filter(market="ZZ").exists()


@pytest.mark.django_db
def test_nightly_ledger_check_task_records_its_result():
    post_simple_entry()
    assert ledger_check_task.delay().get() == {"ok": True, "problems": []}
    assert AuditEvent.objects.get(action="ledger_check").detail == {"ok": True, "problems": []}


@pytest.mark.celery_worker
def test_ledger_check_runs_in_a_real_worker_over_redis(live_celery_worker):
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    post_simple_entry()
    ledger_check_task.delay()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not AuditEvent.objects.filter(action="ledger_check").exists():
        time.sleep(0.2)
    assert AuditEvent.objects.get(action="ledger_check").detail == {"ok": True, "problems": []}
