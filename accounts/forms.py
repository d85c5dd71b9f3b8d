"""Input forms of the team and security pages. They parse input only; the
use cases (``accounts.services``) decide, and their refusals are shown as
form errors."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import ActivityEvent, Membership, User
from otpportal.errors import ServiceError


def service_error_text(error: ServiceError) -> str:
    """The refusal's message, translated when it is one of the fixed ones."""
    return gettext(error.message)


def add_service_error(form: forms.BaseForm, error: ServiceError, field_map: dict[str, str] | None = None) -> None:
    """Show a service refusal on the form: on the field it names (``details``)
    when the form has that field, else above the form."""
    field_map = field_map or {}
    for name in error.details:
        field = field_map.get(name, name)
        if field in form.fields:
            form.add_error(field, service_error_text(error))
            return
    form.add_error(None, service_error_text(error))


ROLE_HELP = _(
    "Owner: everything, including the team. Developer: API keys, webhooks, the sandbox and the messages. "
    "Billing: balance, top-ups, statements and invoices."
)


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Email address"), max_length=254)
    role = forms.ChoiceField(
        label=_("Role"),
        choices=Membership.Role.choices,
        initial=Membership.Role.DEVELOPER,
        widget=forms.RadioSelect,
        help_text=ROLE_HELP,
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices)


class TeamTwoFactorForm(forms.Form):
    required = forms.BooleanField(label=_("Require two-factor sign-in for every member"), required=False)


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "autofocus": True}),
        help_text=_("The 6-digit code from your authenticator app, or one of your recovery codes."),
    )


class EnrolForm(forms.Form):
    device = forms.IntegerField(widget=forms.HiddenInput)
    code = forms.CharField(
        label=_("Code from the app"),
        max_length=10,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )


class AcceptInvitationForm(forms.Form):
    """A new account for an invited address: a name and a password checked by
    the password validators."""

    full_name = forms.CharField(label=_("Your name"), max_length=150, required=False)
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password again"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        one, two = data.get("password1"), data.get("password2")
        if one and two and one != two:
            self.add_error("password2", _("The two passwords differ."))
        elif one:
            try:
                password_validation.validate_password(one, User(email=self.email, full_name=data.get("full_name", "")))
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return data


class ActivityFilterForm(forms.Form):
    action = forms.ChoiceField(
        label=_("Action"), required=False, choices=[("", _("All actions")), *ActivityEvent.Action.choices]
    )
