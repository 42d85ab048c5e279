"""Demo receivables: last period's statements and invoices for the demo sellers, receipts that
match fully, partly and not at all, a promise to pay, a proposed write-off and dunning letters.

`seed_demo` runs every seeder inside one transaction, while billing runs and receivables use
cases each open their own durable transaction; so the work is queued with `on_commit` and runs
right after the demo data is committed. It rates last period's shipments with a normal billing
run (if no run covered them yet) — with a Redis broker the run is asynchronous and this seeder
then finds nothing rated and only says so.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from settlement_ops.errors import DomainError
from settlement_ops.money import quantize


def seed(ctx) -> None:
    transaction.on_commit(lambda: _seed_after_commit(ctx))


def _seed_after_commit(ctx) -> None:
    from billing.models import BillingRun
    from billing.services import billing_run_start

    from .cash import receipt_record
    from .dunning import collection_note_add, dunning_run
    from .models import Invoice, Receipt
    from .services import statement_period, statements_generate, write_off_propose

    clerk = ctx.users.get("specialist")
    issued = 0
    for market in ctx.markets:
        start, end = statement_period(market=market)
        if not BillingRun.objects.filter(
            market=market, status=BillingRun.Status.COMPLETED, business_date__gte=end
        ).exists():
            try:
                billing_run_start(market=market, business_date=end, trigger=BillingRun.Trigger.COMMAND, actor=clerk)
            except DomainError:
                continue
        try:
            statements_generate(actor=clerk, market=market, period_start=start, period_end=end)
        except DomainError:
            continue
        invoices = list(
            Invoice.objects.filter(
                market=market, period_end=end, kind=Invoice.Kind.INVOICE, collection=Invoice.Collection.BANK
            )
            .select_related("seller")
            .order_by("number")
        )
        issued += len(invoices)
        if Receipt.objects.filter(market=market, bank_reference__startswith="DEMO-").exists():
            continue
        for i, invoice in enumerate(invoices):
            ref = f"DEMO-{market.code}-{i + 1:04d}"
            if i % 4 == 0:  # paid in full, quoting the invoice number
                receipt_record(
                    actor=clerk,
                    market=market,
                    amount=invoice.gross_total,
                    currency=market.currency,
                    value_date=market.local_date(),
                    bank_reference=ref,
                    reference=f"Payment {invoice.number}",
                    payer_name=invoice.seller.legal_name,
                )
            elif i % 4 == 1:  # part payment naming the seller code
                receipt_record(
                    actor=clerk,
                    market=market,
                    amount=quantize(invoice.gross_total / 2, market.currency),
                    currency=market.currency,
                    value_date=market.local_date(),
                    bank_reference=ref,
                    reference=f"{invoice.seller.code} part payment",
                    payer_name=invoice.seller.legal_name,
                )
            elif i % 4 == 2:  # promised instead
                collection_note_add(
                    actor=clerk,
                    seller=invoice.seller,
                    kind="promise",
                    invoice=invoice,
                    text="Finance director promised payment after their payout run.",
                    promised_amount=invoice.amount_open,
                    promised_date=market.local_date() + _days(10),
                )
        # One payment nobody can place: waits in the unmatched queue.
        receipt_record(
            actor=clerk,
            market=market,
            amount=quantize(Decimal("123.45") * (1000 if market.currency in ("IDR", "VND") else 1), market.currency),
            currency=market.currency,
            value_date=market.local_date(),
            bank_reference=f"DEMO-{market.code}-X001",
            reference="INV?? thanks",
            payer_name="Unknown Trading",
        )
        if len(invoices) > 3:
            write_off_propose(
                actor=clerk,
                invoice=invoices[3],
                reason="Seller closed its shop; no assets left.",
                amount=quantize(invoices[3].amount_open / 4, market.currency),
            )
    notices = dunning_run()
    ctx.lines.append(
        f"Receivables: {issued} seller invoices for last period, demo receipts (matched, partial, unmatched), "
        f"{sum(notices.values())} dunning letters"
    )


def _days(n: int):
    from datetime import timedelta

    return timedelta(days=n)
