"""Incremental nightly work: a night's run and freight audit with a large billed history, against
the same night alone (`billing_incremental_ratio`, `audit_incremental_ratio`; goal <= 1.3).

1. Alone: market ZZ afresh with only the night's `new` shipments (one vendor; the series numbers
   history + 1 ...), rated by a run (timed end to end, as bench/run.py does); then the vendor's
   invoice billing all of them is audited (timed), after an earlier invoice of the vendor (ten
   unknown tracking numbers): the audit of a vendor's first invoice skips the check against double
   billing, which every later one runs line by line, so it would not be the same work. Timed as
   the first invoice too, for information (`audit_incremental_ratio_first_invoice`).
2. With history: market ZZ afresh with `history` shipments written a day ago, rated by a run
   (untimed, reported as `billing_history_run_s`), and billed on an earlier invoice of the same
   vendor (every history line: the duplicate check's haystack). Then the same `new` shipments
   arrive (the same series numbers, so the same rows and amounts), and the night's run and the
   audit of the night's invoice are timed as in 1.
   Each side's audit is timed AUDIT_REPEATS times, on a fresh copy of the night's invoice each
   time (the last one deleted first, so it is never an earlier invoice of the next), and the
   fastest counts: one audit takes 2-3 s, and on a shared machine a single sample of each side
   made the ratio swing from 0.88 to 1.83 with the same code.
3. Checks: both nights rated exactly the new shipments to the same totals, and every audit (both
   sides, each copy) matched the same lines to the same expected total and flags.
Rebuilds market ZZ: run it after the sections that use the billing bench's data.
"""

from __future__ import annotations

import time

from django.db import connection

from . import data, payables_audit, run, settle

AUDIT_REPEATS = 2


def _night(*, workers: int, chunk_size: int | None, business_date) -> dict:
    settle()
    started = time.perf_counter()
    result = run.measure(business_date=business_date, workers=workers, chunk_size=chunk_size)
    result["wall"] = time.perf_counter() - started
    return result


def _vendor():
    from vendors.models import Vendor

    from . import MARKET

    return Vendor.objects.filter(market_id=MARKET, code="BENCH-V01").get()


def measure(*, history: int, new: int, workers: int, chunk_size: int | None, audit: bool = True) -> dict:
    _drop_invoices()  # left by an interrupted bench
    # 1. The night alone.
    setup = data.prepare(shipments=new, vendors=1, start=history)
    business_date = setup["business_date"]
    alone = _night(workers=workers, chunk_size=chunk_size, business_date=business_date)
    vendor = _vendor()
    alone_audit = alone_first_audit = None
    if audit:
        alone_first_audit = _timed_audits(vendor=vendor, first_id=0)
        # The vendor's first invoice has no earlier one to be checked against, and the planner
        # drops the check against double billing; any later invoice runs it, line by line. An
        # earlier invoice of ten unknown tracking numbers (no shipment billed twice, so the same
        # verdicts) makes the night alone run it too: the ratio then measures what history adds.
        payables_audit.invoice_for(vendor=vendor, number="BENCH-EARLIER", first_id=_max_shipment_id(), unknown=10)
        alone_audit = _timed_audits(vendor=vendor, first_id=0)
    _drop_invoices()

    # 2. The same night on top of history.
    started = time.perf_counter()
    setup = data.prepare(shipments=history, vendors=1, age_days=1)
    history_generate_s = time.perf_counter() - started
    history_run = _night(workers=workers, chunk_size=chunk_size, business_date=business_date)
    watermark = _max_shipment_id()
    started = time.perf_counter()
    if audit:
        payables_audit.invoice_for(vendor=vendor, number="BENCH-HISTORY", last_id=watermark, unknown=0)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {payables_audit._tables()['line']}")
    history_invoice_s = time.perf_counter() - started
    data.add_shipments(shipments=new, vendors=1, start=history)
    night = _night(workers=workers, chunk_size=chunk_size, business_date=business_date)
    night_audit = _timed_audits(vendor=vendor, first_id=watermark) if audit else None
    _drop_invoices()

    same_run = (alone["rated"], alone["vendor_net"], alone["seller_net"]) == (
        night["rated"],
        night["vendor_net"],
        night["seller_net"],
    ) and alone["rated"] == new
    figures = {
        "incremental_history": history,
        "incremental_new": new,
        "incremental_history_generate_s": round(history_generate_s, 1),
        "billing_history_run_s": round(history_run["seconds"], 3),
        "billing_night_alone_s": round(alone["seconds"], 3),
        "billing_night_alone_plan_s": round(alone["plan_seconds"], 3),
        "billing_night_with_history_s": round(night["seconds"], 3),
        "billing_night_with_history_plan_s": round(night["plan_seconds"], 3),
        "billing_night_alone_rate_post_s": f"{alone['rate_seconds']:.2f}+{alone['post_seconds']:.2f}",
        "billing_night_with_history_rate_post_s": f"{night['rate_seconds']:.2f}+{night['post_seconds']:.2f}",
        "billing_incremental_ratio": round(night["seconds"] / alone["seconds"], 2) if alone["seconds"] else 0,
        "billing_incremental_same_output": same_run,
    }
    ok = same_run
    if audit:
        keys = ("lines", "flagged", "pending", "matched", "matched_net")
        same_audit = all(
            all(other[k] == night_audit[k] for k in keys) and other["repeatable"]
            for other in (alone_audit, alone_first_audit, night_audit)
        )
        figures.update(
            {
                "audit_history_invoice_s": round(history_invoice_s, 1),
                "audit_night_lines": night_audit["lines"],
                "audit_night_alone_s": round(alone_audit["seconds"], 3),
                "audit_night_with_history_s": round(night_audit["seconds"], 3),
                "audit_night_alone_samples_s": alone_audit["samples"],
                "audit_night_alone_first_invoice_s": round(alone_first_audit["seconds"], 3),
                "audit_night_with_history_samples_s": night_audit["samples"],
                "audit_incremental_ratio": round(night_audit["seconds"] / alone_audit["seconds"], 2)
                if alone_audit["seconds"]
                else 0,
                # For information: over the vendor's first invoice, which skips the check.
                "audit_incremental_ratio_first_invoice": round(
                    night_audit["seconds"] / alone_first_audit["seconds"], 2
                ),
                "audit_incremental_same_output": same_audit,
            }
        )
        ok = ok and same_audit
    figures["incremental_checks_ok"] = ok
    return figures


def _timed_audits(*, vendor, first_id: int) -> dict:
    """The night's invoice (the vendor's shipments above `first_id`) audited AUDIT_REPEATS times,
    each on a fresh copy; the fastest, with every sample's seconds. Every copy must come out the
    same (lines, flags, matched amounts)."""
    from billing.payables.models import VendorInvoice

    from . import MARKET

    audits = []
    for _ in range(AUDIT_REPEATS):
        invoice = payables_audit.invoice_for(vendor=vendor, number="BENCH-NIGHT", first_id=first_id)
        settle()
        audits.append(payables_audit.time_audit(invoice))
        VendorInvoice.objects.filter(market_id=MARKET, number="BENCH-NIGHT").delete()
    verdicts = {tuple(v for k, v in a.items() if k != "seconds") for a in audits}
    fastest = min(audits, key=lambda a: a["seconds"])
    return {**fastest, "samples": [round(a["seconds"], 3) for a in audits], "repeatable": len(verdicts) == 1}


def _max_shipment_id() -> int:
    from billing.models import Shipment

    return Shipment.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _drop_invoices() -> None:
    from billing.payables.models import VendorInvoice

    from . import MARKET

    VendorInvoice.objects.filter(
        market_id=MARKET, number__in=["BENCH-NIGHT", "BENCH-HISTORY", "BENCH-EARLIER"]
    ).delete()


def report_lines(f: dict) -> list[str]:
    lines = [
        f"  history: {f['incremental_history']:,} shipments generated in {f['incremental_history_generate_s']}s, "
        f"billed in {f['billing_history_run_s']}s",
        f"  night of {f['incremental_new']:,}: alone {f['billing_night_alone_s']}s "
        f"(plan {f['billing_night_alone_plan_s']}s), with history {f['billing_night_with_history_s']}s "
        f"(plan {f['billing_night_with_history_plan_s']}s) -> ratio {f['billing_incremental_ratio']} (goal <= 1.3), "
        f"same output: {f['billing_incremental_same_output']}",
    ]
    if "audit_incremental_ratio" in f:
        lines.append(
            f"  audit of {f['audit_night_lines']:,} lines (fastest of {AUDIT_REPEATS}): alone "
            f"{f['audit_night_alone_s']}s {f['audit_night_alone_samples_s']}, with {f['incremental_history']:,} "
            f"earlier lines {f['audit_night_with_history_s']}s {f['audit_night_with_history_samples_s']} -> ratio "
            f"{f['audit_incremental_ratio']} (goal <= 1.3), same verdicts: {f['audit_incremental_same_output']}"
        )
        lines.append(
            "  (the night alone as the vendor's first invoice, which skips the check against double billing: "
            f"{f['audit_night_alone_first_invoice_s']}s -> ratio {f['audit_incremental_ratio_first_invoice']})"
        )
    return lines
