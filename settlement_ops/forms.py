from django import forms
from django.contrib.auth.forms import AuthenticationForm

from .errors import DomainError
from .roles import Role, has_role


def add_domain_error(form: forms.Form, error: DomainError, *, fields=None) -> None:
    """Show a use case's refusal on the form it came from: on the first of `fields` the form has
    (default: the field the error names), otherwise above the form. The message is the error's own."""
    candidates = (error.field,) if fields is None else fields
    field = next((name for name in candidates if name in form.fields), None)
    form.add_error(field, error.message)


class SignInForm(AuthenticationForm):
    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        # Integration accounts authenticate with API tokens only.
        if has_role(user, Role.INTEGRATION) and not user.is_superuser:
            raise forms.ValidationError("This account can only use the API with a token.", code="api_only")


class FxImportForm(forms.Form):
    file = forms.FileField(help_text="CSV with header date,currency,rate (value of 1 unit in EUR)")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > 2 * 1024 * 1024:
            raise forms.ValidationError("The file is larger than 2 MB.")
        if not upload.name.lower().endswith(".csv"):
            raise forms.ValidationError("Upload a .csv file.")
        try:
            return upload.read().decode("utf-8")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text.") from None


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="The integration it is for, e.g. 'ERP shipment push'.")
    user = forms.ModelChoiceField(
        queryset=None, help_text="The account the token acts as (its audit trail shows this user)."
    )
    scope = forms.ModelChoiceField(queryset=None, help_text="The role whose permissions the token is limited to.")
    expires_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = (
            get_user_model().objects.filter(is_active=True, is_superuser=False).order_by("username")
        )
        self.fields["scope"].queryset = Group.objects.order_by("name")
