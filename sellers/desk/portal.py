"""The seller's side of the desk: ask, follow, reply, confirm or reopen, rate; and "explain this
charge" before asking. Every queryset is the signed-in seller's own (selectors.tickets_for_seller_user):
another seller's ticket or file is a 404 like a missing one."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView, ListView, TemplateView

from settlement_ops.errors import DomainError
from settlement_ops.forms import add_domain_error

from ..models import TicketAttachment
from ..permissions import SellerPortalMixin
from . import selectors, services
from .attachments import MAX_PER_MESSAGE
from .forms import ExplainForm, MessageForm, RateForm, TicketOpenForm
from .views import attachment_response


class PortalTicketListView(SellerPortalMixin, ListView):
    template_name = "desk/portal/ticket_list.html"
    paginate_by = 25

    def get_queryset(self):
        return selectors.seller_ticket_list(self.request.user)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "seller": self.seller}


class PortalTicketNewView(SellerPortalMixin, FormView):
    template_name = "desk/portal/ticket_new.html"
    form_class = TicketOpenForm

    def get_initial(self):
        get = self.request.GET
        return {key: get[key] for key in ("category", "reference_kind", "reference", "subject") if key in get}

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "seller": self.seller, "max_files": MAX_PER_MESSAGE}

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            ticket = services.ticket_open(
                seller=self.seller,
                actor=self.request.user,
                category=data["category"],
                subject=data["subject"],
                body=data["body"],
                reference_kind=data["reference_kind"],
                reference=data["reference"],
                files=self.request.FILES.getlist("attachments"),
            )
        except DomainError as exc:
            exc.message = _(exc.message)  # the services' fixed messages are in the catalogues
            add_domain_error(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("Your question %(number)s is with our team.") % {"number": ticket.number})
        return redirect("portal:desk_ticket", ticket.pk)


class PortalTicketDetailView(SellerPortalMixin, TemplateView):
    template_name = "desk/portal/ticket_detail.html"

    def get_context_data(self, pk, **kwargs):
        ticket = get_object_or_404(selectors.tickets_for_seller_user(self.request.user), pk=pk)
        return {
            **super().get_context_data(**kwargs),
            "seller": self.seller,
            "ticket": ticket,
            "thread": selectors.thread(ticket, for_seller=True),
            "message_form": MessageForm(),
            "rate_form": RateForm(),
            "trace": selectors.charge_trace(self.seller, ticket.reference_kind, ticket.reference),
        }


class PortalTicketActionView(SellerPortalMixin, View):
    http_method_names = ["post"]
    action = ""

    def post(self, request, pk):
        ticket = get_object_or_404(selectors.tickets_for_seller_user(request.user), pk=pk)
        post, user = request.POST, request.user
        try:
            if self.action == "reply":
                services.seller_reply(
                    ticket=ticket, actor=user, body=post.get("body", ""), files=request.FILES.getlist("attachments")
                )
                text = _("Message sent.")
            elif self.action == "confirm":
                services.ticket_confirm(ticket=ticket, actor=user)
                text = _("Thank you: the question is closed.")
            elif self.action == "reopen":
                services.ticket_reopen(ticket=ticket, actor=user, body=post.get("body", ""))
                text = _("The question is open again and back with the person who answered it.")
            elif self.action == "rate":
                form = RateForm(post)
                if not form.is_valid():
                    raise DomainError(_("Give a rating from 1 to 5."), field="rating")
                services.ticket_rate(
                    ticket=ticket, actor=user, rating=form.cleaned_data["rating"], comment=form.cleaned_data["comment"]
                )
                text = _("Thank you for your rating.")
            else:
                raise Http404
        except DomainError as exc:
            messages.error(request, _(exc.message))
        else:
            messages.success(request, text)
        return redirect("portal:desk_ticket", ticket.pk)


class PortalExplainView(SellerPortalMixin, TemplateView):
    """Self-service before a ticket: the charge of one of the seller's shipments, line by line."""

    template_name = "desk/portal/explain.html"

    def get_context_data(self, **kwargs):
        form = ExplainForm(self.request.GET or None)
        trace = None
        searched = False
        if form.is_valid():
            searched = True
            tracking = form.cleaned_data["tracking_number"].strip()
            trace = selectors.charge_trace(self.seller, "tracking", tracking)
            services.explanation_record(
                seller=self.seller, kind="tracking", reference=tracking, found=trace is not None
            )
        ask_url = None
        if searched:
            ask_url = (
                reverse("portal:desk_new")
                + "?"
                + "&".join(
                    [
                        "category=charge",
                        "reference_kind=tracking",
                        f"reference={form.cleaned_data['tracking_number'].strip()}",
                    ]
                )
            )
        return {
            **super().get_context_data(**kwargs),
            "seller": self.seller,
            "form": form,
            "trace": trace,
            "searched": searched,
            "ask_url": ask_url,
        }


class PortalAttachmentView(SellerPortalMixin, View):
    def get(self, request, pk):
        attachment = get_object_or_404(
            TicketAttachment.objects.filter(
                ticket__in=selectors.tickets_for_seller_user(request.user),
                message__kind__in=["seller", "reply"],
            ),
            pk=pk,
        )
        return attachment_response(attachment)
