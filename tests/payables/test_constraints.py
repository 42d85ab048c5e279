"""The database itself refuses payables rows that break what the services guarantee: each CHECK
constraint family is shown by a raw update that bypasses the services."""

from decimal import Decimal as D

import pytest
from django.db.models import F
from django.utils import timezone

from billing.payables.models import Payable, Payment, PaymentRun, VendorInvoice, VendorInvoiceLine
from settlement_ops.roles import Role
from tests.constraints import refused
from tests.factories import UserFactory
from tests.payables.helpers import audited_invoice, exported_run, open_payable, prepared_run

pytestmark = pytest.mark.django_db


def test_vendor_invoice_gross_is_net_plus_vat_and_approval_needs_every_line_decided():
    # given: an invoice approved by the audit, and one waiting for review
    approved = open_payable().invoice
    in_review = audited_invoice()
    assert (approved.status, in_review.status) == (VendorInvoice.Status.APPROVED, VendorInvoice.Status.IN_REVIEW)
    # when / then
    refused(
        VendorInvoice, approved.pk, "vendor_invoice_gross_is_net_plus_vat", gross_total=F("gross_total") + D("0.01")
    )
    refused(
        VendorInvoice,
        approved.pk,
        "vendor_invoice_approved_is_net_plus_vat",
        approved_vat=F("approved_vat") + D("0.01"),
    )
    refused(VendorInvoice, approved.pk, "vendor_invoice_approved_when_decided", approved_at=None)
    refused(
        VendorInvoice,
        in_review.pk,
        "vendor_invoice_approved_when_decided",
        status=VendorInvoice.Status.APPROVED,
        approved_at=timezone.now(),
    )
    refused(VendorInvoice, in_review.pk, "vendor_invoice_counts_within_lines", pending_count=F("line_count") + 1)


def test_vendor_invoice_line_amounts_and_decisions():
    # given: an invoice in review with one line approved by the audit and one pending (unknown)
    invoice = audited_invoice()
    auto = invoice.lines.get(decision=VendorInvoiceLine.Decision.AUTO_APPROVED)
    pending = invoice.lines.get(decision=VendorInvoiceLine.Decision.PENDING)
    # when / then: billed amounts add up and are never negative
    refused(
        VendorInvoiceLine,
        auto.pk,
        "vendor_invoice_line_gross_is_net_plus_vat",
        billed_gross=F("billed_gross") - D("0.01"),
    )
    refused(
        VendorInvoiceLine,
        auto.pk,
        "vendor_invoice_line_billed_non_negative",
        billed_fuel=D("-0.45"),
        billed_base=D("4.95"),
    )
    refused(VendorInvoiceLine, auto.pk, "vendor_invoice_line_billed_non_negative", billed_weight_kg=D("0"))
    # what a decision pays
    refused(VendorInvoiceLine, auto.pk, "vendor_invoice_line_decision_amounts", approved_net=D("0"))
    refused(VendorInvoiceLine, pending.pk, "vendor_invoice_line_decision_amounts", approved_net=F("billed_net"))
    refused(
        VendorInvoiceLine,
        pending.pk,
        "vendor_invoice_line_decision_amounts",
        decision=VendorInvoiceLine.Decision.SHORT_PAID,
        reason="x",
        approved_net=F("billed_net"),
        approved_vat=F("billed_vat"),
        decided_at=timezone.now(),
    )
    # a person's decision is dated
    refused(
        VendorInvoiceLine,
        pending.pk,
        "vendor_invoice_line_decided_at",
        decision=VendorInvoiceLine.Decision.APPROVED,
        approved_net=F("billed_net"),
        approved_vat=F("billed_vat"),
    )


def test_payable_hold_only_when_open_and_paid_only_through_a_payment():
    # given: a payable in a prepared run, and an open one
    run = prepared_run()
    in_run = Payable.objects.get(payment_run=run)
    open_ = open_payable()
    # when / then
    refused(
        Payable, in_run.pk, "payable_held_only_when_open", on_hold=True, hold_reason="Disputed", held_at=timezone.now()
    )
    refused(Payable, open_.pk, "payable_paid_by_a_payment", status=Payable.Status.PAID)
    refused(Payable, open_.pk, "payable_paid_by_a_payment", paid_at=timezone.now())


def test_payment_run_status_is_recorded_with_who_and_when():
    # given: a prepared run
    run = prepared_run()
    approver = UserFactory(role=Role.FINANCE_APPROVER)
    # when / then
    refused(PaymentRun, run.pk, "payment_run_status_recorded", status=PaymentRun.Status.APPROVED, approved_by=approver)
    refused(
        PaymentRun, run.pk, "payment_run_status_recorded", status=PaymentRun.Status.CANCELLED, cancelled_by=approver
    )
    refused(
        PaymentRun,
        run.pk,
        "payment_run_status_recorded",
        status=PaymentRun.Status.COMPLETED,
        approved_by=approver,
        approved_at=timezone.now(),
    )
    refused(PaymentRun, run.pk, "payment_run_total_non_negative", total_amount=D("-1"))
    # the maker-checker rule of the initial schema still holds
    refused(PaymentRun, run.pk, "payment_run_four_eyes", approved_by=run.prepared_by)


def test_a_payment_is_confirmed_with_a_date_and_paid_with_a_posting():
    # given: a run sent to the bank
    run = exported_run()
    payment = run.payments.get()
    assert payment.status == Payment.Status.SENT
    # when / then
    refused(Payment, payment.pk, "payment_confirmation_recorded", status=Payment.Status.PAID, confirmed_at=None)
    refused(
        Payment, payment.pk, "payment_confirmation_recorded", status=Payment.Status.PAID, confirmed_at=timezone.now()
    )
    refused(
        Payment,
        payment.pk,
        "payment_confirmation_recorded",
        status=Payment.Status.REJECTED,
        rejection_reason="Closed account",
    )
