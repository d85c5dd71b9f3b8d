"""The signed appointment form's upload check (R-SID-2), by content only.

What the file is comes from its first bytes (PDF, PNG or JPEG) and from
actually opening it: pypdf must read at least one page of a PDF, Pillow must
decode an image whose size stays under a decompression-bomb limit. The
uploaded file name and the declared content type are never trusted (the
stored file gets a name of ours, ``models.form_path``). The checks themselves
are ``otpportal.uploads`` (shared with the top-up's transfer proof); this
module words their refusals for the form.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from otpportal import uploads
from otpportal.errors import ServiceError
from otpportal.uploads import MAX_BYTES, MAX_PDF_PAGES, MAX_PIXELS, display_name, sniff  # noqa: F401 - this module's API

MSG_TOO_LARGE = gettext_noop("The signed form is larger than 5 MB.")
MSG_EMPTY = gettext_noop("The signed form is empty.")
MSG_TYPE = gettext_noop("The signed form must be a PDF, JPEG or PNG file.")
MSG_BROKEN = gettext_noop("The signed form cannot be opened; upload the PDF or the photo again.")
MSG_MISSING = gettext_noop("Upload the signed appointment form.")
_MESSAGES = {
    uploads.MISSING: MSG_MISSING,
    uploads.TOO_LARGE: MSG_TOO_LARGE,
    uploads.EMPTY: MSG_EMPTY,
    uploads.NOT_A_DOCUMENT: MSG_TYPE,
    uploads.BROKEN: MSG_BROKEN,
}


@dataclass(frozen=True)
class CheckedForm:
    kind: str  # "pdf", "png" or "jpg": what the content proved to be
    data: bytes
    original_name: str  # for staff to read only; never used as a path


def _refuse(message: str) -> ServiceError:
    """``message`` is already translated (Review 8.19)."""
    return ServiceError("invalid_file", message, details={"form": [message]})


def read_upload(upload: UploadedFile | None) -> bytes:
    """The upload's bytes, refusing more than ``MAX_BYTES`` without reading
    further than one byte past the limit."""
    try:
        return uploads.read_limited(upload)
    except uploads.Refused as refusal:
        raise _refuse(_(_MESSAGES[refusal.reason])) from None


def check_form(upload: UploadedFile | None) -> CheckedForm:
    """Refuse (``invalid_file``) anything but a PDF, JPEG or PNG of at most
    5 MB that really opens; return its bytes and the type it proved to be."""
    try:
        checked = uploads.check(upload)
    except uploads.Refused as refusal:
        raise _refuse(_(_MESSAGES[refusal.reason])) from None
    return CheckedForm(kind=checked.kind, data=checked.data, original_name=checked.original_name)
