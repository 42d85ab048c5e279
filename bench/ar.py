"""Accounts receivable at volume: the aging page and API over 100,000 open seller invoices, and a
bank statement of 10,000 receipts imported and applied.

Run alone:  python -m bench.ar [--invoices 100000] [--sellers 10000] [--receipts 10000]
Or from `make bench`: `from bench import ar; results.update(ar.measure(invoices=N, ...))`.

1. Data: market "ZA" (inactive, GBP, UTC) of its own with `--sellers` sellers (ORM, once) and
   `--invoices` open bank-collected invoices written by one INSERT ... SELECT over a number series,
   due dates spread over the five aging buckets. Invoices post nothing (the billing run posted the
   fees), so rows written straight are what the services would hold. Earlier bench invoices with no
   receipt applied are deleted first; applied ones stay (ledger entries are immutable), so their
   numbers carry a tag of their own run.
2. Aging: the staff page /receivables/aging/?market=ZA and the API /api/receivables/aging/?market=ZA,
   each fetched three times in process (Django's test client, signed in as a finance specialist);
   `aging_ms` is the slower door's best time.
3. Cash: a bank-statement CSV of `--receipts` lines, at most one per seller so every line finds
   open invoices of its seller (10,000 in the full bench, 1,000 with --quick's tenth of the
   sellers): a third naming an invoice number, a third paying one invoice's exact open amount
   with the seller's code, a third paying a seller's two oldest invoices and a bit; imported by
   `receivables.cash.receipts_import`, which records and auto-applies every line set-based in one
   transaction. `cash_application_s` is the whole import, all lines, measured (not extrapolated).
4. Check: every receipt matched, the receipts' applied money equals the open amount the invoices
   lost, and equals what the application entries moved off the sellers' receivables
   (`ar_totals_agree`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settlement_ops.settings.base")

MARKET = "ZA"
D = Decimal


def _masters(sellers: int):
    from django.contrib.auth.models import Group, User

    from sellers.models import Seller
    from settlement_ops.models import Market
    from settlement_ops.roles import Role

    market, _ = Market.objects.get_or_create(
        code=MARKET,
        defaults=dict(
            name="AR benchmark",
            currency="GBP",
            vat_standard_rate=D("20.00"),
            timezone="UTC",
            language="en",
            invoice_prefix="ZA",
            is_active=False,
        ),
    )
    existing = set(Seller.objects.filter(market=market).values_list("code", flat=True))
    Seller.objects.bulk_create(
        [
            Seller(
                code=f"S-ZA-{n:05d}",
                market=market,
                name=f"AR Seller {n}",
                legal_name=f"AR Seller {n} Ltd",
                email=f"ar{n}@example.com",
            )
            for n in range(sellers)
            if f"S-ZA-{n:05d}" not in existing
        ],
        batch_size=2000,
    )
    ids = dict(Seller.objects.filter(market=market, code__startswith="S-ZA-").values_list("code", "id"))
    seller_ids = [ids[f"S-ZA-{n:05d}"] for n in range(sellers)]
    user, _ = User.objects.get_or_create(username="bench-ar-finance")
    user.groups.add(Group.objects.get(name=Role.FINANCE_SPECIALIST))
    return market, seller_ids, user


def _tag() -> str:
    """Four letters of this run for invoice numbers and bank references (earlier applied invoices
    and receipts stay): the time in seconds, repeating after five days."""
    n, letters = int(time.time()) % 26**4, ""
    for _ in range(4):
        n, digit = divmod(n, 26)
        letters = chr(65 + digit) + letters
    return letters


def _reset(cursor) -> None:
    from billing.receivables.models import Invoice, ReceiptApplication

    invoice, application = Invoice._meta.db_table, ReceiptApplication._meta.db_table
    cursor.execute(
        f"""DELETE FROM {invoice} i WHERE i.market_id = %s
            AND NOT EXISTS (SELECT 1 FROM {application} a WHERE a.invoice_id = i.id)""",
        [MARKET],
    )
    # Invoices a receipt touched stay; close them out of the aging so each run measures its own.
    cursor.execute(
        f"UPDATE {invoice} SET status = 'paid', amount_open = 0 WHERE market_id = %s AND status IN ('open', 'partially_paid')",
        [MARKET],
    )


def _invoices(cursor, *, count: int, seller_ids: list[int], tag: str, today) -> None:
    """`count` open invoices, round-robin over the sellers, issued 10–160 days ago, due 30 days later."""
    from billing.receivables.models import Invoice

    cursor.execute(
        f"""
        INSERT INTO {Invoice._meta.db_table}
            (market_id, seller_id, kind, number, issue_date, due_date, currency, language, collection,
             net_total, vat_total, gross_total, amount_open, status, reason, dunning_level, created_at)
        SELECT %(market)s, (%(sellers)s::bigint[])[1 + (g %% %(n_sellers)s)], 'invoice',
               %(prefix)s || lpad(g::text, 6, '0'),
               %(today)s::date - (10 + g %% 151), %(today)s::date - (10 + g %% 151) + 30,
               'GBP', 'en', 'bank',
               n.net, round(n.net * 0.2, 2), n.net + round(n.net * 0.2, 2), n.net + round(n.net * 0.2, 2),
               'open', '', 0, now()
        FROM generate_series(1, %(count)s) g
        CROSS JOIN LATERAL (SELECT (10 + (g * 37) %% 490)::numeric + ((g * 13) %% 100) / 100.0 AS net) n
        """,
        {
            "market": MARKET,
            "sellers": seller_ids,
            "n_sellers": len(seller_ids),
            "prefix": f"ZA{tag}-INV-2026-",
            "today": today,
            "count": count,
        },
    )
    # The reset rewrote every earlier bench invoice: vacuum them away (and analyze), as autovacuum
    # would on a live system, so the measured import does not wade through dead rows of past runs.
    cursor.execute(f"VACUUM (ANALYZE) {Invoice._meta.db_table}")


def _statement(*, receipts: int, seller_ids: list[int], tag: str, today) -> bytes:
    """A bank statement CSV: rule 1 (invoice number), rule 2 (exact amount), rule 3 (oldest first)."""
    from billing.receivables.models import Invoice

    # Each seller's invoices of this run, oldest due first (the order rules 2 and 3 use).
    by_seller: dict[int, list] = {}
    for seller_id, number, gross, due in (
        Invoice.objects.filter(market_id=MARKET, number__startswith=f"ZA{tag}-", status="open")
        .order_by("seller_id", "due_date", "number")
        .values_list("seller_id", "number", "gross_total", "due_date")
    ):
        by_seller.setdefault(seller_id, []).append((number, gross, due))
    codes = {pk: f"S-ZA-{n:05d}" for n, pk in enumerate(seller_ids)}
    lines = ["value_date,amount,currency,reference,payer_name,bank_reference,seller_code"]
    sellers = [s for s in seller_ids if len(by_seller.get(s, [])) >= 3]
    for i in range(receipts):
        seller = sellers[i % len(sellers)]
        invoices = by_seller[seller]
        rule = i % 3
        if rule == 0:  # names its newest invoice: rule 1
            number, gross, _ = invoices[-1]
            amount, reference, code = gross, f"Payment {number}", ""
        elif rule == 1:  # the exact open amount of its second invoice: rule 2
            amount, reference, code = invoices[1][1], "logistics fees", codes[seller]
        else:  # more than its oldest invoice: rule 3 pays the oldest and part of the next
            amount, reference, code = invoices[0][1] + D("5.00"), "fees", codes[seller]
        lines.append(f"{today.isoformat()},{amount},GBP,{reference},Seller {seller},ZA{tag}-BANK-{i:07d},{code}")
    return ("\n".join(lines) + "\n").encode()


def measure(
    *, invoices: int = 100_000, sellers: int = 10_000, receipts: int = 10_000, sample: int | None = None
) -> dict:
    """Aging over `invoices` open invoices of `sellers` sellers, and cash application of a statement
    of `receipts` lines, capped at one line per seller. `sample` is accepted from callers of the
    line-by-line import, which measured a sample and scaled it up, and ignored: every line is
    imported and timed."""
    del sample
    import django

    django.setup()
    from django.db import DatabaseError, connection
    from django.db.models import Sum
    from django.test import Client

    from billing.receivables import cash
    from billing.receivables.models import Invoice, Receipt
    from billing.receivables.services import Source
    from settlement_ops.models import AccountKind, Posting

    market, seller_ids, user = _masters(sellers)
    tag = _tag()
    today = market.local_date()
    with connection.cursor() as cursor:
        _reset(cursor)
        _invoices(cursor, count=invoices, seller_ids=seller_ids, tag=tag, today=today)
    open_invoices = Invoice.objects.filter(market=market, status__in=Invoice.OPEN_STATUSES).count()

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    timings = {}
    for name, url in (
        ("page", f"/receivables/aging/?market={MARKET}"),
        ("api", f"/api/receivables/aging/?market={MARKET}"),
    ):
        best = None
        for _ in range(3):
            started = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, (url, response.status_code)
            best = elapsed if best is None else min(best, elapsed)
        timings[name] = best

    lines = min(receipts, sellers)
    content = _statement(receipts=lines, seller_ids=seller_ids, tag=tag, today=today)
    open_before = Invoice.objects.filter(market=market).aggregate(s=Sum("amount_open"))["s"] or D(0)
    # Write the setup's dirty pages out now, so the checkpoint they call for does not fall due
    # inside the import (not allowed for every role: the figure is then noisier, not wrong).
    with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")
    started = time.perf_counter()
    result = cash.receipts_import(actor=user, market=market, content=content, filename="bench.csv")
    cash_seconds = time.perf_counter() - started
    open_after = Invoice.objects.filter(market=market).aggregate(s=Sum("amount_open"))["s"] or D(0)
    batch = Receipt.objects.filter(market=market, import_batch=result["batch"])
    received = batch.aggregate(s=Sum("amount"))["s"] or D(0)
    unapplied = batch.aggregate(s=Sum("amount_unapplied"))["s"] or D(0)
    # What the batch's application entries took off the sellers' receivables (credits: negative).
    posted = -(
        Posting.objects.filter(
            entry__source_type=Source.APPLICATION,
            entry__source_id__in=[str(pk) for pk in batch.values_list("pk", flat=True)],
            account__kind=AccountKind.SELLER_RECEIVABLE,
        ).aggregate(s=Sum("amount"))["s"]
        or D(0)
    )
    agree = (
        result["created"] == lines
        and result["unmatched"] == 0
        and open_before - open_after == received - unapplied == posted
    )
    return {
        "ar_open_invoices": open_invoices,
        "ar_sellers": sellers,
        "aging_page_ms": round(timings["page"] * 1000),
        "aging_api_ms": round(timings["api"] * 1000),
        "aging_ms": round(max(timings.values()) * 1000),
        "cash_receipts": lines,
        "cash_application_s": round(cash_seconds, 3),
        "cash_receipts_per_s": round(lines / cash_seconds, 1) if cash_seconds else 0,
        "cash_matched": result["matched"],
        "ar_totals_agree": agree,
    }


def report_lines(r: dict) -> list[str]:
    return [
        f"  aging over {r['ar_open_invoices']:,} open invoices of {r['ar_sellers']:,} sellers: page "
        f"{r['aging_page_ms']:,} ms, API {r['aging_api_ms']:,} ms (goal < 1,000 ms)",
        f"  {r['cash_receipts']:,} bank receipts imported and applied in {r['cash_application_s']:.2f}s "
        f"({r['cash_receipts_per_s']:,}/s, goal < 10 s for 10,000); matched {r['cash_matched']:,}; "
        f"totals agree: {r['ar_totals_agree']}",
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ar")
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--sellers", type=int, default=10_000)
    parser.add_argument("--receipts", type=int, default=10_000)
    args = parser.parse_args(argv)
    from bench import open_own_database

    open_own_database()
    result = measure(invoices=args.invoices, sellers=args.sellers, receipts=args.receipts)
    for line in report_lines(result):
        print(line)
    for key, value in result.items():
        print(f"{key}={value}")
    return 0 if result["ar_totals_agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
