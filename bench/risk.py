"""Risk-rules benchmark: every rule over every market, set-based, timed rule by rule.

Run alone:  python -m bench.risk [--markets ZZ,GB] (default: every market, the inactive bench
markets ZZ and ZC included, so the 1M-shipment data of `make bench` is covered).
Or from the billing bench: `from bench import risk; results.update(risk.measure())`.

Each rule runs through `risk.services.rule_run` — the function the nightly chain calls — so the
time includes deduplicating and writing its findings. The goal (issue #16) is under 60 s for
every rule over every market. The findings and rule versions the bench wrote in the inactive
bench markets are deleted afterwards; other markets keep theirs (a second run updates them).
Prints risk_rules_s=…, risk_rules_slowest=<rule>@<market>, risk_rules_slowest_s=…,
risk_rules_findings=….
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settlement_ops.settings.base")

BENCH_MARKETS = ("ZZ", "ZC")


def measure(*, markets: list[str] | None = None, clean_up: bool = True) -> dict:
    from risk.models import Finding, RuleVersion
    from risk.rules import RULES
    from risk.services import rule_run
    from settlement_ops.models import Market

    chosen = Market.objects.order_by("code")
    if markets:
        chosen = chosen.filter(code__in=markets)
    timings, findings = [], 0
    started = time.perf_counter()
    for market in chosen:
        today = market.local_date()
        for rule in RULES:
            t0 = time.perf_counter()
            report = rule_run(rule=rule, market=market, today=today)
            timings.append((time.perf_counter() - t0, rule.code, market.code, report["hits"]))
            findings += report["hits"]
    total = time.perf_counter() - started
    if clean_up:
        for finding in Finding.objects.filter(market_id__in=BENCH_MARKETS):
            finding.delete()
        RuleVersion.objects.filter(market_id__in=BENCH_MARKETS).delete()
    slowest = max(timings, default=(0.0, "-", "-", 0))
    return {
        "risk_rules_s": round(total, 3),
        "risk_rules_slowest": f"{slowest[1]}@{slowest[2]}",
        "risk_rules_slowest_s": round(slowest[0], 3),
        "risk_rules_findings": findings,
        "risk_rules_timings": [
            {"rule": code, "market": m, "seconds": round(s, 3), "hits": hits} for s, code, m, hits in timings
        ],
    }


def report_lines(result: dict) -> list[str]:
    lines = [f"  {'rule':<28} {'market':<6} {'seconds':>8} {'hits':>6}"]
    for row in sorted(result["risk_rules_timings"], key=lambda r: -r["seconds"])[:10]:
        lines.append(f"  {row['rule']:<28} {row['market']:<6} {row['seconds']:>8.3f} {row['hits']:>6}")
    lines.append(
        f"  every rule over every market: {result['risk_rules_s']:.2f}s (goal < 60 s), slowest "
        f"{result['risk_rules_slowest']} {result['risk_rules_slowest_s']:.2f}s"
    )
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.risk", description=__doc__.split("\n\n")[0])
    parser.add_argument("--markets", default="", help="comma-separated market codes (default: all)")
    args = parser.parse_args(argv)
    from bench import open_own_database

    open_own_database()
    result = measure(markets=[m.strip().upper() for m in args.markets.split(",") if m.strip()] or None)
    for line in report_lines(result):
        print(line)
    for key, value in result.items():
        if not isinstance(value, list):
            print(f"{key}={value}")
    return 0 if result["risk_rules_s"] < 60 else 1


if __name__ == "__main__":
    raise SystemExit(main())
