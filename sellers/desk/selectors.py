"""Reads of the consultation desk: queues, a seller's tickets, the ledger trace, reports."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Avg, Case, Count, F, IntegerField, Q, Value, When
from django.utils import timezone

from settlement_ops.navigation import app_module

from ..models import OPEN_STATES, ChargeExplanation, ResolutionReason, Ticket, TicketCategory, TicketMessage
from ..selectors import seller_for_user
from . import sla


def tickets_for_seller_user(user):
    """A portal user's own seller's tickets; anything else is a 404 like a missing one."""
    seller = seller_for_user(user)
    if seller is None:
        return Ticket.objects.none()
    return Ticket.objects.filter(seller=seller).select_related("market")


def staff_tickets(user):
    """Tickets a staff user may work: tier 1 sees tier-1 tickets, tier 2 both."""
    qs = Ticket.objects.select_related("seller", "market", "assignee")
    if user.has_perm("sellers.work_desk_tier2"):
        return qs
    if user.has_perm("sellers.work_desk_tier1"):
        return qs.filter(tier=1)
    return qs.none()


def queue(user, *, market=None, tier=None, state=None, category=None, badge=None, assignee=None, now=None):
    """The queue: open tickets by default, most urgent deadline first. The SLA badge filter is
    computed in SQL from the deadlines so the page stays one indexed query."""
    now = now or timezone.now()
    qs = staff_tickets(user)
    qs = qs.filter(state__in=OPEN_STATES) if not state else qs.filter(state=state)
    if market:
        qs = qs.filter(market_id=market)
    if tier:
        qs = qs.filter(tier=tier)
    if category:
        qs = qs.filter(category=category)
    if assignee == "me":
        qs = qs.filter(assignee=user)
    elif assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif assignee:
        qs = qs.filter(assignee__username=assignee)
    if badge == sla.Badge.BREACHED:
        qs = qs.filter(paused_at__isnull=True, sla_due_at__lt=now)
    elif badge == sla.Badge.PAUSED:
        qs = qs.filter(paused_at__isnull=False)
    elif badge in (sla.Badge.AT_RISK, sla.Badge.ON_TRACK):
        qs = qs.filter(paused_at__isnull=True, sla_due_at__gte=now)
    return qs.order_by("sla_due_at", "id")


def with_badges(tickets, now=None):
    now = now or timezone.now()
    for ticket in tickets:
        ticket.badge = sla.badge(ticket, now)
        ticket.badge_label = sla.Badge.LABELS[ticket.badge]
    return tickets


def thread(ticket: Ticket, *, for_seller: bool):
    """The messages a reader may see: internal notes never reach the seller."""
    messages = ticket.messages.select_related("author").prefetch_related("attachments")
    if for_seller:
        messages = messages.exclude(kind=TicketMessage.Kind.NOTE)
    return list(messages)


def charge_trace(seller, reference_kind: str, reference: str):
    """The ledger trace of a tracking number (or of an invoice line's shipment), or None."""
    module = app_module("receivables", "charge_trace")
    if module is None or not reference:
        return None
    if reference_kind in ("tracking", ""):
        return module.trace_shipment(seller, reference)
    return None


def open_warning_for(seller):
    """A seller health warning the agent must see on every ticket, when that app provides one."""
    module = app_module("sellers", "health")
    return module.open_warning(seller) if module and hasattr(module, "open_warning") else None


def _window(start: date, end: date):
    tz = timezone.get_current_timezone()
    return datetime.combine(start, time.min, tz), datetime.combine(end + timedelta(days=1), time.min, tz)


def report(*, start: date, end: date, market: str | None = None) -> dict:
    """Desk figures over tickets opened in [start, end]: volume by category and market, SLA
    attainment, first-contact resolution, reopen rate, CSAT, top reasons, share credited."""
    lower, upper = _window(start, end)
    tickets = Ticket.objects.filter(created_at__gte=lower, created_at__lt=upper, merged_into__isnull=True)
    if market:
        tickets = tickets.filter(market_id=market)
    totals = tickets.aggregate(
        total=Count("id"),
        answered=Count("id", filter=Q(first_responded_at__isnull=False)),
        first_in_time=Count("id", filter=Q(first_responded_at__lte=F("first_response_due_at"))),
        resolved=Count("id", filter=Q(resolved_at__isnull=False)),
        resolved_in_time=Count("id", filter=Q(resolved_at__lte=F("resolution_due_at"))),
        first_contact=Count("id", filter=Q(resolved_at__isnull=False, agent_replies__lte=1, reopen_count=0, tier=1)),
        reopened=Count("id", filter=Q(reopen_count__gt=0)),
        rated=Count("csat_rating"),
        satisfied=Count("id", filter=Q(csat_rating__gte=4)),
        csat_avg=Avg("csat_rating"),
        credited=Count("id", filter=~Q(credit_note_number="")),
    )

    def share(part, whole):
        return round(100 * part / whole, 1) if whole else None

    by_category = list(
        tickets.values("category", "market_id").annotate(n=Count("id")).order_by("market_id", "category")
    )
    labels = dict(TicketCategory.choices)
    for row in by_category:
        row["label"] = labels.get(row["category"], row["category"])
    reasons = list(
        tickets.exclude(resolution_reason="")
        .values("resolution_reason")
        .annotate(n=Count("id"))
        .order_by("-n", "resolution_reason")[:10]
    )
    reason_labels = dict(ResolutionReason.choices)
    for row in reasons:
        row["label"] = reason_labels.get(row["resolution_reason"], row["resolution_reason"])
    explanations = ChargeExplanation.objects.filter(created_at__gte=lower, created_at__lt=upper, found=True)
    if market:
        explanations = explanations.filter(seller__market_id=market)
    explained = explanations.aggregate(total=Count("id"), ticketed=Count("id", filter=Q(ticket__isnull=False)))
    return {
        "start": start,
        "end": end,
        "market": market,
        "totals": totals,
        "first_response_attainment": share(totals["first_in_time"], totals["answered"]),
        "resolution_attainment": share(totals["resolved_in_time"], totals["resolved"]),
        "first_contact_resolution": share(totals["first_contact"], totals["resolved"]),
        "reopen_rate": share(totals["reopened"], totals["resolved"]),
        "csat_share": share(totals["satisfied"], totals["rated"]),
        "credit_share": share(totals["credited"], totals["total"]),
        "by_category": by_category,
        "reasons": reasons,
        "explanations": explained["total"],
        "self_service_rate": share(explained["total"] - explained["ticketed"], explained["total"]),
    }


def badge_counts(user, now=None) -> dict:
    """Open tickets per SLA badge for the queue header and the home page."""
    now = now or timezone.now()
    qs = queue(user, now=now)
    return qs.aggregate(
        breached=Count("id", filter=Q(paused_at__isnull=True, sla_due_at__lt=now)),
        paused=Count("id", filter=Q(paused_at__isnull=False)),
        unassigned=Count("id", filter=Q(assignee__isnull=True)),
        mine=Count("id", filter=Q(assignee=user)),
        open=Count("id"),
    )


# The seller's "My questions" list: unread replies first would need read receipts; newest first.
def seller_ticket_list(user):
    return (
        tickets_for_seller_user(user)
        .annotate(
            open_first=Case(When(state__in=OPEN_STATES, then=Value(1)), default=Value(0), output_field=IntegerField())
        )
        .order_by("-open_first", "-created_at")
    )
