"""Nightly steps of the kernel (collected by the nightly chain): the ledger and integrity checks
(every app's BALANCE_CHECKS), last, once everything else of the night has posted."""

from .services import ledger_check


def _ledger_check(*, market, business_date) -> dict:
    result = ledger_check()
    if not result["ok"]:
        raise RuntimeError(f"Ledger check found {len(result['problems'])} problem(s): {result['problems'][:3]}")
    return {"problems": 0}


STEPS = [{"order": 70, "code": "ledger_check", "label": "Ledger and integrity checks", "run": _ledger_check}]
