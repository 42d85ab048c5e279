"""Chargebacks to the liable party, and disputes that can reverse them.

Ledger (every entry balanced, one idempotency key per request):

    carrier chargeback   payables.vendor_deduction_create (source compensation_chargeback:<request>)
                         Dr vendor payable (vendor) / Cr compensation expense; the negative payable
                         is netted by the next payment run and listed on the remittance advice
    seller chargeback    an invoice to the seller (gapless number, VAT where the policy says the
                         market requires a tax invoice), key compensation:seller_charge:<request>
                         Dr seller receivable (seller)  gross
                         Cr compensation expense        net
                         Cr VAT output                  VAT
    accepted dispute     the mirror entry (ledger_reverse), approved by a second person

Locks: compensation request -> seller (receivables.locks) -> invoice, always in this order.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.payables.services import vendor_deduction_create
from billing.payables.services.deductions import vendor_deduction_withdraw
from billing.receivables import locks as ar_locks
from billing.receivables.models import Invoice, PayoutDeduction
from billing.receivables.services import Source
from settlement_ops.db import retry_on_conflict
from settlement_ops.errors import ConflictError, DomainError
from settlement_ops.models import AccountKind, AuditEvent, PartyType
from settlement_ops.money import percent_of, quantize
from settlement_ops.services import (
    PostingLine,
    account_for,
    approval_check,
    audit_record,
    document_number_next,
    ledger_post,
    ledger_reverse,
)

from ..models import Chargeback, CompensationRequest, Dispute, LiableParty, Verdict

DEDUCTION_SOURCE = "compensation_chargeback"


def _chargeable(request: CompensationRequest) -> None:
    if request.verdict != Verdict.COMPLIANT:
        raise ConflictError(
            f"{request.reference} is {request.get_verdict_display().lower()}; only a compliant compensation is "
            "charged back (QA review decides the others).",
            code="not_compliant",
        )
    if request.liable_party not in (LiableParty.CARRIER, LiableParty.SELLER):
        raise ConflictError(
            f"{request.reference}: the {request.get_liable_party_display().lower()} carries this cost; "
            "nothing to charge back.",
            code="not_chargeable",
        )
    if request.shipment_id is None:
        raise ConflictError(f"{request.reference} has no known shipment to charge.", code="no_shipment")


def _description(request: CompensationRequest) -> str:
    """Short: it is the reference of the deduction line on the carrier's remittance advice."""
    return f"Chargeback {request.market_id}-{request.external_id} {request.reason} {request.tracking_number}"


def chargeback_post(*, actor, request: CompensationRequest) -> Chargeback:
    """Charge a compliant compensation to the liable carrier or seller. Idempotent per request:
    posting twice returns the first chargeback and posts nothing more.

    Raises ConflictError when the request is not compliant, not the carrier's or seller's, or
    has no shipment.
    """
    existing = Chargeback.objects.filter(request_id=request.pk).first()
    if existing is not None:
        return existing
    request = CompensationRequest.objects.select_related("market", "shipment__vendor__market", "shipment__seller").get(
        pk=request.pk
    )
    _chargeable(request)
    if request.liable_party == LiableParty.CARRIER:
        # Payables' own use case (its own transaction, idempotent by source), then the link.
        deduction = vendor_deduction_create(
            actor=actor,
            vendor=request.shipment.vendor,
            amount=quantize(request.amount, request.currency),
            reason=_description(request),
            source_type=DEDUCTION_SOURCE,
            source_id=str(request.pk),
            currency=request.currency,
        )
        return _carrier_chargeback_record(actor=actor, request=request, deduction=deduction)
    return _seller_chargeback_post(actor=actor, request=request)


@retry_on_conflict
@transaction.atomic(durable=True)
def _carrier_chargeback_record(*, actor, request, deduction) -> Chargeback:
    request = CompensationRequest.objects.select_for_update().get(pk=request.pk)
    existing = Chargeback.objects.filter(request=request).first()
    if existing is not None:
        return existing
    chargeback = Chargeback.objects.create(
        request=request,
        market_id=request.market_id,
        party=LiableParty.CARRIER,
        vendor_id=deduction.vendor_id,
        currency=deduction.currency,
        amount=deduction.amount,
        deduction=deduction,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="compensation_chargeback_carrier",
        obj=chargeback,
        detail={"request": request.pk, "deduction": deduction.pk, "amount": str(deduction.amount)},
    )
    return chargeback


@retry_on_conflict
@transaction.atomic(durable=True)
def _seller_chargeback_post(*, actor, request) -> Chargeback:
    request = (
        CompensationRequest.objects.select_for_update(of=("self",))
        .select_related("market", "policy")
        .get(pk=request.pk)
    )
    existing = Chargeback.objects.filter(request=request).first()
    if existing is not None:
        return existing
    market = request.market
    seller_id = request.shipment.seller_id
    (seller,) = ar_locks.sellers_lock([seller_id])
    currency = market.currency
    net = quantize(request.amount, currency)
    with_vat = bool(request.policy and request.policy.seller_charge_vat)
    vat = quantize(percent_of(net, market.vat_standard_rate), currency) if with_vat else Decimal(0)
    gross = net + vat
    today = market.local_date()
    user = actor if getattr(actor, "pk", None) else None
    invoice = Invoice.objects.create(
        market=market,
        seller=seller,
        kind=Invoice.Kind.INVOICE,
        number=document_number_next(market=market, kind="inv", on=today),
        issue_date=today,
        due_date=today + timedelta(days=market.payment_terms_days),
        period_start=today,
        period_end=today,
        currency=currency,
        language=market.language,
        collection=Invoice.Collection.PAYOUT if seller.net_from_payout else Invoice.Collection.BANK,
        net_total=net,
        vat_total=vat,
        gross_total=gross,
        amount_open=gross,
        reason=_description(request)[:255],
        created_by=user,
    )
    if invoice.collection == Invoice.Collection.PAYOUT:
        PayoutDeduction.objects.create(invoice=invoice, market=market, seller=seller, currency=currency, amount=gross)
    lines = [
        PostingLine(
            account_for(
                market=market, kind=AccountKind.SELLER_RECEIVABLE, party_type=PartyType.SELLER, party_id=seller.pk
            ),
            gross,
            f"Chargeback {invoice.number}",
        ),
        PostingLine(
            account_for(market=market, kind=AccountKind.COMPENSATION_EXPENSE), -net, f"Recovered from {seller.code}"
        ),
    ]
    if vat:
        lines.append(
            PostingLine(account_for(market=market, kind=AccountKind.VAT_OUTPUT), -vat, f"VAT {invoice.number}")
        )
    invoice.entry = ledger_post(
        market=market,
        entry_date=today,
        lines=lines,
        idempotency_key=f"compensation:seller_charge:{request.pk}",
        source_type=Source.SELLER_CHARGE,
        source_id=invoice.number,
        description=_description(request)[:200],
        actor=actor,
    )
    invoice.save(update_fields=["entry"])
    chargeback = Chargeback.objects.create(
        request=request,
        market=market,
        party=LiableParty.SELLER,
        seller=seller,
        currency=currency,
        amount=gross,
        invoice=invoice,
        created_by=user,
    )
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="compensation_chargeback_seller",
        obj=chargeback,
        detail={"request": request.pk, "invoice": invoice.number, "net": str(net), "vat": str(vat)},
    )
    return chargeback


def chargebacks_post_due(*, actor=None, market=None) -> int:
    """Charge back every compliant request whose liable party is the carrier or the seller and
    that has no chargeback yet (nightly, after the audit). Returns how many were posted."""
    due = CompensationRequest.objects.filter(
        verdict=Verdict.COMPLIANT,
        liable_party__in=[LiableParty.CARRIER, LiableParty.SELLER],
        shipment__isnull=False,
        chargeback__isnull=True,
    )
    if market is not None:
        due = due.filter(market=market)
    posted = 0
    for request in due.order_by("pk").iterator(chunk_size=500):
        chargeback_post(actor=actor, request=request)
        posted += 1
    return posted


# --- Disputes ------------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def dispute_open(*, actor, chargeback: Chargeback, reason: str, via: str = "staff") -> Dispute:
    """The charged party objects (the vendor through staff, the seller in the portal)."""
    chargeback = Chargeback.objects.select_for_update().get(pk=chargeback.pk)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why the chargeback is wrong.", code="required", field="reason")
    if chargeback.status != Chargeback.Status.POSTED:
        raise ConflictError(
            f"This chargeback is {chargeback.get_status_display().lower()}; it cannot be disputed now.",
            code="bad_status",
        )
    try:
        with transaction.atomic():
            dispute = Dispute.objects.create(chargeback=chargeback, raised_by=actor, raised_via=via, reason=reason)
    except IntegrityError:
        raise ConflictError("This chargeback already has an open dispute.", code="dispute_open") from None
    chargeback.status = Chargeback.Status.DISPUTED
    chargeback.save(update_fields=["status"])
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="compensation_dispute_open",
        obj=dispute,
        detail={"chargeback": chargeback.pk, "via": via},
    )
    return dispute


@transaction.atomic(durable=True)
def dispute_decide(*, actor, dispute: Dispute, accept: bool, note: str = "") -> Dispute:
    """QA accepts (the reversal then awaits finance's approval) or rejects a dispute."""
    dispute = Dispute.objects.select_for_update(of=("self",)).select_related("chargeback").get(pk=dispute.pk)
    if dispute.status != Dispute.Status.OPEN:
        raise ConflictError("This dispute was already decided.", code="bad_status")
    if not accept and not (note or "").strip():
        raise DomainError("Say why the dispute is rejected.", code="required", field="note")
    dispute.status = Dispute.Status.ACCEPTED if accept else Dispute.Status.REJECTED
    dispute.decided_by, dispute.decided_at, dispute.decision_note = actor, timezone.now(), (note or "")[:255]
    dispute.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    if not accept:
        chargeback = dispute.chargeback
        chargeback.status = Chargeback.Status.POSTED
        chargeback.save(update_fields=["status"])
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="compensation_dispute_decide",
        obj=dispute,
        detail={"accept": accept, "note": note[:255] if note else ""},
    )
    return dispute


@retry_on_conflict
@transaction.atomic(durable=True)
def dispute_approve(*, actor, dispute: Dispute, note: str = "") -> Dispute:
    """Finance approves the reversal of an accepted dispute (not the person who accepted it):
    the chargeback's entry is mirrored, the carrier's deduction withdrawn or the seller's charge
    invoice closed, and the platform carries the cost from then on.

    Raises PermissionDeniedError for the person who accepted it; ConflictError when the
    deduction was already netted or the seller already paid part of the charge.
    """
    dispute = Dispute.objects.select_for_update(of=("self",)).select_related("decided_by").get(pk=dispute.pk)
    if dispute.status != Dispute.Status.ACCEPTED:
        raise ConflictError("Only an accepted dispute can be reversed.", code="bad_status")
    approval_check(actor=actor, action="compensation_reversal", prepared_by=dispute.decided_by)
    chargeback = (
        Chargeback.objects.select_for_update(of=("self",))
        .select_related("request", "deduction")
        .get(pk=dispute.chargeback_id)
    )
    request = CompensationRequest.objects.select_for_update().get(pk=chargeback.request_id)
    reason = f"Dispute {dispute.pk} accepted: {dispute.reason}"[:200]
    if chargeback.party == LiableParty.CARRIER:
        entry = vendor_deduction_withdraw(actor=actor, deduction=chargeback.deduction, reason=reason)
    else:
        ar_locks.sellers_lock([chargeback.seller_id])
        invoice = ar_locks.invoice_lock(chargeback.invoice_id)
        if invoice.amount_open != invoice.gross_total:
            raise ConflictError(
                f"The seller already paid part of {invoice.number}; reverse its receipt applications first.",
                code="charge_paid",
            )
        PayoutDeduction.objects.filter(invoice=invoice, status=PayoutDeduction.Status.PENDING).update(
            status=PayoutDeduction.Status.CANCELLED
        )
        entry = ledger_reverse(entry=invoice.entry, reason=reason, actor=actor)
        invoice.amount_open, invoice.status = Decimal(0), Invoice.Status.CREDITED
        invoice.save(update_fields=["amount_open", "status"])
    chargeback.status, chargeback.reversal_entry = Chargeback.Status.REVERSED, entry
    chargeback.save(update_fields=["status", "reversal_entry"])
    dispute.status, dispute.approved_by, dispute.approved_at = Dispute.Status.REVERSED, actor, timezone.now()
    dispute.save(update_fields=["status", "approved_by", "approved_at"])
    request.liable_party, request.liable_overridden = LiableParty.PLATFORM, True
    request.liable_basis = f"Chargeback reversed after dispute {dispute.pk}"
    request.save(update_fields=["liable_party", "liable_overridden", "liable_basis"])
    audit_record(
        kind=AuditEvent.Kind.APPROVAL,
        actor=actor,
        action="compensation_dispute_approve",
        obj=dispute,
        detail={"chargeback": chargeback.pk, "entry": entry.pk, "note": note[:255]},
    )
    return dispute
