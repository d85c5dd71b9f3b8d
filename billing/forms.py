"""Input forms of the billing pages. They parse input only; the use cases
(``billing.services``) decide, and their refusals are shown as form errors."""

from __future__ import annotations

import os

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

# The dashboards' way of showing a refusal on a form lives in accounts (the
# bottom of the import order); imported from here by the billing, sender-ID
# and messaging pages.
from accounts.forms import add_service_error, service_error_text  # noqa: F401

# Fixed refusal messages of billing.services, marked here so that
# makemessages extracts them and users read them in their language.
SERVICE_MESSAGES = [
    gettext_noop("amount must be a whole number of rupiah."),
    gettext_noop("amount must be positive."),
    gettext_noop("amount is implausibly large."),
    gettext_noop("threshold must be a whole number of rupiah."),
    gettext_noop("threshold must be positive."),
    gettext_noop("threshold is implausibly large."),
    gettext_noop("Only prepaid customers top up a deposit."),
    gettext_noop("The proof must be a PDF, PNG or JPEG file."),
    gettext_noop("The proof is larger than 5 MB."),
    gettext_noop("Say why the request is rejected."),
    gettext_noop("The reference is longer than 100 characters."),
    gettext_noop("A price list in force is read-only (R-PL-1)."),
    gettext_noop("The CSV has no rows."),
    gettext_noop("effective_from must be a date like 2026-01-01."),
]


class ThresholdForm(forms.Form):
    threshold = forms.IntegerField(
        label=_("Low-balance alert threshold (Rp)"),
        min_value=0,
        help_text=_(
            "We email the owner and billing contacts when the balance falls below this amount. 0 turns it off."
        ),
    )


# What the first bytes of a proof must be for its file name's extension. The
# use case decides which types are allowed; this only catches a file whose
# content is not what its name says (e.g. a program renamed to .png).
_PROOF_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    ".pdf": (b"%PDF-",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
}


class TopUpRequestForm(forms.Form):
    amount = forms.IntegerField(
        label=_("Amount transferred (Rp)"),
        min_value=1,
        help_text=_("Whole rupiah. The amount of this top-up sets its tier."),  # R-PRE-1, R-PL-2
    )
    transfer_reference = forms.CharField(
        label=_("Transfer reference"),
        max_length=100,
        required=False,
        help_text=_("The reference or note of your bank transfer, if any."),
    )
    proof = forms.FileField(
        label=_("Transfer proof"),
        help_text=_("PDF, PNG or JPEG, at most 5 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg"}),
    )

    def clean_proof(self) -> UploadedFile:
        proof: UploadedFile = self.cleaned_data["proof"]
        signatures = _PROOF_SIGNATURES.get(os.path.splitext(proof.name or "")[1].lower())
        if signatures:
            head = proof.read(16)
            proof.seek(0)
            if not head.startswith(signatures):
                raise forms.ValidationError(_("The file's content does not match its type (PDF, PNG or JPEG)."))
        return proof
