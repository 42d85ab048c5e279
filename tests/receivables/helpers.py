"""Builders for receivables tests: rated seller fees through the real billing run (so the ledger
holds exactly what billing posts), then statements, invoices and receipts through the services.

Fee schedule of tests.billing.helpers (GB, 20 % VAT): a 1 kg parcel costs the seller 4.99 + VAT
1.00 = 5.99; a 3 kg parcel 6.34 + VAT 1.27 = 7.61.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.test import TestCase

from billing.models import BillingRun
from billing.receivables.cash import receipt_record
from billing.receivables.models import Invoice
from billing.receivables.services import statements_generate
from billing.services import billing_run_start
from settlement_ops.models import AccountKind
from settlement_ops.selectors import balance
from tests.billing.helpers import STANDARD_LINES, make_contract, make_fee_schedule, make_shipment
from tests.factories import SellerFactory, UserFactory, VendorFactory, market

D = Decimal
OCT = (date(2026, 10, 1), date(2026, 10, 31))
SEP = (date(2026, 9, 1), date(2026, 9, 30))


class World:
    """A GB vendor with a contract, the seller fee schedule, and a finance specialist."""

    def __init__(self):
        from billing.models import SellerFeeSchedule

        self.market = market("GB")
        self.vendor = VendorFactory(market=self.market)
        make_contract(vendor=self.vendor, lines=STANDARD_LINES)
        if not SellerFeeSchedule.objects.filter(market=self.market, service_level="STD").exists():
            make_fee_schedule()
        self.clerk = UserFactory(role="finance_specialist")

    def seller(self, **kwargs):
        return SellerFactory(market=self.market, **kwargs)

    def ship(self, seller, *weights, ship_date=date(2026, 10, 5)):
        return [make_shipment(vendor=self.vendor, seller=seller, weight=w, ship_date=ship_date) for w in weights]

    def rate(self, business_date=date(2026, 10, 31)) -> BillingRun:
        with TestCase.captureOnCommitCallbacks(execute=True):
            run = billing_run_start(market=self.market, business_date=business_date)
        run.refresh_from_db()
        assert run.status == BillingRun.Status.COMPLETED, (run.status, run.error)
        return run

    def state(self, period=OCT, seller_ids=None):
        return statements_generate(
            actor=self.clerk, market=self.market, period_start=period[0], period_end=period[1], seller_ids=seller_ids
        )

    def invoice(self, seller, *weights, period=OCT, ship_date=None):
        """Rate parcels of `weights` shipped in the period and issue the period's invoice."""
        self.ship(seller, *weights, ship_date=ship_date or period[0].replace(day=5))
        self.rate(period[1])
        self.state(period, seller_ids=[seller.pk])
        return Invoice.objects.filter(seller=seller, kind=Invoice.Kind.INVOICE).latest("pk")

    def receive(
        self, amount, *, reference="", seller=None, bank_reference=None, value_date=date(2026, 11, 10), **kwargs
    ):
        from itertools import count

        World._refs = getattr(World, "_refs", count(1))
        return receipt_record(
            actor=self.clerk,
            market=self.market,
            amount=D(amount),
            currency="GBP",
            value_date=value_date,
            bank_reference=bank_reference or f"BANK-{next(World._refs):06d}",
            reference=reference,
            seller=seller,
            **kwargs,
        )


def owed(seller, as_of=None) -> Decimal:
    """What the seller owes by the ledger: receivable + unapplied cash of that seller."""
    total = D(0)
    for kind in (AccountKind.SELLER_RECEIVABLE, AccountKind.SELLER_UNAPPLIED_CASH):
        total += balance(kind=kind, party_type="seller", party_id=seller.pk, as_of=as_of).get(
            seller.market.currency, D(0)
        )
    return total
