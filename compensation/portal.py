"""Seller portal: the seller's own chargebacks (another seller's is a 404 like a missing one) and
the dispute form. Every queryset comes from selectors.chargebacks_for, as in the API."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import DetailView, ListView

from sellers.permissions import SellerPortalMixin
from settlement_ops.errors import DomainError

from . import selectors, services
from .forms import ReasonForm
from .models import Chargeback, Dispute, Reason

# Choice labels the portal shows in the reader's language ({% translate obj.get_status_display %});
# the catalogue extractor (settlement_ops.catalogues) puts them into the .po files.
TRANSLATED_CHOICES = [Chargeback.Status, Dispute.Status, Reason]


class PortalChargebackListView(SellerPortalMixin, ListView):
    template_name = "compensation/portal/chargeback_list.html"
    paginate_by = 50

    def get_queryset(self):
        return selectors.chargebacks_for(self.request.user).order_by("-created_at", "-id")

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "seller": self.seller}


class PortalChargebackDetailView(SellerPortalMixin, DetailView):
    template_name = "compensation/portal/chargeback_detail.html"
    context_object_name = "chargeback"

    def get_queryset(self):
        return selectors.chargebacks_for(self.request.user)

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "seller": self.seller,
            "disputes": self.object.disputes.all(),
            "form": ReasonForm(),
        }


class PortalChargebackDisputeView(SellerPortalMixin, View):
    def post(self, request, pk):
        chargeback = get_object_or_404(selectors.chargebacks_for(request.user), pk=pk)
        form = ReasonForm(request.POST)
        try:
            if not form.is_valid():
                raise DomainError(_("Tell us why the charge is wrong."))
            services.dispute_open(
                actor=request.user, chargeback=chargeback, reason=form.cleaned_data["reason"], via="portal"
            )
            messages.success(request, _("Your dispute was sent; we will answer it."))
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("portal:chargeback_detail", pk)
