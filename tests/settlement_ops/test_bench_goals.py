"""The bench reports goals as targets and fails only on disagreeing results."""

import importlib

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
