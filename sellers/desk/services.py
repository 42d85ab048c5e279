"""Use cases of the consultation desk. Each runs in one transaction on the locked ticket, so two
agents answering or a retried request cannot leave a ticket half-moved.

States: new -> open -> waiting (on seller) -> escalated -> resolved -> closed. A resolution needs a
reason; the seller confirms (closed) or reopens within REOPEN_DAYS (back to its last owner);
resolved tickets close by themselves after REOPEN_DAYS without a word."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from settlement_ops.errors import DomainError
from settlement_ops.models import AuditEvent
from settlement_ops.navigation import app_module
from settlement_ops.services import audit_record, sequence_next

from ..models import (
    ChargeExplanation,
    ResolutionReason,
    Seller,
    Ticket,
    TicketAttachment,
    TicketCreditProposal,
    TicketMessage,
)
from . import sla
from .attachments import check_files

REOPEN_DAYS = 7
State = Ticket.State
OPEN_STATES = (State.NEW, State.OPEN, State.WAITING, State.ESCALATED)


def _lock(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_for_update().select_related("seller__market", "market").get(pk=ticket.pk)


def _event(ticket: Ticket, actor, text: str) -> None:
    TicketMessage.objects.create(ticket=ticket, kind=TicketMessage.Kind.EVENT, author=actor, body=text)


def _audit(ticket: Ticket, actor, action: str, **detail) -> None:
    audit_record(kind=AuditEvent.Kind.ACTION, actor=actor, action=f"desk.{action}", obj=ticket, detail=detail)


def _store_files(ticket: Ticket, message: TicketMessage, checked) -> None:
    for upload in checked:
        key, content = upload.as_content_file()
        attachment = TicketAttachment(
            ticket=ticket,
            message=message,
            storage_key=key,
            original_name=upload.name,
            content_type=upload.content_type,
            size=len(upload.content),
            sha256=upload.sha256,
        )
        attachment.file.save(key, content, save=False)
        attachment.save()
    # A rollback after this point leaves orphan files, never rows without files.


def _notify_seller(ticket: Ticket, subject: str, body: str) -> None:
    """E-mail the seller in its market's language. Internal notes never come here."""
    with translation.override(ticket.seller.language):
        send_mail(
            f"[{ticket.number}] {_(subject)}",
            _(body) % {"number": ticket.number, "subject": ticket.subject},
            None,
            [ticket.seller.email],
            fail_silently=True,
        )


def resolve_reference(seller: Seller, kind: str, text: str) -> str | None:
    """The reference as one of the seller's own records, through the app that owns it."""
    owner = {"tracking": "receivables", "invoice": "receivables", "statement": "receivables"}.get(kind)
    if kind == "chargeback":
        module = app_module("compensation", "models")
        key = (text or "").strip().lstrip("#")
        if module is None or not key.isdigit():
            return None
        return f"Chargeback #{key}" if module.Chargeback.objects.filter(seller=seller, pk=int(key)).exists() else None
    module = app_module(owner, "charge_trace") if owner else None
    return module.resolve_reference(seller, kind, text) if module else None


@transaction.atomic
def ticket_open(
    *,
    seller: Seller,
    actor,
    category: str,
    subject: str,
    body: str,
    priority: str = "normal",
    reference_kind: str = "",
    reference: str = "",
    files=(),
    channel: str = Ticket.Channel.PORTAL,
    now=None,
) -> Ticket:
    now = now or timezone.now()
    if not subject.strip():
        raise DomainError(N_("Give the question a subject."), field="subject")
    if not body.strip():
        raise DomainError(N_("Write your question."), field="body")
    if reference_kind and not reference.strip():
        raise DomainError(N_("Give the reference, or choose no reference."), field="reference")
    if reference.strip() and not reference_kind:
        raise DomainError(N_("Say what the reference is (tracking number, invoice, ...)."), field="reference_kind")
    if reference_kind and resolve_reference(seller, reference_kind, reference) is None:
        raise DomainError(
            f"{reference.strip()} is not one of your {Ticket.ReferenceKind(reference_kind).label.lower()}s.",
            field="reference",
        )
    checked = check_files(files)
    market = seller.market
    first_due, resolution_due = sla.deadlines(market, category, priority, now)
    number = f"{market.code}-T-{now.year}-{sequence_next(market=market, kind='desk', year=now.year):06d}"
    ticket = Ticket.objects.create(
        number=number,
        seller=seller,
        market=market,
        category=category,
        priority=priority,
        subject=subject.strip()[:200],
        reference_kind=reference_kind,
        reference=reference.strip(),
        channel=channel,
        created_by=actor,
        created_at=now,
        first_response_due_at=first_due,
        resolution_due_at=resolution_due,
    )
    message = TicketMessage.objects.create(ticket=ticket, kind=TicketMessage.Kind.SELLER, author=actor, body=body)
    _store_files(ticket, message, checked)
    if reference:
        # The seller looked the charge up first and still asked: self-service did not answer it.
        ChargeExplanation.objects.filter(
            seller=seller, reference=ticket.reference, ticket__isnull=True, created_at__gte=now - timedelta(days=7)
        ).update(ticket=ticket)
    _audit(ticket, actor, "open", channel=channel)
    transaction.on_commit(
        lambda: _notify_seller(
            ticket, N_("We received your question"), N_("Your question %(number)s (%(subject)s) is with our team.")
        )
    )
    return ticket


def _resume_clock(ticket: Ticket, now) -> None:
    if ticket.paused_at:
        calendar = sla.Calendar.for_market(ticket.market)
        paused = calendar.minutes_between(ticket.paused_at, now)
        ticket.first_response_due_at = calendar.add_minutes(ticket.first_response_due_at, paused)
        ticket.resolution_due_at = calendar.add_minutes(ticket.resolution_due_at, paused)
        ticket.paused_at = None


@transaction.atomic
def seller_reply(*, ticket: Ticket, actor, body: str, files=(), now=None) -> TicketMessage:
    now = now or timezone.now()
    ticket = _lock(ticket)
    if not body.strip():
        raise DomainError(N_("Write your message."), field="body")
    if not ticket.is_open:
        raise DomainError(N_("This question is resolved; reopen it to write again."), code="ticket_closed")
    checked = check_files(files)
    message = TicketMessage.objects.create(ticket=ticket, kind=TicketMessage.Kind.SELLER, author=actor, body=body)
    _store_files(ticket, message, checked)
    if ticket.state == State.WAITING:
        _resume_clock(ticket, now)
        ticket.state = State.ESCALATED if ticket.tier == 2 else State.OPEN
        ticket.save(update_fields=["paused_at", "first_response_due_at", "resolution_due_at", "state"])
    return message


@transaction.atomic
def agent_reply(*, ticket: Ticket, actor, body: str, wait_on_seller: bool = False, now=None) -> TicketMessage:
    now = now or timezone.now()
    ticket = _lock(ticket)
    if not body.strip():
        raise DomainError("Write the reply.", field="body")
    if not ticket.is_open:
        raise DomainError(f"{ticket.number} is {ticket.get_state_display().lower()}.", code="ticket_closed")
    message = TicketMessage.objects.create(ticket=ticket, kind=TicketMessage.Kind.REPLY, author=actor, body=body)
    ticket.first_responded_at = ticket.first_responded_at or now
    ticket.agent_replies += 1
    if ticket.assignee_id is None:
        ticket.assignee = actor
    if wait_on_seller:
        ticket.state, ticket.paused_at = State.WAITING, ticket.paused_at or now
    elif ticket.state in (State.NEW, State.WAITING):
        _resume_clock(ticket, now)
        ticket.state = State.ESCALATED if ticket.tier == 2 else State.OPEN
    ticket.save()
    transaction.on_commit(
        lambda: _notify_seller(
            ticket, N_("New reply to your question"), N_("There is a reply to %(number)s (%(subject)s).")
        )
    )
    return message


@transaction.atomic
def note_add(*, ticket: Ticket, actor, body: str) -> TicketMessage:
    if not body.strip():
        raise DomainError("Write the note.", field="body")
    return TicketMessage.objects.create(ticket=_lock(ticket), kind=TicketMessage.Kind.NOTE, author=actor, body=body)


def agents(market, tier: int):
    """Staff who can work a market's queue at a tier (tier 2 may also work tier 1)."""
    perm = "work_desk_tier2" if tier == 2 else "work_desk_tier1"
    users = (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(groups__permissions__codename=perm) | Q(user_permissions__codename=perm) | Q(is_superuser=True))
    )
    return users.distinct().order_by("id")


@transaction.atomic
def ticket_assign(*, ticket: Ticket, actor, assignee=None, round_robin: bool = False) -> Ticket:
    ticket = _lock(ticket)
    if not ticket.is_open:
        raise DomainError(f"{ticket.number} is {ticket.get_state_display().lower()}.", code="ticket_closed")
    if round_robin:
        # The agent of the tier with the fewest open tickets in this market; ties by id.
        candidates = (
            agents(ticket.market, ticket.tier)
            .filter(is_superuser=False)
            .annotate(
                load=Count(
                    "desk_tickets",
                    filter=Q(desk_tickets__market=ticket.market, desk_tickets__state__in=OPEN_STATES),
                )
            )
            .order_by("load", "id")
        )
        assignee = candidates.first()
        if assignee is None:
            raise DomainError(f"No tier {ticket.tier} agent can take {ticket.market_id} tickets.", code="no_agent")
    elif assignee is not None and not agents(ticket.market, ticket.tier).filter(pk=assignee.pk).exists():
        raise DomainError(f"{assignee} cannot work tier {ticket.tier} tickets.", field="assignee")
    ticket.assignee = assignee or actor
    ticket.save(update_fields=["assignee"])
    _event(ticket, actor, f"Assigned to {ticket.assignee.get_full_name() or ticket.assignee.username}")
    return ticket


@transaction.atomic
def ticket_escalate(*, ticket: Ticket, actor, reason: str, now=None) -> Ticket:
    now = now or timezone.now()
    ticket = _lock(ticket)
    if not ticket.is_open or ticket.tier == 2:
        raise DomainError(f"{ticket.number} cannot be escalated now.", code="not_escalatable")
    if not reason.strip():
        raise DomainError("Say why the ticket goes to tier 2.", field="reason")
    _resume_clock(ticket, now)
    ticket.tier, ticket.state, ticket.escalated_at, ticket.assignee = 2, State.ESCALATED, now, None
    ticket.save()
    _event(ticket, actor, f"Escalated to tier 2: {reason.strip()}")
    _audit(ticket, actor, "escalate", reason=reason.strip())
    return ticket


@transaction.atomic
def ticket_resolve(*, ticket: Ticket, actor, reason: str, note: str = "", now=None) -> Ticket:
    now = now or timezone.now()
    ticket = _lock(ticket)
    if not ticket.is_open:
        raise DomainError(f"{ticket.number} is already {ticket.get_state_display().lower()}.", code="ticket_closed")
    if reason not in ResolutionReason.values:
        raise DomainError("Choose a resolution reason.", field="reason")
    _resume_clock(ticket, now)
    ticket.state, ticket.resolved_at, ticket.last_owner = State.RESOLVED, now, actor
    ticket.resolution_reason, ticket.resolution_note = reason, note.strip()
    ticket.first_responded_at = ticket.first_responded_at or now
    ticket.save()
    _event(ticket, actor, f"Resolved: {ResolutionReason(reason).label}")
    _audit(ticket, actor, "resolve", reason=reason)
    transaction.on_commit(
        lambda: _notify_seller(
            ticket,
            N_("Your question is resolved"),
            N_("%(number)s (%(subject)s) is resolved. Confirm it, or reopen it within 7 days in the portal."),
        )
    )
    return ticket


@transaction.atomic
def ticket_confirm(*, ticket: Ticket, actor, now=None) -> Ticket:
    ticket = _lock(ticket)
    if ticket.state != State.RESOLVED:
        raise DomainError(N_("Only a resolved question can be confirmed."), code="not_resolved")
    ticket.state, ticket.closed_at = State.CLOSED, now or timezone.now()
    ticket.save(update_fields=["state", "closed_at"])
    _event(ticket, actor, "Resolution confirmed by the seller")
    return ticket


@transaction.atomic
def ticket_reopen(*, ticket: Ticket, actor, body: str, now=None) -> Ticket:
    now = now or timezone.now()
    ticket = _lock(ticket)
    if ticket.state not in (State.RESOLVED, State.CLOSED) or ticket.merged_into_id:
        raise DomainError(N_("Only a resolved question can be reopened."), code="not_resolved")
    if ticket.resolved_at is None or now > ticket.resolved_at + timedelta(days=REOPEN_DAYS):
        # REOPEN_DAYS is 7: the message is fixed so the portal shows it translated.
        raise DomainError(N_("A question can be reopened within 7 days of its resolution."), code="too_late")
    if not body.strip():
        raise DomainError(N_("Say what is still wrong."), field="body")
    TicketMessage.objects.create(ticket=ticket, kind=TicketMessage.Kind.SELLER, author=actor, body=body)
    ticket.state = State.ESCALATED if ticket.tier == 2 else State.OPEN
    ticket.assignee, ticket.reopen_count = ticket.last_owner, ticket.reopen_count + 1
    ticket.resolved_at = ticket.closed_at = None
    ticket.resolution_reason = ""
    ticket.save()
    _event(ticket, actor, "Reopened by the seller")
    return ticket


@transaction.atomic
def ticket_rate(*, ticket: Ticket, actor, rating: int, comment: str = "") -> Ticket:
    ticket = _lock(ticket)
    if ticket.state not in (State.RESOLVED, State.CLOSED):
        raise DomainError(N_("Rate a question once it is resolved."), code="not_resolved")
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise DomainError(N_("Give a rating from 1 to 5."), field="rating")
    ticket.csat_rating, ticket.csat_comment = rating, comment.strip()
    ticket.save(update_fields=["csat_rating", "csat_comment"])
    return ticket


@transaction.atomic
def ticket_merge(*, duplicate: Ticket, into: Ticket, actor, now=None) -> Ticket:
    if duplicate.pk == into.pk:
        raise DomainError("A ticket cannot be merged into itself.", field="into")
    first, second = sorted([duplicate.pk, into.pk])
    locked = {t.pk: t for t in Ticket.objects.select_for_update().filter(pk__in=[first, second]).order_by("pk")}
    duplicate, into = locked[duplicate.pk], locked[into.pk]
    if duplicate.seller_id != into.seller_id:
        raise DomainError("Only tickets of the same seller can be merged.", field="into")
    if not duplicate.is_open or not into.is_open:
        raise DomainError("Both tickets must be open to merge.", code="ticket_closed")
    now = now or timezone.now()
    duplicate.state, duplicate.merged_into = State.CLOSED, into
    duplicate.resolution_reason, duplicate.resolved_at, duplicate.closed_at = ResolutionReason.DUPLICATE, now, now
    duplicate.last_owner = actor
    duplicate.save()
    _event(duplicate, actor, f"Merged into {into.number}")
    _event(into, actor, f"{duplicate.number} merged into this ticket")
    return into


def close_resolved(*, now=None, market=None) -> int:
    """Resolved tickets the seller neither confirmed nor reopened in REOPEN_DAYS close."""
    now = now or timezone.now()
    tickets = Ticket.objects.filter(state=State.RESOLVED, resolved_at__lt=now - timedelta(days=REOPEN_DAYS))
    if market is not None:
        tickets = tickets.filter(market=market)
    return tickets.update(state=State.CLOSED, closed_at=now)


def sla_sweep(*, now=None, market=None) -> dict:
    """Breached tier-1 tickets go to tier 2; tier 2 is e-mailed once per breached ticket.
    Idempotent: a second sweep finds nothing new (breach_notified_at)."""
    now = now or timezone.now()
    escalated = notified = 0
    candidates = Ticket.objects.filter(state__in=(State.NEW, State.OPEN, State.ESCALATED), paused_at__isnull=True)
    if market is not None:
        candidates = candidates.filter(market=market)
    breached = candidates.filter(
        Q(first_responded_at__isnull=True, first_response_due_at__lt=now) | Q(resolution_due_at__lt=now),
        breach_notified_at__isnull=True,
    )
    system = _system_user()
    for ticket_id in breached.values_list("pk", flat=True):
        with transaction.atomic():
            ticket = _lock(Ticket(pk=ticket_id))
            if ticket.breach_notified_at or not sla.breached_at(ticket, now):
                continue
            if ticket.tier == 1:
                ticket.tier, ticket.state, ticket.escalated_at, ticket.assignee = 2, State.ESCALATED, now, None
                escalated += 1
            ticket.breach_notified_at = now
            ticket.save()
            _event(ticket, system, "SLA breached: escalated to tier 2")
            recipients = [u.email for u in agents(ticket.market, 2).exclude(email="")]
            if recipients:
                send_mail(
                    f"[{ticket.number}] SLA breached",
                    f"{ticket.number} ({ticket.seller.code}, {ticket.get_category_display()}) breached its SLA.\n"
                    f"{reverse('sellers:desk_ticket', args=[ticket.pk])}",
                    None,
                    recipients,
                    fail_silently=True,
                )
                notified += 1
    closed = close_resolved(now=now, market=market)
    return {"escalated": escalated, "notified": notified, "closed": closed}


def _system_user():
    user, _ = get_user_model().objects.get_or_create(
        username="settlement-system", defaults={"is_active": False, "first_name": "Settlement Ops"}
    )
    return user


def explanation_record(*, seller: Seller, kind: str, reference: str, found: bool) -> ChargeExplanation:
    return ChargeExplanation.objects.create(
        seller=seller, reference_kind=kind, reference=reference.strip(), found=found
    )


# --- Credit from a ticket (four eyes) ------------------------------------------------------------


@transaction.atomic
def credit_propose(*, ticket: Ticket, actor, invoice_number: str, reason: str, line_ids=()) -> TicketCreditProposal:
    ticket = _lock(ticket)
    if not reason.strip():
        raise DomainError("Say why the seller is credited.", field="reason")
    receivables = app_module("receivables", "models")
    invoice = receivables.Invoice.objects.filter(seller=ticket.seller, number=invoice_number.strip()).first()
    if invoice is None:
        raise DomainError(f"{invoice_number} is not an invoice of {ticket.seller.code}.", field="invoice_number")
    lines = invoice.lines.filter(credited_line__isnull=True, credit_line__isnull=True)
    if line_ids:
        lines = lines.filter(pk__in=line_ids)
        if lines.count() != len(set(line_ids)):
            raise DomainError("A line is not on the invoice or is already credited.", field="line_ids")
    amount = sum((line.gross for line in lines), Decimal("0"))
    if amount <= 0:
        raise DomainError("Nothing on the invoice is left to credit.", field="line_ids")
    proposal = TicketCreditProposal.objects.create(
        ticket=ticket,
        invoice_id=invoice.pk,
        invoice_number=invoice.number,
        line_ids=sorted(set(line_ids)),
        currency=invoice.currency,
        amount=amount,
        reason=reason.strip(),
        proposed_by=actor,
    )
    _event(ticket, actor, f"Credit note proposed on {invoice.number} for {amount} {invoice.currency}")
    _audit(ticket, actor, "credit_propose", invoice=invoice.number, amount=str(amount))
    return proposal


def credit_decide(*, proposal: TicketCreditProposal, actor, approve: bool) -> TicketCreditProposal:
    """Issue or reject a proposed credit. The AR credit-note service posts in its own (durable)
    transaction, so it runs between two short ones here; it is also the guard against a second
    issue: lines already credited are refused there."""
    with transaction.atomic():
        proposal = TicketCreditProposal.objects.select_for_update().select_related("ticket").get(pk=proposal.pk)
        if proposal.status != TicketCreditProposal.Status.PROPOSED:
            raise DomainError(f"This proposal is already {proposal.get_status_display().lower()}.", code="decided")
        if proposal.proposed_by_id == actor.pk:
            raise DomainError("You proposed this credit; another approver must decide it.", code="four_eyes")
        if not approve:
            proposal.status = TicketCreditProposal.Status.REJECTED
            proposal.decided_by, proposal.decided_at = actor, timezone.now()
            proposal.save()
            _event(proposal.ticket, actor, f"Credit proposal on {proposal.invoice_number} rejected")
            _audit(proposal.ticket, actor, "credit_decide", approve=False)
            return proposal
    receivables = app_module("receivables", "models")
    credit = app_module("receivables", "services").credit_note_issue(
        actor=actor,
        invoice=receivables.Invoice.objects.get(pk=proposal.invoice_id),
        reason=f"{proposal.ticket.number}: {proposal.reason}",
        line_ids=proposal.line_ids or None,
    )
    with transaction.atomic():
        proposal = TicketCreditProposal.objects.select_for_update().select_related("ticket").get(pk=proposal.pk)
        proposal.status, proposal.credit_note_number = TicketCreditProposal.Status.ISSUED, credit.number
        proposal.decided_by, proposal.decided_at = actor, timezone.now()
        proposal.save()
        Ticket.objects.filter(pk=proposal.ticket_id).update(
            credit_note_invoice_id=credit.pk, credit_note_number=credit.number
        )
        _event(proposal.ticket, actor, f"Credit note {credit.number} issued")
        _audit(proposal.ticket, actor, "credit_decide", approve=True, credit_note=credit.number)
    return proposal
