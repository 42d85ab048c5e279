"""Holds: the loss-stopping actions of a case, and how they reach the apps below.

* vendor payables: payment runs leave every payable of the vendor out, with the case's reason
  (a rule in payables' EXCLUSION_RULES registry, read after the run has locked its payables);
  payables already in a prepared run are taken out of it as soon as the hold commits.
* seller payout: the payout system reads active holds (API `risk/holds/?kind=seller_payout`) and
  pays nothing to the seller while one is active; pages show it on the case.
* contract rating: recorded on the contract's case and listed for the billing run (the rating
  statement has no hook yet; see the report of issue #16).
* second approver: the vendor's next payment run needs a co-signature of a second finance
  approver (a rule in payables' APPROVAL_RULES registry); the hold is done once that run is
  approved.

Placing a hold locks the vendor's unpaid payables (by pk, the order payment runs use), so a hold
and a payment run being prepared at the same moment serialise: either the run sees the hold, or
the hold sees the payables in the run and takes them out.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from functools import partial

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing.payables.locks import payables_lock, payment_run_lock
from billing.payables.models import Payable, PaymentRun
from billing.receivables.models import Invoice
from settlement_ops.db import retry_on_conflict
from settlement_ops.errors import ConflictError, DomainError, PermissionDeniedError
from settlement_ops.models import ApprovalLimit, AuditEvent
from settlement_ops.services import approval_check, audit_record

from .models import Case, Hold
from .services import case_lock, case_recompute

logger = logging.getLogger(__name__)

EXCLUSION_CODE = "risk_hold"


def _unpaid_vendor_payables(vendor_id: int):
    return Payable.objects.filter(vendor_id=vendor_id).exclude(status=Payable.Status.PAID)


@retry_on_conflict
@transaction.atomic(durable=True)
def hold_place(*, actor, case: Case, kind: str, reason: str, vendor=None, seller=None, contract=None) -> Hold:
    """Place a hold on a case; it takes effect when this transaction commits.

    Raises DomainError for a missing reason or subject, ConflictError for a closed case or a
    second active hold of the same kind on the same subject."""
    case = case_lock(case.pk)
    if case.is_closed:
        raise ConflictError("The case is closed.", code="closed")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give the reason the hold shows (payment runs print it).", code="required", field="reason")
    if kind not in Hold.Kind.values:
        raise DomainError("Choose what to hold.", field="kind")
    subject = {"vendor": vendor, "seller": seller, "contract": contract}
    needed = {
        Hold.Kind.VENDOR_PAYABLES: "vendor",
        Hold.Kind.SECOND_APPROVER: "vendor",
        Hold.Kind.SELLER_PAYOUT: "seller",
        Hold.Kind.CONTRACT_RATING: "contract",
    }[kind]
    if subject[needed] is None:
        raise DomainError(f"Choose the {needed} to hold.", code="required", field=needed)
    target = subject[needed]
    if target.market_id != case.market_id:
        raise DomainError(f"The {needed} is not in {case.market_id}.", field=needed)
    if Hold.objects.filter(kind=kind, status__in=Hold.ACTIVE_STATUSES, **{needed: target}).exists():
        raise ConflictError(f"This {needed} already has an active hold of this kind.", code="already_held")
    amount, in_runs = Decimal(0), []
    if kind == Hold.Kind.VENDOR_PAYABLES:
        locked = payables_lock(_unpaid_vendor_payables(target.pk).values_list("pk", flat=True))
        amount = max(sum((p.amount for p in locked), Decimal(0)), Decimal(0))
        in_runs = [(p.payment_run_id, p.pk) for p in locked if p.status == Payable.Status.IN_RUN]
    elif kind == Hold.Kind.SELLER_PAYOUT:
        amount = Invoice.objects.filter(seller=target, status__in=["open", "partially_paid"]).aggregate(
            t=Sum("amount_open")
        )["t"] or Decimal(0)
    hold = Hold.objects.create(
        case=case,
        market=case.market,
        kind=kind,
        reason=reason[:255],
        currency=case.currency,
        amount_stopped=amount,
        placed_by=actor,
        placed_at=timezone.now(),
        **{needed: target},
    )
    if case.state == Case.State.OPEN:
        case.state = Case.State.ACTING
        case.save(update_fields=["state"])
    case_recompute(case)
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="risk_hold_place",
        obj=hold,
        detail={
            "case": case.number,
            "kind": kind,
            "subject": hold.subject_label,
            "reason": reason,
            "amount": str(amount),
        },
    )
    if in_runs:
        transaction.on_commit(partial(_take_out_of_runs, hold.pk, in_runs, actor.pk))
    return hold


def _take_out_of_runs(hold_id: int, in_runs: list[tuple[int, int]], actor_id: int) -> None:
    """After the hold commits: remove the vendor's payables from prepared runs (an approved run is
    frozen: its approver saw it; it is listed on the hold for cancellation)."""
    from django.contrib.auth import get_user_model

    from billing.payables.services import payment_run_remove_item

    hold = Hold.objects.select_related("case").get(pk=hold_id)
    actor = get_user_model().objects.get(pk=actor_id)
    for run_id, payable_id in in_runs:
        run = PaymentRun.objects.get(pk=run_id)
        if not run.is_editable:
            continue
        try:
            payment_run_remove_item(
                actor=actor,
                run=run,
                payable=Payable.objects.get(pk=payable_id),
                reason=f"Risk hold, case {hold.case.number}: {hold.reason}",
            )
        except DomainError:  # already left with the vendor's other items
            continue


@retry_on_conflict
@transaction.atomic(durable=True)
def hold_request_release(*, actor, hold: Hold, note: str) -> Hold:
    hold = Hold.objects.select_for_update().get(pk=hold.pk)
    if hold.status != Hold.Status.ACTIVE:
        raise ConflictError("Only an active hold can be proposed for release.", code="bad_status")
    note = (note or "").strip()
    if not note:
        raise DomainError("Say why the hold can be released.", code="required", field="note")
    hold.status, hold.release_requested_by, hold.release_note = Hold.Status.RELEASE_REQUESTED, actor, note[:255]
    hold.save(update_fields=["status", "release_requested_by", "release_note"])
    audit_record(
        kind=AuditEvent.Kind.ACTION, actor=actor, action="risk_hold_release_request", obj=hold, detail={"note": note}
    )
    return hold


@retry_on_conflict
@transaction.atomic(durable=True)
def hold_release(*, actor, hold: Hold, note: str = "") -> Hold:
    """Release a hold: an approval, never by the person who placed it (four eyes)."""
    hold = Hold.objects.select_for_update().select_related("case", "placed_by").get(pk=hold.pk)
    if not hold.is_active:
        raise ConflictError("This hold is no longer active.", code="bad_status")
    approval_check(actor=actor, action=ApprovalLimit.Action.HOLD_RELEASE, prepared_by=hold.placed_by)
    hold.status, hold.released_by, hold.released_at = Hold.Status.RELEASED, actor, timezone.now()
    if note:
        hold.release_note = note.strip()[:255]
    hold.save(update_fields=["status", "released_by", "released_at", "release_note"])
    case = case_lock(hold.case_id)
    case_recompute(case)
    audit_record(
        kind=AuditEvent.Kind.APPROVAL,
        actor=actor,
        action="risk_hold_release",
        obj=hold,
        detail={"case": case.number, "placed_by": hold.placed_by.username, "note": hold.release_note},
    )
    return hold


@retry_on_conflict
@transaction.atomic(durable=True)
def hold_co_approve(*, actor, hold: Hold, run: PaymentRun) -> Hold:
    """The second approver co-signs the vendor's prepared payment run; the run's approver must be
    yet another person (checked when the run is approved)."""
    hold = Hold.objects.select_for_update().get(pk=hold.pk)
    run = payment_run_lock(run.pk)
    if hold.kind != Hold.Kind.SECOND_APPROVER or not hold.is_active:
        raise ConflictError("This hold does not ask for a second approver.", code="bad_status")
    if not actor.has_perm("payables.approve_paymentrun"):
        raise PermissionDeniedError("A finance approver co-signs payment runs.")
    if run.status != PaymentRun.Status.DRAFT or not run.payments.filter(vendor_id=hold.vendor_id).exists():
        raise DomainError("Choose a prepared run that pays this vendor.", field="run")
    approval_check(actor=actor, action=ApprovalLimit.Action.PAYMENT_RUN, prepared_by=run.prepared_by)
    hold.co_approved_by, hold.co_approved_run = actor, run
    hold.save(update_fields=["co_approved_by", "co_approved_run"])
    audit_record(
        kind=AuditEvent.Kind.APPROVAL, actor=actor, action="risk_hold_co_approve", obj=hold, detail={"run": run.number}
    )
    return hold


# --- Hooks into payables ---------------------------------------------------------------------------


def vendor_hold_exclusion(payable, ctx):
    """Payment-run exclusion rule (payables EXCLUSION_RULES): a vendor under an active payables
    hold is left out with the case's reason. The market's holds are read once per run, after the
    run locked its payables."""
    held = getattr(ctx, "_risk_vendor_holds", None)
    if held is None:
        held = {
            h["vendor_id"]: h
            for h in Hold.objects.filter(
                market=ctx.market, kind=Hold.Kind.VENDOR_PAYABLES, status__in=Hold.ACTIVE_STATUSES
            ).values("vendor_id", "reason", "case__number")
        }
        ctx._risk_vendor_holds = held
    hold = held.get(payable.vendor_id)
    if hold:
        return EXCLUSION_CODE, f"Risk hold, case {hold['case__number']}: {hold['reason']}"
    return None


def second_approver_check(*, run, actor) -> None:
    """Payment-run approval rule (payables APPROVAL_RULES): a run paying a vendor under a
    second-approver hold needs the co-signature of another finance approver; the hold is then
    done. Runs inside payment_run_approve's transaction."""
    vendor_ids = list(run.payments.values_list("vendor_id", flat=True))
    holds = list(
        Hold.objects.select_for_update()
        .select_related("case", "vendor")
        .filter(kind=Hold.Kind.SECOND_APPROVER, status__in=Hold.ACTIVE_STATUSES, vendor_id__in=vendor_ids)
    )
    for hold in holds:
        if hold.co_approved_run_id != run.pk:
            raise PermissionDeniedError(
                f"Risk case {hold.case.number} asks for a second approver on {hold.vendor.code}'s next payment run: "
                "another finance approver co-signs it on the case first.",
                code="second_approver_required",
            )
        if hold.co_approved_by_id == actor.pk:
            raise PermissionDeniedError("Four eyes: the co-signer cannot also approve the run.", code="four_eyes")
    for hold in holds:
        hold.status = Hold.Status.CONSUMED
        hold.save(update_fields=["status"])
        audit_record(
            kind=AuditEvent.Kind.ACTION, actor=actor, action="risk_hold_consumed", obj=hold, detail={"run": run.number}
        )


def register_hooks() -> None:
    from billing.payables.services import payment_runs

    if vendor_hold_exclusion not in payment_runs.EXCLUSION_RULES:
        # First, so a held vendor's payables show the case's reason rather than another one.
        payment_runs.EXCLUSION_RULES.insert(0, vendor_hold_exclusion)
    rules = getattr(payment_runs, "APPROVAL_RULES", None)
    if rules is not None and second_approver_check not in rules:
        rules.append(second_approver_check)
