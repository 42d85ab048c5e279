"""The bench reports goals as targets and fails only on disagreeing results."""

import importlib
import os

import pytest

bench_main = importlib.import_module("bench.__main__")


def test_goal_operators():
    assert bench_main.goal_met(1.0, "<= 1.0") is True
    assert bench_main.goal_met(1.01, "<= 1.0") is False
    assert bench_main.goal_met(50, ">= 50") is True
    assert bench_main.goal_met(49.9, ">= 50") is False
    assert bench_main.goal_met(60, "< 60") is False
    assert bench_main.goal_met(59.9, "< 60") is True
    # no goal, or not a number: nothing to say
    assert bench_main.goal_met(3.0, "") is None
    assert bench_main.goal_met(True, "< 60") is None
    assert bench_main.goal_met("3.0", "< 60") is None


def test_missed_goals_are_named_with_value_and_goal():
    results = {"billing_vs_floor_ratio": 1.19, "billing_vs_naive_ratio": 55.0, "cash_application_s": 12.5}
    assert bench_main.goals_missed(results) == [
        "billing_vs_floor_ratio=1.19 (goal <= 1.0)",
        "cash_application_s=12.5 (goal < 10)",
    ]


def test_quick_bench_has_its_own_duration_goal():
    assert bench_main.goals_missed({"bench_s": 200.0, "quick": True}) == ["bench_s=200.0 (goal < 180)"]
    assert bench_main.goals_missed({"bench_s": 200.0, "quick": False}) == []


def test_readme_table_marks_each_goal():
    table = bench_main.markdown_table(
        {"measured_at": "2026-11-30", "git_commit": "abc", "cpu_count": 2, "shipments": 1000,
         "billing_vs_floor_ratio": 0.9, "intake_shipments_per_s": 6000, "billing_run_s": 3.1}
    )  # fmt: skip
    assert (
        "| `billing_vs_floor_ratio` | billing run / same-output floor (one INSERT ... SELECT), 2 workers | 0.9 | <= 1.0 | yes |"
        in table
    )
    assert "| `intake_shipments_per_s` |" in table and "| 6000 | >= 20000 | **no** |" in table
    assert "| `billing_run_s` | billing run, end to end (s) | 3.1 |  |  |" in table


@pytest.mark.django_db
def test_bench_works_in_a_database_of_its_own(monkeypatch):
    """Full and QUICK each get their own database on the configured server, created on first use;
    the process (and what it starts) is pointed at it."""
    import urllib.parse

    import psycopg2
    from django.db import connection

    import bench

    params = connection.get_connection_params()
    host, port, user = params.get("host") or "", params.get("port") or 5432, params.get("user") or "postgres"
    on_socket = not host or host.startswith("/")
    netloc = f"{user}@" + ("" if on_socket else f"{host}:{port}")
    query = f"?host={urllib.parse.quote(host)}" if host and on_socket else ""
    name = f"{connection.settings_dict['NAME']}_probe"
    monkeypatch.delenv("BENCH_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"postgres://{netloc}/{name}{query}")
    created = [f"{name}_bench_quick", f"{name}_bench"]
    try:
        url = bench.use_own_database(quick=True)
        assert urllib.parse.urlsplit(url).path == f"/{name}_bench_quick"
        assert os.environ["DATABASE_URL"] == url
        assert bench.use_own_database(quick=True) == url  # a second time: found, not created again
        assert urllib.parse.urlsplit(bench.use_own_database(quick=False)).path == f"/{name}_bench"
        with connection.cursor() as cursor:
            cursor.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s) ORDER BY 1", [created])
            assert [row[0] for row in cursor.fetchall()] == sorted(created)
    finally:
        admin = psycopg2.connect(
            dbname="postgres", user=user, password=params.get("password"), host=host or None, port=params.get("port")
        )
        admin.autocommit = True
        with admin.cursor() as cursor:
            for database in created:
                cursor.execute(f'DROP DATABASE IF EXISTS "{database}"')
        admin.close()
