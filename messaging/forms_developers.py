"""Input forms of the developer pages that are theirs alone (the others are
shared with the API's input checks in ``messaging.forms``)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class TryCheckForm(forms.Form):
    """ "Try it": the code read in the sandbox inbox, for the verification just sent."""

    verification = forms.CharField(widget=forms.HiddenInput, max_length=40)
    code = forms.CharField(
        label=_("Code"),
        max_length=10,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text=_("Type the code shown in the inbox, or a wrong one to see a refusal."),
    )
