"""Input forms of the sender-ID pages. They parse input only; the use cases
(``senderids.services``) decide, and their refusals are shown as form
errors (``billing.forms.add_service_error``)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from billing.models import Operator
from senderids import policy

# Fixed refusal messages of senderids.services, marked here so that
# makemessages extracts them and users read them in their language.
SERVICE_MESSAGES = [
    gettext_noop("The sender name must be 3 to 11 characters."),
    gettext_noop("The sender name may contain only letters, digits and single spaces."),
    gettext_noop("The sender name must contain at least one letter."),
    gettext_noop("This name is the platform's own sender."),
    gettext_noop("Unknown operator; choose from telkomsel, xl, indosat, three and smartfren."),
    gettext_noop("Choose at least one operator."),
    gettext_noop("A custom sender ID needs a first deposit of at least Rp 2.000.000 in one top-up."),
    gettext_noop("A custom sender ID needs your guarantee deposit to be held."),
    gettext_noop("This sender name is already registered by another customer."),
    gettext_noop("You have already applied for this sender name with these operators."),
    gettext_noop("This application has a fee; confirm it to apply."),
    gettext_noop("Name the brand, business or product this sender name stands for (at most 100 characters)."),
    gettext_noop("Your account is suspended; sender IDs cannot be applied for or reactivated."),
    gettext_noop("Only a suspended registration can be reactivated."),
    gettext_noop("No such sender ID."),
    gettext_noop("Your balance cannot cover the reactivation fee; top up first."),
    gettext_noop("A suspended Telkomsel route cannot be reactivated; apply again for a new registration."),
    gettext_noop("The signed form is larger than 5 MB."),
    gettext_noop("The signed form is empty."),
    gettext_noop("The signed form must be a PDF, JPEG or PNG file."),
    gettext_noop("The signed form cannot be opened; upload the PDF or the photo again."),
    gettext_noop("Upload the signed appointment form."),
    # History notes written by the platform itself (shown translated on the pages).
    gettext_noop("Application submitted."),
    gettext_noop("Fewer than 100 SMS in the quarter; it can be reactivated for a fee."),
    gettext_noop("Fewer than 100 SMS on this route in the quarter; it needs a new registration."),
]

OPERATOR_CHOICES = [(op, Operator(op).label) for op in policy.OPERATORS]
# A checkbox sits before its label (static/css/app.css: a class, not a style attribute, so
# the content security policy needs no inline styles; issue 14).
CHECKBOX = {"class": "check-before-label"}


class ApplyForm(forms.Form):
    """Step 1: what the appointment form names."""

    name = forms.CharField(
        label=_("Sender name"),
        max_length=40,
        help_text=_(
            "3 to 11 letters, digits or spaces, not only digits, e.g. TOKOKU. Recipients see it as the sender."
        ),
    )
    brand = forms.CharField(
        label=_("Brand, business or product"),
        max_length=100,
        help_text=_("The sender name must be your own brand, business or product name; our staff check it."),
    )
    operators = forms.MultipleChoiceField(
        label=_("Operators"),
        choices=OPERATOR_CHOICES,
        widget=forms.CheckboxSelectMultiple(attrs=CHECKBOX),
        help_text=_("Each operator registers the name separately and has its own status."),
    )


class ConfirmForm(ApplyForm):
    """Step 2: the same values (hidden), the signed form and the fees' confirmation."""

    form = forms.FileField(
        label=_("Signed appointment form"),
        required=False,  # the use case refuses a missing or bad file with its own message
        help_text=_("PDF, JPEG or PNG, at most 5 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"}),
    )
    accept_fees = forms.BooleanField(
        label=_("I accept the fees listed above."), required=False, widget=forms.CheckboxInput(attrs=CHECKBOX)
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for name in ("name", "brand"):
            self.fields[name].widget = forms.HiddenInput()
        self.fields["operators"].widget = forms.MultipleHiddenInput()


class ReactivateForm(forms.Form):
    accept_fees = forms.BooleanField(
        label=_("I accept the fee."), required=False, widget=forms.CheckboxInput(attrs=CHECKBOX)
    )


class MoveForm(forms.Form):
    """The admin's note on a move (shown to the customer)."""

    note = forms.CharField(
        label=_("Note"),
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Shown to the customer. Required to reject or suspend."),
    )
