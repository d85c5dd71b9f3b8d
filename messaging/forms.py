"""Input forms of the messaging pages. They parse input only; the use cases
(``messaging.services``, ``accounts.services``) decide, and their refusals
are shown as form errors (``billing.forms.add_service_error``)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from accounts.models import ApiKey
from messaging import phones
from messaging.models import Channel, MessageTemplate, WebhookEndpoint
from otpportal.errors import ServiceError

# Fixed refusal messages of the services these pages call, marked here so
# that makemessages extracts them and users read them in their language.
SERVICE_MESSAGES = [
    # messaging.phones (R-OP-2)
    gettext_noop("A phone number is required."),
    gettext_noop("The phone number is too long (at most 32 characters)."),
    gettext_noop("The phone number may contain only digits, a leading '+', spaces, dashes, dots and parentheses."),
    gettext_noop("Enter the number as 08..., 628... or +628... (other countries with a leading '+')."),
    gettext_noop("This is not a valid phone number."),
    gettext_noop("This is not a mobile number; OTP messages can only be sent to mobile numbers."),
    gettext_noop("This number's prefix belongs to an unknown operator; it cannot be priced or sent."),
    # messaging.content (templates, R-CH-3)
    gettext_noop("Unbalanced braces in the template."),
    gettext_noop("The template must contain {code} exactly once."),
    gettext_noop("Templates may not contain links (R-CH-3)."),
    gettext_noop("The template is longer than 3 SMS."),
    gettext_noop("locale must be 'id' or 'en'."),
    # messaging.services.sending and messaging.guards (the sandbox's test send)
    gettext_noop("The account is suspended; sending is stopped until it is settled."),
    gettext_noop("The account is terminated; sending is stopped until it is settled."),
    gettext_noop("Too many verifications for this number; at most 5 an hour."),
    # messaging.services.events (webhooks)
    gettext_noop("url must be an http(s) URL."),
    gettext_noop("At most 10 webhook endpoints."),
    gettext_noop("No such webhook endpoint."),
    gettext_noop("No such webhook delivery."),
]


def _number_filter(value: str) -> str:
    """A number typed into a filter, in the E.164 form the rows store."""
    value = (value or "").strip()
    if not value:
        return ""
    try:
        return phones.normalize(value)
    except ServiceError as error:
        raise forms.ValidationError(gettext(error.message)) from None


class NumberFilterForm(forms.Form):
    to = forms.CharField(label=_("Number"), max_length=32, required=False)

    def clean_to(self) -> str:
        return _number_filter(self.cleaned_data.get("to", ""))


class SandboxSendForm(forms.Form):
    to = forms.CharField(
        label=_("Phone number"),
        max_length=32,
        help_text=_("For example 0812-3456-7890. Nothing reaches the phone: the text lands in this inbox."),
    )
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices, initial=Channel.SMS)
    locale = forms.ChoiceField(label=_("Language"), choices=MessageTemplate._meta.get_field("locale").choices)


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(
        label=_("URL"),
        max_length=500,
        help_text=_("An http(s) address of your server that accepts POST requests."),
        widget=forms.URLInput(attrs={"placeholder": "https://example.co.id/otp-webhooks"}),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=WebhookEndpoint.Event.choices,
        required=False,
        initial=list(WebhookEndpoint.Event.values),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked means all events."),
    )


class TemplateForm(forms.Form):
    body = forms.CharField(
        label=_("Text"),
        max_length=480,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Must contain {code} exactly once; {brand} and {minutes} are optional. No links."),
    )


class ApiKeyCreateForm(forms.Form):
    mode = forms.ChoiceField(
        label=_("Mode"),
        choices=ApiKey.Mode.choices,
        initial=ApiKey.Mode.TEST,
        widget=forms.RadioSelect,
        help_text=_("Test keys only reach the sandbox inbox and are never charged."),
    )
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        required=False,
        help_text=_("So you know where it is used, e.g. “web shop production”."),
    )


class QuoteForm(forms.Form):
    """The price calculator: a number and a text (empty: the standard verification text)."""

    to = forms.CharField(
        label=_("Phone number"),
        max_length=32,
        help_text=_("For example 0812-3456-7890: the number tells the operator."),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    text = forms.CharField(
        label=_("Text"),
        max_length=1600,
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Empty: your verification text with a 6-digit code."),
    )
