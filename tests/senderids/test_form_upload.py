"""The signed appointment form's upload (R-SID-2): a PDF, JPEG or PNG of at
most 5 MB, judged by its content (magic bytes, and it must really open),
never by its file name or declared type; stored under a name of ours in a
private folder. A refusal writes nothing and leaves no file."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfWriter

from otpportal.errors import ServiceError
from senderids.models import SenderId
from senderids.uploads import MAX_BYTES, display_name
from tests.conftest import Cast
from tests.senderids.helpers import apply, image_bytes, pdf_bytes, stored_files, upload

pytestmark = pytest.mark.django_db


def refused_upload(cast: Cast, media_root: Path, data: bytes, name: str, content_type: str) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        apply(cast, form=upload(data, name=name, content_type=content_type))
    assert caught.value.code == "invalid_file", caught.value.as_dict()
    assert caught.value.status == 400 and "form" in caught.value.details
    assert not SenderId.objects.exists()
    assert stored_files(media_root) == []
    return caught.value


def png_claiming(width: int, height: int) -> bytes:
    """A tiny, valid-looking PNG whose header claims a huge canvas (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("data", "name", "content_type", "kind"),
    [
        (pdf_bytes(2), "Form Penunjukan.pdf", "application/pdf", "pdf"),
        (image_bytes("PNG"), "scan.png", "image/png", "png"),
        (image_bytes("JPEG"), "foto.jpg", "image/jpeg", "jpg"),
        # The name and the declared type lie; the content decides.
        (image_bytes("JPEG"), "form.pdf", "application/pdf", "jpg"),
        (pdf_bytes(), "photo.png", "image/png", "pdf"),
        (pdf_bytes(), "no-extension", "application/octet-stream", "pdf"),
    ],
)
def test_a_pdf_jpeg_or_png_is_stored_under_a_name_of_ours_by_its_content(
    eligible: Cast, media_root: Path, data: bytes, name: str, content_type: str, kind: str
) -> None:
    application = apply(eligible, form=upload(data, name=name, content_type=content_type)).sender_id
    assert application.form_kind == kind
    stored = Path(application.form.path)
    assert stored.read_bytes() == data
    assert stored.suffix == f".{kind}" and len(stored.stem) == 32  # a uuid4 hex, not the customer's name
    assert stored.relative_to(media_root).parts[:3] == ("private", "sender-id-forms", str(eligible.acme.pk))
    assert application.form_original_name == name


def test_a_file_name_with_a_path_never_reaches_the_disk(eligible: Cast, media_root: Path) -> None:
    application = apply(eligible, form=upload(pdf_bytes(), name="../../../etc/cron.d/evil.pdf")).sender_id
    assert Path(application.form.path).resolve().is_relative_to(media_root.resolve())
    assert application.form_original_name == "evil.pdf"
    assert [p.relative_to(media_root).parts[:2] for p in stored_files(media_root)] == [("private", "sender-id-forms")]
    assert display_name("C:\\Users\\a\\form\x00\r\n.pdf") == "form.pdf"


def test_an_executable_renamed_pdf_is_refused(eligible: Cast, media_root: Path) -> None:
    program = (
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"
        + b"\x00" * 200
        + b"This program cannot be run in DOS mode"
    )
    error = refused_upload(eligible, media_root, program, "form-penunjukan.pdf", "application/pdf")
    assert error.message == "The signed form must be a PDF, JPEG or PNG file."


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"%PDF-1.7\n" + b"garbage " * 500, "a PDF header on garbage"),
        (pdf_bytes()[:200], "a truncated PDF"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "a PNG signature on garbage"),
        (image_bytes("PNG")[:-20], "a truncated PNG"),
        (image_bytes("JPEG")[: len(image_bytes("JPEG")) // 2], "a truncated JPEG"),
        (b"\xff\xd8\xff" + image_bytes("PNG"), "a JPEG signature on a PNG"),
    ],
)
def test_a_file_that_does_not_open_is_refused(eligible: Cast, media_root: Path, data: bytes, why: str) -> None:
    error = refused_upload(eligible, media_root, data, "form.pdf", "application/pdf")
    assert error.message == "The signed form cannot be opened; upload the PDF or the photo again.", why


def test_an_encrypted_pdf_is_refused(eligible: Cast, media_root: Path) -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    refused_upload(eligible, media_root, out.getvalue(), "form.pdf", "application/pdf")


def test_a_decompression_bomb_is_refused_before_it_is_decoded(eligible: Cast, media_root: Path) -> None:
    refused_upload(eligible, media_root, png_claiming(50_000, 50_000), "form.png", "image/png")
    refused_upload(eligible, media_root, png_claiming(8_000, 6_000), "form.png", "image/png")  # 48 MP > 40 MP


def test_a_large_but_sane_scan_is_accepted(eligible: Cast) -> None:
    out = io.BytesIO()
    Image.new("L", (2480, 3508), 255).save(out, format="PNG")  # A4 at 300 dpi
    assert apply(eligible, form=upload(out.getvalue(), name="scan.png", content_type="image/png")).sender_id


def test_more_than_5_mb_is_refused(eligible: Cast, media_root: Path) -> None:
    big = pdf_bytes() + b"%" + b"x" * (MAX_BYTES)
    error = refused_upload(eligible, media_root, big, "form.pdf", "application/pdf")
    assert error.message == "The signed form is larger than 5 MB."


def test_exactly_5_mb_is_accepted(eligible: Cast) -> None:
    data = pdf_bytes()
    data += b"\n%" + b"x" * (MAX_BYTES - len(data) - 2)  # a PDF comment pads it; readers ignore what follows %%EOF
    assert len(data) == MAX_BYTES
    assert apply(eligible, form=upload(data)).sender_id.form_kind == "pdf"


@pytest.mark.parametrize("data", [b"", None])
def test_an_empty_or_missing_upload_is_refused(eligible: Cast, media_root: Path, data: bytes | None) -> None:
    form = None if data is None else upload(data)
    with pytest.raises(ServiceError) as caught:
        apply(eligible, form=form)
    assert caught.value.code == "invalid_file"
    assert stored_files(media_root) == [] and not SenderId.objects.exists()
