"""The database itself refuses receivables rows that break what the services guarantee: each
CHECK constraint family is shown by a raw update (or insert) that bypasses the services."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from billing.receivables.models import (
    DunningNotice,
    Invoice,
    InvoiceLine,
    PayoutDeduction,
    Receipt,
    ReceiptApplication,
    Statement,
    WriteOff,
)
from billing.receivables.services import write_off_propose
from tests.constraints import refused
from tests.factories import UserFactory
from tests.receivables.helpers import World

pytestmark = pytest.mark.django_db


def test_invoice_amounts_add_up_and_the_status_follows_the_open_amount():
    # given: an open invoice of 5.99 (4.99 + VAT 1.00) and its statement
    w = World()
    seller = w.seller()
    invoice = w.invoice(seller, "1.000")
    assert (invoice.status, invoice.gross_total, invoice.amount_open) == (Invoice.Status.OPEN, D("5.99"), D("5.99"))
    line = invoice.lines.get()
    statement = Statement.objects.get(seller=seller)
    # when / then: gross = net + VAT, on the invoice and on each line
    refused(Invoice, invoice.pk, "invoice_gross_is_net_plus_vat", net_total=F("net_total") + D("0.01"))
    refused(InvoiceLine, line.pk, "invoice_line_gross_is_net_plus_vat", vat=F("vat") - D("0.01"))
    # the status says what is open
    refused(Invoice, invoice.pk, "invoice_status_matches_open_amount", status=Invoice.Status.PAID)
    refused(Invoice, invoice.pk, "invoice_status_matches_open_amount", amount_open=D("1.00"))
    refused(Invoice, invoice.pk, "invoice_status_matches_open_amount", status=Invoice.Status.PARTIALLY_PAID)
    refused(Invoice, invoice.pk, "invoice_status_matches_open_amount", status=Invoice.Status.ISSUED)
    # a statement's closing balance is its opening balance plus the period's movements
    refused(
        Statement,
        statement.pk,
        "statement_closing_is_opening_plus_movements",
        closing_balance=F("closing_balance") + D("0.01"),
    )
    # a dunning notice is at level 1 or more
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        DunningNotice.objects.create(
            invoice=invoice,
            level=0,
            sent_on=date(2026, 12, 1),
            language="en",
            email_to="a@example.com",
            subject="Reminder",
            body="Please pay",
            amount_open=invoice.amount_open,
        )
    assert '"dunning_notice_level_from_one"' in str(caught.value)


def test_receipt_status_follows_the_unapplied_amount_and_applications_reverse_completely():
    # given: a receipt nobody can match, and one applied to an invoice by its number
    w = World()
    seller = w.seller()
    invoice = w.invoice(seller, "1.000")
    unmatched = w.receive("3.00", reference="no idea")
    paid = w.receive("5.99", reference=invoice.number)
    application = paid.applications.get()
    assert (unmatched.status, unmatched.seller, paid.status) == (Receipt.Status.UNMATCHED, None, Receipt.Status.APPLIED)
    # when / then
    refused(Receipt, unmatched.pk, "receipt_status_matches_unapplied", status=Receipt.Status.APPLIED)
    refused(Receipt, unmatched.pk, "receipt_status_matches_unapplied", amount_unapplied=D("1.00"))
    refused(Receipt, paid.pk, "receipt_status_matches_unapplied", status=Receipt.Status.PARTIALLY_APPLIED)
    refused(Receipt, unmatched.pk, "receipt_identified_has_seller", identify_entry=F("entry"))
    refused(ReceiptApplication, application.pk, "receipt_application_reversal_dated", reversal_entry=F("entry"))
    refused(ReceiptApplication, application.pk, "receipt_application_reversal_posted", reversed_at=timezone.now())


def test_decisions_and_confirmations_are_recorded():
    # given: a proposed write-off, a pending payout deduction and some posted entry to point at
    w = World()
    bank_payer, payout_seller = w.seller(), w.seller(net_from_payout=True)
    w.ship(bank_payer, "1.000")
    w.ship(payout_seller, "1.000")
    w.rate()
    w.state()
    write_off = write_off_propose(
        actor=w.clerk, invoice=Invoice.objects.get(seller=bank_payer), reason="Seller insolvent"
    )
    deduction = PayoutDeduction.objects.get(seller=payout_seller)
    entry_id = w.receive("1.00", reference="unrelated").entry_id
    approver = UserFactory(role="finance_approver")
    # when / then: a decided write-off names who decided and when
    refused(
        WriteOff,
        write_off.pk,
        "write_off_decision_recorded",
        status=WriteOff.Status.REJECTED,
        decided_at=timezone.now(),
    )
    refused(WriteOff, write_off.pk, "write_off_decision_recorded", decided_by=approver)
    refused(
        WriteOff,
        write_off.pk,
        "write_off_approved_posted",
        status=WriteOff.Status.APPROVED,
        decided_by=approver,
        decided_at=timezone.now(),
    )
    # the proposer never decides (initial schema)
    refused(
        WriteOff,
        write_off.pk,
        "write_off_four_eyes",
        status=WriteOff.Status.REJECTED,
        decided_by=w.clerk,
        decided_at=timezone.now(),
    )
    # a confirmed deduction is posted and dated
    refused(
        PayoutDeduction,
        deduction.pk,
        "payout_deduction_confirmed_at",
        status=PayoutDeduction.Status.CONFIRMED,
        entry=entry_id,
    )
    refused(PayoutDeduction, deduction.pk, "payout_deduction_positive", amount=D("0"))
