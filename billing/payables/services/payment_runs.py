"""Payment runs: proposal, maker-checker approval, bank file, confirmation, remittance."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial

from django.db import transaction
from django.utils import timezone
from django.utils.translation import ngettext

from settlement_ops.db import retry_on_conflict
from settlement_ops.errors import ConflictError, DomainError
from settlement_ops.models import AccountKind, ApprovalLimit, AuditEvent, Market
from settlement_ops.services import (
    PostingLine,
    account_for,
    approval_check,
    audit_record,
    document_number_next,
    ledger_post,
    ledger_reverse,
)
from vendors.models import Vendor, VendorBankAccount

from .. import bank_files
from ..locks import payables_lock, payment_run_lock
from ..models import BankFile, Payable, Payment, PaymentRun, PaymentRunExclusion, PaymentRunItem
from .ledger import vendor_payable_account

# --- Exclusion rules -------------------------------------------------------------------------------


@dataclass
class RunContext:
    market: Market
    currency: str
    pay_date: date
    bank_change_days: int
    now: datetime
    vendors: dict = field(default_factory=dict)
    bank_accounts: dict = field(default_factory=dict)


def _on_hold(payable, ctx):
    if payable.on_hold:
        who = getattr(payable.held_by, "username", "") or "?"
        return "on_hold", f"On hold since {payable.held_at:%Y-%m-%d} by {who}: {payable.hold_reason}"


def _vendor_blocked(payable, ctx):
    vendor = ctx.vendors[payable.vendor_id]
    if vendor.status == Vendor.Status.BLOCKED:
        return "vendor_blocked", f"Vendor {vendor.code} is blocked"


def _bank_details_changed(payable, ctx):
    changed = ctx.vendors[payable.vendor_id].bank_details_changed_at
    if changed is not None and changed > ctx.now - timedelta(days=ctx.bank_change_days):
        return (
            "bank_details_changed",
            f"Bank details changed on {changed:%Y-%m-%d}, within the last {ctx.bank_change_days} days",
        )


def _no_bank_account(payable, ctx):
    account = ctx.bank_accounts.get(payable.vendor_id)
    if account is None:
        return "no_bank_account", "The vendor has no active bank account"
    if account.currency != ctx.currency:
        return "no_bank_account", f"The vendor's bank account is in {account.currency}, not {ctx.currency}"


def _not_yet_due(payable, ctx):
    # Credits (credit notes, deductions) are netted as soon as they exist.
    if payable.amount > 0 and payable.due_date > ctx.pay_date:
        return "not_yet_due", f"Due on {payable.due_date:%Y-%m-%d}, after the pay date"


# Checked in order; the first that answers names the reason. Other apps (risk) may append rules:
# a callable (payable, RunContext) -> (code, reason) | None.
EXCLUSION_RULES: list[Callable] = [_on_hold, _vendor_blocked, _bank_details_changed, _no_bank_account, _not_yet_due]

# Extra checks on approving a run, filled by apps above (risk: a second approver for a held
# vendor): a callable (run=, actor=) that raises DomainError to refuse, inside the approval's
# transaction.
APPROVAL_RULES: list[Callable] = []


# --- Preparation -------------------------------------------------------------------------------------


@retry_on_conflict
@transaction.atomic(durable=True)
def payment_run_prepare(
    *, actor, market: Market, currency: str, pay_date: date, bank_change_days: int = 14
) -> PaymentRun:
    """Propose every due payable of a market and currency, netted per vendor, and list what was
    left out and why. Payables are locked (by pk) and moved into the run in one transaction, so a
    payable is in at most one open run: a concurrent preparation waits for the lock and then
    no longer sees them as open.

    Raises DomainError when the currency is not the market's or nothing can be paid.
    """
    if currency != market.currency:
        raise DomainError(
            f"{market.code} pays in {market.currency}, not {currency}.", code="wrong_currency", field="currency"
        )
    if bank_change_days < 0:
        raise DomainError("The number of days is 0 or more.", field="bank_change_days")
    candidate_ids = Payable.objects.filter(market=market, currency=currency, status=Payable.Status.OPEN).values_list(
        "pk", flat=True
    )
    locked = [p for p in payables_lock(candidate_ids) if p.status == Payable.Status.OPEN]
    vendors = Vendor.objects.in_bulk({p.vendor_id for p in locked})
    accounts = {
        a.vendor_id: a
        for a in VendorBankAccount.objects.filter(vendor_id__in=vendors, status=VendorBankAccount.Status.ACTIVE)
    }
    ctx = RunContext(
        market=market,
        currency=currency,
        pay_date=pay_date,
        bank_change_days=bank_change_days,
        now=timezone.now(),
        vendors=vendors,
        bank_accounts=accounts,
    )
    held_by = {
        p.pk: p for p in Payable.objects.filter(pk__in=[p.pk for p in locked if p.on_hold]).select_related("held_by")
    }
    excluded, included = [], defaultdict(list)
    for payable in locked:
        if payable.pk in held_by:
            payable.held_by = held_by[payable.pk].held_by
        reason = next((r for r in (rule(payable, ctx) for rule in EXCLUSION_RULES) if r), None)
        if reason:
            excluded.append((payable, *reason))
        else:
            included[payable.vendor_id].append(payable)
    for vendor_id in list(included):
        net = sum((p.amount for p in included[vendor_id]), Decimal(0))
        if net <= 0:
            due = sum((p.amount for p in included[vendor_id] if p.amount > 0), Decimal(0))
            for payable in included.pop(vendor_id):
                excluded.append(
                    (
                        payable,
                        "credits_exceed",
                        f"Credits and deductions exceed what is due ({currency} {due}); carried forward",
                    )
                )
    if not included:
        raise DomainError(
            f"Nothing can be paid in {market.code} {currency} on {pay_date}: {len(locked)} open payable(s), "
            f"{len(excluded)} excluded.",
            code="nothing_due",
        )
    run = PaymentRun.objects.create(
        number=document_number_next(market=market, kind="payrun", on=pay_date),
        market=market,
        currency=currency,
        pay_date=pay_date,
        bank_change_days=bank_change_days,
        prepared_by=actor,
    )
    total = Decimal(0)
    for vendor_id, payables in sorted(included.items()):
        account = accounts[vendor_id]
        amount = sum((p.amount for p in payables), Decimal(0))
        payment = Payment.objects.create(
            run=run,
            vendor_id=vendor_id,
            currency=currency,
            amount=amount,
            end_to_end_id=f"{run.number}-{vendor_id}"[:35],
            account_holder=account.account_holder,
            iban=account.iban,
            bic=account.bic,
            account_number=account.account_number,
            bank_code=account.bank_code,
        )
        PaymentRunItem.objects.bulk_create(
            PaymentRunItem(run=run, payable=p, payment=payment, vendor_id=vendor_id, amount=p.amount) for p in payables
        )
        Payable.objects.filter(pk__in=[p.pk for p in payables]).update(status=Payable.Status.IN_RUN, payment_run=run)
        total += amount
    PaymentRunExclusion.objects.bulk_create(
        PaymentRunExclusion(run=run, payable=p, vendor_id=p.vendor_id, amount=p.amount, code=code, reason=reason[:255])
        for p, code, reason in excluded
    )
    run.total_amount, run.payment_count = total, len(included)
    run.save(update_fields=["total_amount", "payment_count"])
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="payment_run_prepare",
        obj=run,
        detail={"total": str(total), "payments": len(included), "excluded": len(excluded)},
    )
    return run


def _open_items(run):
    return PaymentRunItem.objects.filter(run=run, is_open=True)


@retry_on_conflict
@transaction.atomic(durable=True)
def payment_run_remove_item(*, actor, run: PaymentRun, payable: Payable, reason: str) -> PaymentRun:
    """Take a payable out of a prepared run (an approved run cannot be edited). When the vendor's
    remaining net is no longer positive, the vendor's other items leave the run as well."""
    run = payment_run_lock(run.pk)
    if not run.is_editable:
        raise ConflictError(
            "Only a prepared run can be edited; this one is " + run.get_status_display().lower() + ".",
            code="run_not_editable",
        )
    if not (reason or "").strip():
        raise DomainError("Give a reason for removing the payable.", code="required", field="reason")
    item = _open_items(run).filter(payable=payable).select_related("payment").first()
    if item is None:
        raise DomainError("This payable is not in the run.", field="payable")
    payment = item.payment
    vendor_items = list(_open_items(run).filter(payment=payment).order_by("payable_id"))
    payables_lock([i.payable_id for i in vendor_items])
    removed = [(item, "removed", f"Removed by {actor.username}: {reason.strip()}")]
    rest = [i for i in vendor_items if i.pk != item.pk]
    if sum((i.amount for i in rest), Decimal(0)) <= 0:
        removed += [(i, "credits_exceed", "Credits and deductions exceed what is due; carried forward") for i in rest]
        rest = []
    PaymentRunExclusion.objects.bulk_create(
        PaymentRunExclusion(
            run=run, payable_id=i.payable_id, vendor_id=i.vendor_id, amount=i.amount, code=code, reason=text[:255]
        )
        for i, code, text in removed
    )
    Payable.objects.filter(pk__in=[i.payable_id for i, _, _ in removed]).update(
        status=Payable.Status.OPEN, payment_run=None
    )
    PaymentRunItem.objects.filter(pk__in=[i.pk for i, _, _ in removed]).delete()
    if rest:
        payment.amount = sum((i.amount for i in rest), Decimal(0))
        payment.save(update_fields=["amount"])
    else:
        payment.delete()
    _recount(run)
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="payment_run_remove_item",
        obj=run,
        detail={"payable": payable.pk, "reason": reason},
    )
    return run


def _recount(run: PaymentRun) -> None:
    payments = list(run.payments.all())
    run.total_amount = sum((p.amount for p in payments), Decimal(0))
    run.payment_count = len(payments)
    run.save(update_fields=["total_amount", "payment_count"])


# --- Approval, bank file, cancellation --------------------------------------------------------------


@retry_on_conflict
@transaction.atomic(durable=True)
def payment_run_approve(*, actor, run: PaymentRun) -> PaymentRun:
    """Approve a prepared run: not by its preparer, and within the approver's limit for the
    currency (settlement_ops.services.approval_check, action payment_run). Frozen afterwards."""
    run = payment_run_lock(run.pk)
    if run.status != PaymentRun.Status.DRAFT:
        raise ConflictError(
            f"Only a prepared run can be approved; this one is {run.get_status_display().lower()}.", code="bad_status"
        )
    if not run.payments.exists():
        raise DomainError("The run has no payments left.", code="empty_run")
    approval_check(
        actor=actor,
        action=ApprovalLimit.Action.PAYMENT_RUN,
        prepared_by=run.prepared_by,
        amount=run.total_amount,
        currency=run.currency,
    )
    for rule in APPROVAL_RULES:
        rule(run=run, actor=actor)
    run.status, run.approved_by, run.approved_at = PaymentRun.Status.APPROVED, actor, timezone.now()
    run.save(update_fields=["status", "approved_by", "approved_at"])
    audit_record(
        kind=AuditEvent.Kind.APPROVAL,
        actor=actor,
        action="payment_run_approve",
        obj=run,
        detail={"total": str(run.total_amount), "currency": run.currency, "prepared_by": run.prepared_by.username},
    )
    return run


@retry_on_conflict
@transaction.atomic(durable=True)
def payment_run_export(*, actor, run: PaymentRun) -> BankFile:
    """Write the bank file of an approved run (SEPA pain.001 for EUR, CSV otherwise), keep it with
    its SHA-256, and mark the payments as sent. Asking again returns the same file."""
    run = payment_run_lock(run.pk)
    existing = run.bank_files.first()
    if existing is not None:
        return existing
    if run.status != PaymentRun.Status.APPROVED:
        raise ConflictError("Only an approved run can be sent to the bank.", code="bad_status")
    payments = list(run.payments.select_related("vendor").order_by("vendor_id"))
    if run.currency == "EUR":
        content, fmt, ext = bank_files.sepa_pain001(run, payments), BankFile.Format.SEPA, "xml"
    else:
        content, fmt, ext = bank_files.csv_transfer(run, payments), BankFile.Format.CSV, "csv"
    bank_file = BankFile.objects.create(
        run=run,
        format=fmt,
        filename=f"{run.number}.{ext}",
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        created_by=actor,
    )
    run.payments.update(status=Payment.Status.SENT)
    run.status = PaymentRun.Status.EXPORTED
    run.save(update_fields=["status"])
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="payment_run_export",
        obj=run,
        detail={"file": bank_file.filename, "sha256": bank_file.sha256},
    )
    return bank_file


@retry_on_conflict
@transaction.atomic(durable=True)
def payment_run_cancel(*, actor, run: PaymentRun, reason: str) -> PaymentRun:
    """Cancel a run before its bank file exists; its payables return to open."""
    run = payment_run_lock(run.pk)
    if run.status not in (PaymentRun.Status.DRAFT, PaymentRun.Status.APPROVED):
        raise ConflictError("A run can be cancelled until its bank file is created.", code="bad_status")
    if not (reason or "").strip():
        raise DomainError("Give a reason for the cancellation.", code="required", field="reason")
    items = list(_open_items(run))
    payables_lock([i.payable_id for i in items])
    Payable.objects.filter(pk__in=[i.payable_id for i in items]).update(status=Payable.Status.OPEN, payment_run=None)
    _open_items(run).update(is_open=False)
    run.status, run.cancelled_by, run.cancelled_at = PaymentRun.Status.CANCELLED, actor, timezone.now()
    run.save(update_fields=["status", "cancelled_by", "cancelled_at"])
    audit_record(
        kind=AuditEvent.Kind.ACTION, actor=actor, action="payment_run_cancel", obj=run, detail={"reason": reason}
    )
    return run


# --- Confirmation --------------------------------------------------------------------------------------


def _mark(actor, payment: Payment, status: str, reason: str) -> Payment:
    run = payment.run
    now = timezone.now()
    if status == Payment.Status.PAID:
        if payment.status != Payment.Status.SENT:
            raise ConflictError(
                f"Payment {payment.end_to_end_id} is {payment.get_status_display().lower()}; only a sent payment can be paid.",
                code="bad_status",
            )
        vendor = payment.vendor
        payment.entry = ledger_post(
            market=run.market,
            entry_date=run.market.local_date(),
            lines=[
                PostingLine(
                    vendor_payable_account(vendor, payment.currency), payment.amount, f"Payment {payment.end_to_end_id}"
                ),
                PostingLine(
                    account_for(market=run.market, kind=AccountKind.BANK, currency=payment.currency),
                    -payment.amount,
                    f"Paid to {vendor.code}",
                ),
            ],
            idempotency_key=f"payables:payment:{payment.pk}:paid",
            source_type="vendor_payment",
            source_id=str(payment.pk),
            description=f"Payment {payment.end_to_end_id} to {vendor.code} ({run.number})",
            actor=actor,
        )
        ids = list(payment.items.filter(is_open=True).values_list("payable_id", flat=True))
        payables_lock(ids)
        Payable.objects.filter(pk__in=ids).update(
            status=Payable.Status.PAID, payment_run=None, payment=payment, paid_at=now
        )
        payment.items.update(is_open=False)
        payment.status, payment.confirmed_by, payment.confirmed_at = Payment.Status.PAID, actor, now
        payment.save(update_fields=["entry", "status", "confirmed_by", "confirmed_at"])
        transaction.on_commit(partial(_queue_remittance, payment.pk))
    else:
        reason = (reason or "").strip()
        if not reason:
            raise DomainError("Give the bank's reason for the rejection.", code="required", field="reason")
        if payment.status not in (Payment.Status.SENT, Payment.Status.PAID):
            raise ConflictError(
                f"Payment {payment.end_to_end_id} is {payment.get_status_display().lower()}.", code="bad_status"
            )
        ids = list(payment.items.values_list("payable_id", flat=True))
        payables_lock(ids)
        if payment.status == Payment.Status.PAID:
            # Returned by the bank after it was booked as paid: reverse the payment entry.
            payment.reversal_entry = ledger_reverse(
                entry=payment.entry, reason=f"Payment returned: {reason}", actor=actor
            )
        Payable.objects.filter(pk__in=ids).update(
            status=Payable.Status.OPEN, payment_run=None, payment=None, paid_at=None, last_rejection_reason=reason[:255]
        )
        payment.items.update(is_open=False)
        payment.status, payment.rejection_reason, payment.confirmed_by, payment.confirmed_at = (
            Payment.Status.REJECTED,
            reason[:255],
            actor,
            now,
        )
        payment.save(update_fields=["reversal_entry", "status", "rejection_reason", "confirmed_by", "confirmed_at"])
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action=f"payment_{status}",
        obj=payment,
        detail={"run": run.number, "amount": str(payment.amount), "reason": reason},
    )
    if not run.payments.exclude(status__in=[Payment.Status.PAID, Payment.Status.REJECTED]).exists():
        run.status, run.completed_at = PaymentRun.Status.COMPLETED, now
        run.save(update_fields=["status", "completed_at"])
    return payment


@retry_on_conflict
@transaction.atomic(durable=True)
def payment_mark(*, actor, payment: Payment, status: str, reason: str = "") -> Payment:
    """Confirm one payment as paid (Dr vendor payable / Cr bank; its payables are cleared) or
    rejected (its payables return to open with the reason; a paid one is reversed)."""
    if status not in (Payment.Status.PAID, Payment.Status.REJECTED):
        raise DomainError("Mark a payment paid or rejected.", field="status")
    run = payment_run_lock(payment.run_id)
    if run.status not in (PaymentRun.Status.EXPORTED, PaymentRun.Status.COMPLETED):
        raise ConflictError("Payments are confirmed after the bank file is created.", code="bad_status")
    payment = (
        Payment.objects.select_for_update(of=("self",))
        .select_related("vendor__market", "run__market", "entry")
        .get(pk=payment.pk)
    )
    return _mark(actor, payment, status, reason)


@retry_on_conflict
@transaction.atomic(durable=True)
def payment_results_import(*, actor, run: PaymentRun, content: bytes) -> dict:
    """Apply the bank's result file (end_to_end_id,status,reason) to a run: all rows or none.
    Rows for payments already in that state are skipped, so re-uploading the file is harmless."""
    rows = bank_files.parse_results(content)
    run = payment_run_lock(run.pk)
    if run.status not in (PaymentRun.Status.EXPORTED, PaymentRun.Status.COMPLETED):
        raise ConflictError("Results are applied after the bank file is created.", code="bad_status")
    payments = {
        p.end_to_end_id: p
        for p in run.payments.select_for_update(of=("self",)).select_related("vendor__market", "run__market", "entry")
    }
    errors = [
        {
            "row": r["row"],
            "field": "end_to_end_id",
            "message": f"{r['end_to_end_id']!r} is not a payment of {run.number}",
        }
        for r in rows
        if r["end_to_end_id"] not in payments
    ]
    if errors:
        raise DomainError(
            ngettext(
                "%(n)d row of the result file has errors; nothing was applied.",
                "%(n)d rows of the result file have errors; nothing was applied.",
                len(errors),
            )
            % {"n": len(errors)},
            code="bad_rows",
            errors=errors,
        )
    counts = {"paid": 0, "rejected": 0, "unchanged": 0}
    for row in rows:
        payment = payments[row["end_to_end_id"]]
        if payment.status == row["status"]:
            counts["unchanged"] += 1
            continue
        _mark(actor, payment, row["status"], row["reason"])
        counts[row["status"]] += 1
    return counts


# --- Remittance --------------------------------------------------------------------------------------


def _queue_remittance(payment_id: int) -> None:
    from ..tasks import remittance_email_task

    remittance_email_task.delay(payment_id)


def remittance_email(*, payment_id: int) -> bool:
    """Email the remittance advice (PDF attached) to the vendor's contact, once. Returns whether
    an email was sent."""
    from django.core.mail import EmailMessage

    from ..exports import remittance_pdf

    claimed = Payment.objects.filter(pk=payment_id, status=Payment.Status.PAID, remittance_sent_at__isnull=True).update(
        remittance_sent_at=timezone.now()
    )
    if not claimed:
        return False
    payment = Payment.objects.select_related("vendor", "run").get(pk=payment_id)
    if not payment.vendor.contact_email:
        return False
    message = EmailMessage(
        subject=f"Remittance advice {payment.end_to_end_id}",
        body=(
            f"Dear {payment.vendor.legal_name},\n\nwe paid {bank_files.describe(payment.amount, payment.currency)} on {payment.run.pay_date} "
            f"(reference {payment.end_to_end_id}). The attached advice lists the invoices, credit notes and deductions it settles.\n"
        ),
        to=[payment.vendor.contact_email],
    )
    message.attach(f"remittance_{payment.end_to_end_id}.pdf", remittance_pdf(payment), "application/pdf")
    message.send()
    return True
