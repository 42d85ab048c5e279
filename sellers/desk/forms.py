from django import forms
from django.utils.translation import gettext_lazy as _

from ..models import ResolutionReason, Ticket, TicketCategory, TicketPriority


def _translated(choices):
    # Model labels stay English; the seller reads them in its language (sellers.portal lists them).
    return [(value, _(label)) for value, label in choices]


class TicketOpenForm(forms.Form):
    category = forms.ChoiceField(label=_("What is it about?"), choices=_translated(TicketCategory.choices))
    reference_kind = forms.ChoiceField(
        label=_("Reference"), choices=_translated(Ticket.ReferenceKind.choices), required=False
    )
    reference = forms.CharField(label=_("Reference number"), max_length=64, required=False)
    subject = forms.CharField(label=_("Subject"), max_length=200)
    body = forms.CharField(label=_("Your question"), widget=forms.Textarea(attrs={"rows": 6}), max_length=20000)


class StaffTicketOpenForm(TicketOpenForm):
    """An agent records a question that arrived by phone or e-mail, on the seller's behalf."""

    seller = forms.CharField(label="Seller code", max_length=30)
    priority = forms.ChoiceField(choices=TicketPriority.choices, initial=TicketPriority.NORMAL)


class MessageForm(forms.Form):
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 4}), max_length=20000)


class AgentReplyForm(forms.Form):
    body = forms.CharField(label="Reply to the seller", widget=forms.Textarea(attrs={"rows": 6}), max_length=20000)
    wait_on_seller = forms.BooleanField(label="Wait for the seller (pauses the SLA clock)", required=False)


class ResolveForm(forms.Form):
    reason = forms.ChoiceField(label="Resolution reason", choices=[("", "—")] + ResolutionReason.choices)
    note = forms.CharField(label="Note", required=False, max_length=2000)


class RateForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("How did we do?"), coerce=int, choices=[(i, str(i)) for i in range(5, 0, -1)]
    )
    comment = forms.CharField(label=_("Comment"), required=False, max_length=2000)


class CreditProposalForm(forms.Form):
    invoice_number = forms.CharField(label="Invoice number", max_length=40)
    line_ids = forms.CharField(
        label="Invoice line ids (comma-separated; empty = every line)", required=False, max_length=2000
    )
    reason = forms.CharField(label="Why the seller is credited", max_length=255)

    def clean_line_ids(self):
        raw = self.cleaned_data["line_ids"].replace(" ", "")
        try:
            return [int(part) for part in raw.split(",") if part]
        except ValueError:
            raise forms.ValidationError("Give line ids as numbers separated by commas.") from None


class ExplainForm(forms.Form):
    tracking_number = forms.CharField(label=_("Tracking number"), max_length=64)
