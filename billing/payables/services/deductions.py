"""Taking back a vendor deduction that has not been netted yet (an accepted chargeback dispute).

A deduction is a negative payable that the next payment run nets. While it is still open and no
run has proposed it, withdrawing it posts the mirror of its entry and removes the open payable,
so no run nets it. Once a run proposed or paid it, the money moved with the run: the refund to
the vendor must then go through a vendor document, and this refuses.
"""

from __future__ import annotations

from django.db import transaction

from settlement_ops.errors import ConflictError
from settlement_ops.models import AuditEvent, JournalEntry
from settlement_ops.services import audit_record, ledger_reverse

from ..locks import payables_lock
from ..models import Payable, PaymentRunExclusion, PaymentRunItem, VendorDeduction


@transaction.atomic
def vendor_deduction_withdraw(*, actor, deduction: VendorDeduction, reason: str) -> JournalEntry:
    """Reverse an open, never-proposed deduction (inside the caller's transaction).

    Returns the reversal entry. Raises ConflictError when the deduction's payable is in a
    payment run, paid, or was proposed in a run before.
    """
    payable = Payable.objects.filter(deduction=deduction).first()
    if payable is None:
        raise ConflictError(f"Deduction {deduction.pk} has no open payable to withdraw.", code="no_payable")
    (payable,) = payables_lock([payable.pk])
    if payable.status != Payable.Status.OPEN:
        raise ConflictError(
            f"Deduction {deduction.pk} is {payable.get_status_display().lower()}; "
            "a netted deduction is refunded through a vendor document, not withdrawn.",
            code="deduction_netted",
        )
    proposed = PaymentRunItem.objects.filter(payable=payable).select_related("run").first()
    if proposed is not None:
        raise ConflictError(
            f"Deduction {deduction.pk} was proposed in payment run {proposed.run.number}; "
            "refund it through a vendor document.",
            code="deduction_proposed",
        )
    # Runs that left it out (e.g. credits exceeding what was due) listed it as carried forward;
    # it is no longer carried, so those notes go, and the audit log keeps which runs they were.
    exclusions = list(PaymentRunExclusion.objects.filter(payable=payable).values_list("run__number", flat=True))
    PaymentRunExclusion.objects.filter(payable=payable).delete()
    entry = ledger_reverse(entry=deduction.entry, reason=reason[:200], actor=actor)
    payable.delete()
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="vendor_deduction_withdraw",
        obj=deduction,
        detail={"reason": reason[:255], "entry": entry.pk, "excluded_in_runs": exclusions},
    )
    return entry
