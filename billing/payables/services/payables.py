"""Payables: holds and vendor deductions."""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from settlement_ops.db import retry_on_conflict
from settlement_ops.errors import ConflictError, DomainError
from settlement_ops.models import AccountKind, ApprovalLimit, AuditEvent
from settlement_ops.money import is_quantized, to_decimal
from settlement_ops.services import PostingLine, approval_check, audit_record, ledger_post

from ..locks import payables_lock
from ..models import Payable, VendorDeduction
from .ledger import market_account, vendor_payable_account


@retry_on_conflict
@transaction.atomic(durable=True)
def payable_hold(*, actor, payable: Payable, reason: str) -> Payable:
    """Put a payable on hold: payment runs leave it out and say why. A payable already in an open
    run must be removed from that run first (the run is what the approver saw)."""
    (payable,) = payables_lock([payable.pk])
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give a reason for the hold.", code="required", field="reason")
    if payable.status == Payable.Status.PAID:
        raise ConflictError("A paid payable cannot be held.", code="bad_status")
    if payable.status == Payable.Status.IN_RUN:
        raise ConflictError(
            "This payable is in an open payment run; remove it from the run or cancel the run first.", code="in_run"
        )
    if payable.on_hold:
        raise ConflictError("This payable is already on hold.", code="already_held")
    payable.on_hold, payable.hold_reason, payable.held_by, payable.held_at = True, reason[:255], actor, timezone.now()
    payable.save(update_fields=["on_hold", "hold_reason", "held_by", "held_at"])
    audit_record(
        kind=AuditEvent.Kind.ACTION, actor=actor, action="payable_hold", obj=payable, detail={"reason": reason}
    )
    return payable


@retry_on_conflict
@transaction.atomic(durable=True)
def payable_release(*, actor, payable: Payable, note: str = "") -> Payable:
    """Release a hold. Releasing is an approval: not by the person who set the hold."""
    (payable,) = payables_lock([payable.pk])
    if not payable.on_hold:
        raise ConflictError("This payable is not on hold.", code="not_held")
    approval_check(actor=actor, action=ApprovalLimit.Action.HOLD_RELEASE, prepared_by=payable.held_by)
    detail = {"reason": payable.hold_reason, "held_by": getattr(payable.held_by, "username", ""), "note": note}
    payable.on_hold, payable.hold_reason, payable.held_by, payable.held_at = False, "", None, None
    payable.save(update_fields=["on_hold", "hold_reason", "held_by", "held_at"])
    audit_record(kind=AuditEvent.Kind.APPROVAL, actor=actor, action="payable_release", obj=payable, detail=detail)
    return payable


@retry_on_conflict
@transaction.atomic(durable=True)
def vendor_deduction_create(
    *,
    actor,
    vendor,
    amount,
    reason: str,
    source_type: str,
    source_id: str,
    currency: str | None = None,
    counter_account_kind: str = AccountKind.COMPENSATION_EXPENSE,
) -> VendorDeduction:
    """Record an amount to deduct from the vendor's next payment (e.g. a compensation chargeback).

    Posts Dr vendor payable / Cr `counter_account_kind` (compensation expense by default: the
    vendor carries the cost) and creates a negative payable that payment runs net. Idempotent by
    (source_type, source_id): calling again returns the first deduction. Raises DomainError for a
    non-positive or unrounded amount or a currency other than the vendor's market currency.
    """
    existing = VendorDeduction.objects.filter(source_type=source_type, source_id=str(source_id)).first()
    if existing is not None:
        return existing
    currency = currency or vendor.market.currency
    if currency != vendor.market.currency:
        raise DomainError(
            f"{vendor.code} is paid in {vendor.market.currency}, not {currency}.",
            code="wrong_currency",
            field="currency",
        )
    amount = to_decimal(amount)
    if amount <= 0:
        raise DomainError("A deduction is greater than zero.", field="amount")
    if not is_quantized(amount, currency):
        raise DomainError(f"{amount} has more decimals than {currency} allows.", field="amount")
    if not (reason or "").strip():
        raise DomainError("Give a reason for the deduction.", code="required", field="reason")
    if counter_account_kind not in AccountKind.values:
        raise DomainError("Unknown account kind.", field="counter_account_kind")
    try:
        with transaction.atomic():
            deduction = VendorDeduction.objects.create(
                vendor=vendor,
                market=vendor.market,
                currency=currency,
                amount=amount,
                reason=reason.strip()[:255],
                source_type=source_type,
                source_id=str(source_id),
                counter_account_kind=counter_account_kind,
                created_by=actor if getattr(actor, "pk", None) else None,
            )
    except IntegrityError:
        return VendorDeduction.objects.get(source_type=source_type, source_id=str(source_id))
    deduction.entry = ledger_post(
        market=vendor.market,
        entry_date=vendor.market.local_date(),
        lines=[
            PostingLine(vendor_payable_account(vendor, currency), amount, f"Deduction: {reason[:100]}"),
            PostingLine(
                market_account(vendor, counter_account_kind, currency), -amount, f"Recovered from {vendor.code}"
            ),
        ],
        idempotency_key=f"payables:deduction:{deduction.pk}",
        source_type="vendor_deduction",
        source_id=str(deduction.pk),
        description=f"Deduction from {vendor.code}: {reason[:120]}",
        actor=actor,
    )
    deduction.save(update_fields=["entry"])
    Payable.objects.create(
        vendor=vendor,
        market=vendor.market,
        currency=currency,
        kind=Payable.Kind.DEDUCTION,
        deduction=deduction,
        amount=-amount,
        due_date=vendor.market.local_date(),
    )
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="vendor_deduction_create",
        obj=deduction,
        detail={"amount": str(amount), "source": f"{source_type}:{source_id}"},
    )
    return deduction


ZERO = Decimal(0)


@transaction.atomic
def audit_policy_save(*, actor, vendor, tolerance_amount, tolerance_percent, weight_tolerance_kg):
    """Set a vendor's audit tolerances (amount, percent, weight); history keeps the old ones."""
    from ..models import VendorAuditPolicy

    values = {
        "tolerance_amount": to_decimal(tolerance_amount),
        "tolerance_percent": to_decimal(tolerance_percent),
        "weight_tolerance_kg": to_decimal(weight_tolerance_kg),
    }
    for name, value in values.items():
        if value < 0:
            raise DomainError("Tolerances cannot be negative.", field=name)
    policy, _ = VendorAuditPolicy.objects.update_or_create(vendor=vendor, defaults=values)
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="audit_policy_save",
        obj=policy,
        detail={k: str(v) for k, v in values.items()},
    )
    return policy
