"""One way for pages to show a refused use case on its form: settlement_ops.forms.add_domain_error."""

from django import forms
from django.urls import reverse

from settlement_ops.errors import DomainError
from settlement_ops.forms import add_domain_error
from settlement_ops.roles import Role


class _Form(forms.Form):
    pay_date = forms.DateField(required=False)
    col_weight = forms.CharField(required=False)


def _errors(error, **kwargs):
    form = _Form(data={})
    form.is_valid()
    add_domain_error(form, error, **kwargs)
    return dict(form.errors)


def test_a_domain_error_lands_on_the_field_it_names_or_above_the_form():
    assert _errors(DomainError("Pay on a working day.", field="pay_date")) == {"pay_date": ["Pay on a working day."]}
    assert _errors(DomainError("Nothing can be paid.")) == {"__all__": ["Nothing can be paid."]}
    assert _errors(DomainError("Unknown market.", field="market")) == {"__all__": ["Unknown market."]}


def test_the_first_field_of_a_given_list_that_the_form_has_wins():
    error = DomainError("Pick the weight column.", field="weight")
    assert _errors(error, fields=("col_weight", "weight")) == {"col_weight": ["Pick the weight column."]}
    assert _errors(error, fields=()) == {"__all__": ["Pick the weight column."]}


def test_payment_run_page_shows_the_services_refusal_as_a_form_message(client_as, db):
    # given: nothing is payable in GB
    client = client_as(Role.FINANCE_SPECIALIST)
    # when
    response = client.post(
        reverse("payables:run_prepare"), {"market": "GB", "pay_date": "2026-05-01", "bank_change_days": "14"}
    )
    # then
    assert response.status_code == 400
    assert "Nothing can be paid in GB GBP on 2026-05-01" in response.content.decode()
