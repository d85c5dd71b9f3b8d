"""Uploaded documents, checked by content only: a signed sender-ID form (R-SID-2,
``senderids.uploads``) and a top-up's transfer proof (``billing.services``). Issue 14.

What a file is comes from its first bytes (PDF, PNG or JPEG) and from actually opening
it: pypdf must read at least one page of a PDF, Pillow must decode an image whose size
stays under a decompression-bomb limit. The uploaded file name and the declared content
type are never trusted; callers store the file under a name of their own.

``check`` raises ``Refused`` with a reason; each caller words it for its own field and
answers with its stable error code (``invalid_file``).
"""

from __future__ import annotations

import io
import logging
import os
import unicodedata
import warnings
from dataclasses import dataclass

from django.core.files.uploadedfile import UploadedFile

logger = logging.getLogger(__name__)

MAX_BYTES = 5 * 1024 * 1024
# A scanned A4 page at 600 dpi is about 35 megapixels; anything larger is
# refused before it is decoded (a small file can claim a huge canvas).
MAX_PIXELS = 40_000_000
MAX_PDF_PAGES = 50

# Why an upload is refused: Refused.reason.
MISSING, TOO_LARGE, EMPTY, NOT_A_DOCUMENT, BROKEN = "missing", "too_large", "empty", "type", "broken"

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
)
_PIL_FORMATS = {"png": "PNG", "jpg": "JPEG"}


class Refused(Exception):  # noqa: N818 - read as "uploads.Refused"
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Checked:
    kind: str  # "pdf", "png" or "jpg": what the content proved to be
    data: bytes
    original_name: str  # for people to read only; never used as a path


def display_name(raw: str | None) -> str:
    """The customer's file name reduced to something safe to show: its last
    path part, printable characters only, at most 120 characters."""
    base = os.path.basename((raw or "").replace("\\", "/"))
    clean = "".join(c for c in base if unicodedata.category(c)[0] not in ("C", "Z") or c == " ")
    return clean.strip()[:120]


def read_limited(upload: UploadedFile | None) -> bytes:
    """The upload's bytes, refusing more than ``MAX_BYTES`` without reading
    further than one byte past the limit."""
    if upload is None:
        raise Refused(MISSING)
    if upload.size is not None and upload.size > MAX_BYTES:
        raise Refused(TOO_LARGE)
    upload.seek(0)
    data = upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise Refused(TOO_LARGE)
    if not data:
        raise Refused(EMPTY)
    return bytes(data)


def sniff(data: bytes) -> str | None:
    """The type the first bytes announce, or None."""
    return next((kind for magic, kind in _SIGNATURES if data.startswith(magic)), None)


# pypdf and Pillow are imported where a file is judged: a web worker that never receives an
# upload need not carry them (issue 11: a gunicorn worker within 150 MB).


def pdf_opens(data: bytes) -> bool:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            return False  # staff could not read it
        pages = len(reader.pages)
        return 1 <= pages <= MAX_PDF_PAGES
    except Exception:  # noqa: BLE001 - any parser failure means "does not open"
        logger.info("upload: a PDF that does not open", exc_info=True)
        return False


def image_opens(data: bytes, kind: str) -> bool:
    from PIL import Image

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
        logger.info("upload: an image that does not open", exc_info=True)
        return False


def check(upload: UploadedFile | None) -> Checked:
    """A PDF, JPEG or PNG of at most 5 MB that really opens, or ``Refused``."""
    data = read_limited(upload)
    kind = sniff(data)
    if kind is None:
        raise Refused(NOT_A_DOCUMENT)
    if not (pdf_opens(data) if kind == "pdf" else image_opens(data, kind)):
        raise Refused(BROKEN)
    return Checked(kind=kind, data=data, original_name=display_name(upload.name if upload else ""))
