"""Staff pages of the consultation desk: the queue, a ticket with its ledger trace, reports."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.views.generic import FormView, ListView, TemplateView

from settlement_ops.errors import DomainError
from settlement_ops.exports import Column, Sheet, workbook_response
from settlement_ops.forms import add_domain_error
from settlement_ops.i18n import format_money
from settlement_ops.money import format_amount
from settlement_ops.pagination import EstimatingPaginator
from settlement_ops.permissions import ActionView, PermissionRequiredPageMixin

from ..models import CannedReply, Seller, Ticket, TicketAttachment, TicketCategory, TicketCreditProposal
from . import selectors, services, sla
from .forms import AgentReplyForm, CreditProposalForm, MessageForm, ResolveForm, StaffTicketOpenForm

DESK_PERMS = ("sellers.work_desk_tier1",)


class QueueFilterForm(forms.Form):
    market = forms.CharField(required=False, max_length=2)
    tier = forms.ChoiceField(required=False, choices=[("", "All"), ("1", "Tier 1"), ("2", "Tier 2")])
    state = forms.ChoiceField(required=False, choices=[("", "All open")] + Ticket.State.choices)
    category = forms.ChoiceField(required=False, choices=[("", "All")] + TicketCategory.choices)
    badge = forms.ChoiceField(
        required=False,
        choices=[("", "All")] + [(k, v) for k, v in sla.Badge.LABELS.items() if k != sla.Badge.MET],
        label="SLA",
    )
    assignee = forms.CharField(required=False, max_length=150, help_text="me, none or a user name")


class QueueView(PermissionRequiredPageMixin, ListView):
    permission_required = DESK_PERMS
    template_name = "desk/queue.html"
    paginate_by = 50

    def get_queryset(self):
        self.filter_form = QueueFilterForm(self.request.GET or None)
        params = self.filter_form.cleaned_data if self.filter_form.is_valid() else {}
        return selectors.queue(
            self.request.user,
            market=(params.get("market") or "").upper() or None,
            tier=params.get("tier") or None,
            state=params.get("state") or None,
            category=params.get("category") or None,
            badge=params.get("badge") or None,
            assignee=params.get("assignee") or None,
        )

    # A filtered queue of a big desk is counted exactly up to a thousand tickets, estimated past
    # them (a COUNT over 100,000 open tickets took 50 ms of every page).
    paginator_class = EstimatingPaginator

    def get_paginator(self, queryset, per_page, **kwargs):
        self.counts = selectors.badge_counts(self.request.user)
        if not self.request.GET.keys() - {"page"}:
            # The unfiltered queue is every open ticket: counted once, for the header and the pages.
            kwargs["known_count"] = self.counts["open"]
        return super().get_paginator(queryset, per_page, **kwargs)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        selectors.with_badges(ctx["object_list"])
        ctx.update(filter_form=self.filter_form, counts=self.counts)
        return ctx


class TicketOpenView(PermissionRequiredPageMixin, FormView):
    """A question that came by phone or e-mail, recorded on the seller's behalf."""

    permission_required = DESK_PERMS
    template_name = "desk/ticket_new.html"
    form_class = StaffTicketOpenForm

    def form_valid(self, form):
        data = form.cleaned_data
        seller = Seller.objects.select_related("market").filter(code=data["seller"].strip()).first()
        if seller is None:
            form.add_error("seller", "No seller has this code.")
            return self.form_invalid(form)
        try:
            ticket = services.ticket_open(
                seller=seller,
                actor=self.request.user,
                category=data["category"],
                priority=data["priority"],
                subject=data["subject"],
                body=data["body"],
                reference_kind=data["reference_kind"],
                reference=data["reference"],
                files=self.request.FILES.getlist("attachments"),
                channel=Ticket.Channel.API,
            )
        except DomainError as exc:
            add_domain_error(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, f"{ticket.number} opened for {seller.code}.")
        return redirect("sellers:desk_ticket", ticket.pk)


class TicketDetailView(PermissionRequiredPageMixin, TemplateView):
    permission_required = DESK_PERMS
    template_name = "desk/ticket_detail.html"

    def get_context_data(self, pk, **kwargs):
        ticket = get_object_or_404(selectors.staff_tickets(self.request.user), pk=pk)
        ticket.badge = sla.badge(ticket)
        ticket.badge_label = sla.Badge.LABELS[ticket.badge]
        trace = selectors.charge_trace(ticket.seller, ticket.reference_kind, ticket.reference)
        reply_initial = {}
        if self.request.GET.get("insert") == "trace" and trace is not None:
            # The trace in the seller's language, ready to send.
            with translation.override(ticket.seller.language):
                reply_initial["body"] = trace.as_text(gettext, format_money)
        canned = self.request.GET.get("canned")
        if canned:
            reply = CannedReply.objects.filter(pk=canned if canned.isdigit() else None).first()
            if reply is not None:
                reply_initial["body"] = reply.body
        user = self.request.user
        return {
            **super().get_context_data(**kwargs),
            "ticket": ticket,
            "thread": selectors.thread(ticket, for_seller=False),
            "trace": trace,
            "warning": selectors.open_warning_for(ticket.seller),
            "reply_form": AgentReplyForm(initial=reply_initial),
            "note_form": MessageForm(),
            "resolve_form": ResolveForm(),
            "credit_form": CreditProposalForm(),
            "proposals": ticket.credit_proposals.select_related("proposed_by", "decided_by"),
            "canned_replies": CannedReply.objects.filter(language__in=[ticket.seller.language, "en"]),
            "agents": services.agents(ticket.market, ticket.tier).filter(is_superuser=False),
            "can_tier2": user.has_perm("sellers.work_desk_tier2"),
            "can_approve_credit": user.has_perm("sellers.approve_ticketcreditproposal"),
            "other_open": selectors.staff_tickets(user)
            .filter(seller=ticket.seller, state__in=selectors.OPEN_STATES)
            .exclude(pk=ticket.pk)[:20],
        }


class TicketActionView(ActionView):
    """Every agent action on a ticket: one POST, one service call, back to the ticket."""

    permission_required = DESK_PERMS
    action = ""

    def back(self, pk, **kwargs):
        return reverse("sellers:desk_ticket", args=[pk])

    def act(self, request, pk):
        ticket = get_object_or_404(selectors.staff_tickets(request.user), pk=pk)
        post, user = request.POST, request.user
        if self.action == "reply":
            form = AgentReplyForm(post)
            if not form.is_valid():
                raise DomainError("Write the reply.", field="body")
            services.agent_reply(
                ticket=ticket,
                actor=user,
                body=form.cleaned_data["body"],
                wait_on_seller=form.cleaned_data["wait_on_seller"],
            )
            return "Reply sent to the seller.", self.back(pk)
        if self.action == "note":
            services.note_add(ticket=ticket, actor=user, body=post.get("body", ""))
            return "Internal note added (the seller does not see it).", self.back(pk)
        if self.action == "assign":
            target = post.get("assignee", "")
            if target == "round_robin":
                ticket = services.ticket_assign(ticket=ticket, actor=user, round_robin=True)
            else:
                assignee = get_user_model().objects.filter(pk=target).first() if target.isdigit() else None
                ticket = services.ticket_assign(ticket=ticket, actor=user, assignee=assignee)
            return f"Assigned to {ticket.assignee.username}.", self.back(pk)
        if self.action == "escalate":
            services.ticket_escalate(ticket=ticket, actor=user, reason=post.get("reason", ""))
            return f"{ticket.number} escalated to tier 2.", self.back(pk)
        if self.action == "resolve":
            form = ResolveForm(post)
            if not form.is_valid():
                raise DomainError("Choose a resolution reason.", field="reason")
            services.ticket_resolve(
                ticket=ticket, actor=user, reason=form.cleaned_data["reason"], note=form.cleaned_data["note"]
            )
            return f"{ticket.number} resolved.", self.back(pk)
        if self.action == "merge":
            into = selectors.staff_tickets(user).filter(number=post.get("into", "").strip()).first()
            if into is None:
                raise DomainError("No ticket has that number.", field="into")
            services.ticket_merge(duplicate=ticket, into=into, actor=user)
            return f"{ticket.number} merged into {into.number}.", reverse("sellers:desk_ticket", args=[into.pk])
        if self.action == "credit":
            if not user.has_perm("sellers.work_desk_tier2"):
                raise DomainError("Tier 2 proposes credit notes.", code="forbidden")
            form = CreditProposalForm(post)
            if not form.is_valid():
                raise DomainError("; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
            data = form.cleaned_data
            proposal = services.credit_propose(
                ticket=ticket,
                actor=user,
                invoice_number=data["invoice_number"],
                reason=data["reason"],
                line_ids=data["line_ids"],
            )
            return (
                f"Credit of {format_amount(proposal.amount, proposal.currency)} {proposal.currency} proposed; "
                "an approver issues it.",
                self.back(pk),
            )
        raise Http404


class CreditDecideView(ActionView):
    permission_required = ("sellers.approve_ticketcreditproposal",)

    def back(self, pk, **kwargs):
        return reverse("sellers:desk_ticket", args=[get_object_or_404(TicketCreditProposal, pk=pk).ticket_id])

    def act(self, request, pk):
        proposal = get_object_or_404(TicketCreditProposal, pk=pk)
        approve = request.POST.get("decision") == "approve"
        proposal = services.credit_decide(proposal=proposal, actor=request.user, approve=approve)
        text = f"Credit note {proposal.credit_note_number} issued." if approve else "Credit proposal rejected."
        return text, self.back(pk)


class AttachmentView(PermissionRequiredPageMixin, TemplateView):
    permission_required = DESK_PERMS

    def get(self, request, pk):
        attachment = get_object_or_404(
            TicketAttachment.objects.filter(ticket__in=selectors.staff_tickets(request.user)), pk=pk
        )
        return attachment_response(attachment)


def attachment_response(attachment: TicketAttachment) -> FileResponse:
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.original_name,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _report_period(request):
    today = timezone.localdate()
    try:
        days = max(1, min(int(request.GET.get("days", 30)), 366))
    except ValueError:
        days = 30
    return today - timedelta(days=days - 1), today, days


class ReportView(PermissionRequiredPageMixin, TemplateView):
    permission_required = DESK_PERMS
    template_name = "desk/report.html"

    def get_context_data(self, **kwargs):
        start, end, days = _report_period(self.request)
        market = (self.request.GET.get("market") or "").upper() or None
        report = selectors.report(start=start, end=end, market=market)
        peak = max((row["n"] for row in report["by_category"]), default=0) or 1
        for row in report["by_category"]:
            row["share"] = round(100 * row["n"] / peak)
        return {**super().get_context_data(**kwargs), "report": report, "days": days}


class ReportExportView(PermissionRequiredPageMixin, TemplateView):
    permission_required = DESK_PERMS

    def get(self, request):
        start, end, _days = _report_period(request)
        market = (request.GET.get("market") or "").upper() or None
        report = selectors.report(start=start, end=end, market=market)
        figures = [
            ("Tickets", report["totals"]["total"]),
            ("First-response SLA attainment %", report["first_response_attainment"]),
            ("Resolution SLA attainment %", report["resolution_attainment"]),
            ("First-contact resolution %", report["first_contact_resolution"]),
            ("Reopen rate %", report["reopen_rate"]),
            ("CSAT (4-5 of 5) %", report["csat_share"]),
            ("Tickets with a credit note %", report["credit_share"]),
            ("Charge explanations", report["explanations"]),
            ("Explanations without a ticket %", report["self_service_rate"]),
        ]
        return workbook_response(
            filename=f"desk_report_{start}_{end}.xlsx",
            sheets=[
                Sheet(
                    "Figures",
                    [Column("Figure", width=40), Column("Value", "number", 14)],
                    figures,
                    header_lines=[f"Desk report {start} to {end}" + (f", market {market}" if market else "")],
                ),
                Sheet(
                    "Volume",
                    [Column("Market", width=8), Column("Category", width=32), Column("Tickets", "int", 10)],
                    [(row["market_id"], row["label"], row["n"]) for row in report["by_category"]],
                ),
                Sheet(
                    "Reasons",
                    [Column("Resolution reason", width=36), Column("Tickets", "int", 10)],
                    [(row["label"], row["n"]) for row in report["reasons"]],
                ),
            ],
        )
