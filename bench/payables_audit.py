"""Freight-audit benchmark: a 200,000-line vendor invoice audited set-based, against a floor.

Run after (or instead of) the billing bench:  python -m bench.payables_audit [--lines 200000]
Or from the billing bench: `from bench.payables_audit import measure; results.update(measure(lines=N))`.

1. Data: market ZZ of the billing bench with ONE vendor, `lines` shipments rated by the billing
   run (bench.data.prepare + bench.run.measure), all delivered. The invoice and its lines are
   written with one INSERT ... SELECT from the charge lines (every 50th line billed 0.50 above,
   every 97th at another weight, 10 unknown tracking numbers), so it stays in review and posts
   nothing.
2. Floor: ONE statement (CREATE TEMP TABLE ... AS SELECT) that matches every line to its shipment
   and to its charge lines summed per shipment, and compares billed with expected — the least
   work an audit must do.
3. Audit: `invoice_audit` (match + nine flags + decisions + summary, one transaction), timed to
   its commit, with the progress steps it reports.
4. Check: the audit matched the same lines to the same expected net as the floor (count and sum).
5. Clean-up: the benchmark invoice and its lines are deleted (the billing bench resets ZZ).
Statistics of the tables both read are refreshed first (ANALYZE), so neither runs on the stale
estimates left by the bulk load. Prints audit_lines_per_s=…, audit_floor_lines_per_s=…,
audit_vs_floor_ratio=… (audit / floor time) and audit_totals_agree=….
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settlement_ops.settings.base")


def _tables() -> dict[str, str]:
    """Table names of the models the statements here read and write (after django.setup())."""
    from billing.models import ChargeLine, Shipment
    from billing.payables.models import VendorInvoice, VendorInvoiceLine

    return {
        "line": VendorInvoiceLine._meta.db_table,
        "invoice": VendorInvoice._meta.db_table,
        "shipment": Shipment._meta.db_table,
        "charge_line": ChargeLine._meta.db_table,
    }


def _invoice_lines_sql(invoice_id: int, vendor_id: int, first_id: int = 0, last_id: int | None = None) -> str:
    t = _tables()
    return f"""
    INSERT INTO {t["line"]} (invoice_id, line_no, tracking_number, billed_weight_kg, billed_base, billed_fuel,
        billed_remote_area, billed_oversize, billed_cod, billed_peak, billed_returns, billed_net, billed_vat, billed_gross,
        flag_unknown_tracking, flag_duplicate_in_invoice, flag_duplicate_other_invoice, flag_not_rated, flag_over_tolerance,
        flag_weight_mismatch, flag_surcharge_not_in_contract, flag_expired_contract, flag_not_delivered, decision,
        approved_net, approved_vat, reason)
    SELECT {invoice_id}, 1 + s.k, s.tracking_number,
        CASE WHEN s.k % 97 = 0 THEN c.chargeable_weight_kg + 1 ELSE c.chargeable_weight_kg END,
        c.vendor_base, c.vendor_fuel, c.vendor_remote, c.vendor_oversize, c.vendor_cod, c.vendor_peak, c.vendor_returns,
        c.vendor_net + CASE WHEN s.k % 50 = 0 THEN 0.50 ELSE 0 END, c.vendor_vat,
        c.vendor_net + c.vendor_vat + CASE WHEN s.k % 50 = 0 THEN 0.50 ELSE 0 END,
        FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, 'pending', 0, 0, ''
    FROM (
        -- k: the shipment's place in the invoice (not its id), so the same shipments make the same
        -- invoice whatever ids the database gave them.
        SELECT s.id, s.tracking_number, ROW_NUMBER() OVER (ORDER BY s.id) AS k FROM {t["shipment"]} s
        WHERE s.vendor_id = {vendor_id} AND s.id > {int(first_id)}{f" AND s.id <= {int(last_id)}" if last_id else ""}
    ) s
    JOIN {t["charge_line"]} c ON c.shipment_id = s.id AND c.generation = 1
    """


def _floor_sql() -> str:
    t = _tables()
    return f"""
CREATE TEMP TABLE payables_bench_floor AS
SELECT l.id, s.id AS shipment_id, agg.net, (l.billed_net - agg.net > 0) AS over
FROM {t["line"]} l
JOIN {t["shipment"]} s ON s.vendor_id = %(vendor)s AND s.tracking_number = l.tracking_number
JOIN (SELECT shipment_id, SUM(vendor_net) AS net FROM {t["charge_line"]} WHERE vendor_id = %(vendor)s GROUP BY shipment_id) agg
    ON agg.shipment_id = s.id
WHERE l.invoice_id = %(invoice)s
"""


def invoice_for(*, vendor, number: str, first_id: int = 0, last_id: int | None = None, unknown: int = 10):
    """An invoice of `vendor` billing its rated shipments with ids in (first_id, last_id] (every
    50th 0.50 above, every 97th at another weight) and `unknown` unknown tracking numbers."""
    from django.db import connection, transaction

    from bench import MARKET
    from billing.payables.models import VendorInvoice

    t = _tables()
    with transaction.atomic():
        invoice = VendorInvoice.objects.create(
            vendor=vendor, market_id=MARKET, number=number, invoice_date=date.today(), currency=vendor.market.currency
        )
        with connection.cursor() as cursor:
            cursor.execute(_invoice_lines_sql(invoice.pk, vendor.pk, first_id, last_id))
            count = cursor.rowcount
            if unknown:
                cursor.execute(
                    f"INSERT INTO {t['line']} (invoice_id, line_no, tracking_number, billed_base, billed_fuel, "
                    "billed_remote_area, billed_oversize, billed_cod, billed_peak, billed_returns, billed_net, "
                    "billed_vat, billed_gross, flag_unknown_tracking, flag_duplicate_in_invoice, "
                    "flag_duplicate_other_invoice, flag_not_rated, flag_over_tolerance, flag_weight_mismatch, "
                    "flag_surcharge_not_in_contract, flag_expired_contract, flag_not_delivered, decision, "
                    "approved_net, approved_vat, reason) "
                    + " UNION ALL ".join(
                        f"SELECT {invoice.pk}, {count + 2 + i}, 'BENCH-UNKNOWN-{number}-{i}', 1,0,0,0,0,0,0,1,0,1,"
                        "FALSE,FALSE,FALSE,FALSE,FALSE,FALSE,FALSE,FALSE,FALSE,'pending',0,0,''"
                        for i in range(unknown)
                    )
                )
        VendorInvoice.objects.filter(pk=invoice.pk).update(line_count=count + unknown)
    invoice.line_count = count + unknown
    return invoice


def time_audit(invoice) -> dict:
    """Audit the invoice through `invoice_audit`, timed to its commit; what it matched."""
    from django.db.models import Count, Sum

    from billing.payables.services.audit import invoice_audit

    started = time.perf_counter()
    audited = invoice_audit(invoice_id=invoice.pk)
    seconds = time.perf_counter() - started
    matched = audited.lines.filter(expected_net__isnull=False).aggregate(n=Count("id"), net=Sum("expected_net"))
    return {
        "seconds": seconds,
        "lines": invoice.line_count,
        "flagged": audited.flagged_count,
        "pending": audited.pending_count,
        "matched": matched["n"],
        "matched_net": round(Decimal(matched["net"] or 0), 2),
    }


def measure(*, lines: int = 200_000, prepare: bool = True, workers: int = 4) -> dict:
    """Audit figures for an invoice of `lines` lines (prepares ZZ data with one vendor first)."""
    from django.db import connection, transaction
    from django.db.models import Count, Sum

    from bench import MARKET, data, run
    from billing.models import Shipment
    from billing.payables.models import VendorInvoice
    from billing.payables.services.audit import invoice_audit
    from vendors.models import Vendor

    VendorInvoice.objects.filter(market_id=MARKET, number="BENCH-AUDIT").delete()
    if prepare:
        setup = data.prepare(shipments=lines, vendors=1)
        run.measure(business_date=setup["business_date"], workers=workers, chunk_size=None)
    vendor = Vendor.objects.filter(market_id=MARKET).order_by("pk").first()
    t = _tables()
    # Each run leaves the old versions of the lines and shipments it rewrote or deleted; without a
    # vacuum (autovacuum may be off or behind) both tables grow run after run, so a later run would
    # scan more pages than an earlier one. Reclaim them first: every run starts the same.
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {t['line']}, {t['shipment']}")
    Shipment.objects.filter(vendor=vendor).update(status=Shipment.Status.DELIVERED)
    VendorInvoice.objects.filter(vendor=vendor, number="BENCH-AUDIT").delete()
    with transaction.atomic():
        invoice = VendorInvoice.objects.create(
            vendor=vendor,
            market_id=MARKET,
            number="BENCH-AUDIT",
            invoice_date=date.today(),
            currency=vendor.market.currency,
        )
        with connection.cursor() as cursor:
            cursor.execute(_invoice_lines_sql(invoice.pk, vendor.pk))
            count = cursor.rowcount
            cursor.execute(
                f"INSERT INTO {t['line']} (invoice_id, line_no, tracking_number, billed_base, billed_fuel, "
                "billed_remote_area, billed_oversize, billed_cod, billed_peak, billed_returns, billed_net, billed_vat, billed_gross, "
                "flag_unknown_tracking, flag_duplicate_in_invoice, flag_duplicate_other_invoice, flag_not_rated, flag_over_tolerance, "
                "flag_weight_mismatch, flag_surcharge_not_in_contract, flag_expired_contract, flag_not_delivered, decision, "
                "approved_net, approved_vat, reason) "
                + " UNION ALL ".join(
                    f"SELECT {invoice.pk}, {count + 2 + i}, 'BENCH-UNKNOWN-{i}', 1,0,0,0,0,0,0,1,0,1,"
                    "FALSE,FALSE,FALSE,FALSE,FALSE,FALSE,FALSE,FALSE,FALSE,'pending',0,0,''"
                    for i in range(10)
                )
            )
        VendorInvoice.objects.filter(pk=invoice.pk).update(line_count=count + 10)
    total = count + 10
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {t['line']}, {t['invoice']}, {t['shipment']}, {t['charge_line']}")
    with transaction.atomic(), connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(_floor_sql(), {"vendor": vendor.pk, "invoice": invoice.pk})
        floor_s = time.perf_counter() - started
        cursor.execute("SELECT COUNT(*), ROUND(SUM(net), 2) FROM payables_bench_floor")
        floor_count, floor_sum = cursor.fetchone()
        cursor.execute("DROP TABLE payables_bench_floor")
    steps = []
    started = time.perf_counter()
    audited = invoice_audit(
        invoice_id=invoice.pk, progress=lambda step, of: steps.append((step, of, time.perf_counter() - started))
    )
    audit_s = time.perf_counter() - started
    flagged, pending = audited.flagged_count, audited.pending_count
    matched = audited.lines.filter(expected_net__isnull=False).aggregate(n=Count("id"), net=Sum("expected_net"))
    audit_count, audit_sum = matched["n"], round(Decimal(matched["net"] or 0), 2)
    VendorInvoice.objects.filter(pk=invoice.pk).delete()
    return {
        "audit_lines": total,
        "audit_s": round(audit_s, 3),
        "audit_floor_s": round(floor_s, 3),
        "audit_lines_per_s": round(total / audit_s) if audit_s else 0,
        "audit_floor_lines_per_s": round(total / floor_s) if floor_s else 0,
        "audit_vs_floor_ratio": round(audit_s / floor_s, 2) if floor_s else 0,
        "audit_flagged": flagged,
        "audit_pending": pending,
        "audit_progress": " ".join(f"{step}/{of}@{at:.2f}s" for step, of, at in steps),
        "audit_matched_lines": audit_count,
        "audit_floor_matched_lines": floor_count,
        "audit_totals_agree": audit_count == floor_count and audit_sum == round(Decimal(floor_sum or 0), 2),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.payables_audit")
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--no-prepare", action="store_true", help="reuse market ZZ data of a previous run")
    args = parser.parse_args(argv)
    from bench import open_own_database

    open_own_database()
    results = measure(lines=args.lines, prepare=not args.no_prepare, workers=args.workers)
    for key, value in results.items():
        print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
