"""The signed appointment form's upload check (R-SID-2), by content only.

What the file is comes from its first bytes (PDF, PNG or JPEG) and from
actually opening it: pypdf must read at least one page of a PDF, Pillow must
decode an image whose size stays under a decompression-bomb limit. The
uploaded file name and the declared content type are never trusted (the
stored file gets a name of ours, ``models.form_path``).
"""

from __future__ import annotations

import io
import logging
import os
import unicodedata
import warnings
from dataclasses import dataclass

from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from PIL import Image
from pypdf import PdfReader

from otpportal.errors import ServiceError

logger = logging.getLogger(__name__)

MAX_BYTES = 5 * 1024 * 1024
# A scanned A4 page at 600 dpi is about 35 megapixels; anything larger is
# refused before it is decoded (a small file can claim a huge canvas).
MAX_PIXELS = 40_000_000
MAX_PDF_PAGES = 50

MSG_TOO_LARGE = gettext_noop("The signed form is larger than 5 MB.")
MSG_EMPTY = gettext_noop("The signed form is empty.")
MSG_TYPE = gettext_noop("The signed form must be a PDF, JPEG or PNG file.")
MSG_BROKEN = gettext_noop("The signed form cannot be opened; upload the PDF or the photo again.")
MSG_MISSING = gettext_noop("Upload the signed appointment form.")

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
)
_PIL_FORMATS = {"png": "PNG", "jpg": "JPEG"}


@dataclass(frozen=True)
class CheckedForm:
    kind: str  # "pdf", "png" or "jpg": what the content proved to be
    data: bytes
    original_name: str  # for staff to read only; never used as a path


def _refuse(message: str) -> ServiceError:
    """``message`` is already translated (Review 8.19)."""
    return ServiceError("invalid_file", message, details={"form": [message]})


def display_name(raw: str | None) -> str:
    """The customer's file name reduced to something safe to show: its last
    path part, printable characters only, at most 120 characters."""
    base = os.path.basename((raw or "").replace("\\", "/"))
    clean = "".join(c for c in base if unicodedata.category(c)[0] not in ("C", "Z") or c == " ")
    return clean.strip()[:120]


def read_upload(upload: UploadedFile | None) -> bytes:
    """The upload's bytes, refusing more than ``MAX_BYTES`` without reading
    further than one byte past the limit."""
    if upload is None:
        raise _refuse(_(MSG_MISSING))
    if upload.size is not None and upload.size > MAX_BYTES:
        raise _refuse(_(MSG_TOO_LARGE))
    upload.seek(0)
    data = upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise _refuse(_(MSG_TOO_LARGE))
    if not data:
        raise _refuse(_(MSG_EMPTY))
    return bytes(data)


def sniff(data: bytes) -> str | None:
    """The type the first bytes announce, or None."""
    return next((kind for magic, kind in _SIGNATURES if data.startswith(magic)), None)


def _pdf_opens(data: bytes) -> bool:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            return False  # staff could not read it
        pages = len(reader.pages)
        return 1 <= pages <= MAX_PDF_PAGES
    except Exception:  # noqa: BLE001 - any parser failure means "does not open"
        logger.info("signed form: a PDF that does not open", exc_info=True)
        return False


def _image_opens(data: bytes, kind: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format != _PIL_FORMATS[kind]:
                    return False
                width, height = image.size
                if width < 1 or height < 1 or width * height > MAX_PIXELS:
                    return False
                image.verify()  # structure and checksums, without decoding
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # every pixel: a truncated file fails here
        return True
    except Exception:  # noqa: BLE001 - Pillow raises many types for bad input
        logger.info("signed form: an image that does not open", exc_info=True)
        return False


def check_form(upload: UploadedFile | None) -> CheckedForm:
    """Refuse (``invalid_file``) anything but a PDF, JPEG or PNG of at most
    5 MB that really opens; return its bytes and the type it proved to be."""
    data = read_upload(upload)
    kind = sniff(data)
    if kind is None:
        raise _refuse(_(MSG_TYPE))
    opens = _pdf_opens(data) if kind == "pdf" else _image_opens(data, kind)
    if not opens:
        raise _refuse(_(MSG_BROKEN))
    return CheckedForm(kind=kind, data=data, original_name=display_name(upload.name if upload else ""))
