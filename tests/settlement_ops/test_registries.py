"""Lower layers find the work of higher ones through fixed-name modules (navigation, portal pages,
demo data, balance checks), never by importing them: the layering of DESIGN.md holds in code."""

import ast
from pathlib import Path

from django.urls import reverse

from billing.ledger_checks import BALANCE_CHECKS as BILLING_CHECKS
from billing.payables.ledger_checks import BALANCE_CHECKS as PAYABLES_CHECKS
from billing.receivables.ledger_checks import BALANCE_CHECKS as RECEIVABLES_CHECKS
from settlement_ops.services import balance_checks

ROOT = Path(__file__).resolve().parents[2]
# Floors of DESIGN.md ("Dependencies point down"); an app imports only floors below its own.
FLOOR = {"settlement_ops": 0, "vendors": 1, "sellers": 1, "billing": 2, "compensation": 3, "risk": 4}


def _imported_apps(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in FLOOR:
                yield node.lineno, top


def test_no_app_imports_one_on_its_own_floor_or_above():
    # given every module of every app (migrations are generated and may name any app)
    upward = []
    for app, floor in FLOOR.items():
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            # when its imports are read
            for line, other in _imported_apps(path):
                if other != app and FLOOR[other] >= floor:
                    upward.append(f"{path.relative_to(ROOT)}:{line} imports {other}")
    # then none points up or sideways
    assert upward == []


def test_the_ledger_check_finds_each_apps_balance_checks_once():
    checks = balance_checks()
    for check in BILLING_CHECKS + PAYABLES_CHECKS + RECEIVABLES_CHECKS:
        assert checks.count(check) == 1, check


def test_portal_pages_of_every_app_share_the_portal_namespace():
    # the portal's own home (sellers) and the receivables pages (billing) under /portal/
    assert reverse("portal:home") == "/portal/"
    assert reverse("portal:invoice_pdf", args=[7]) == "/portal/invoices/7/pdf/"
    assert reverse("portal:statement_export", args=[7]) == "/portal/statements/7/export/"
