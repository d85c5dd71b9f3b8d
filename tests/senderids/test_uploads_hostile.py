"""Issue 14 (hostile input), uploads: the sender-ID form (API and dashboard) and the
top-up's transfer proof (dashboard and service), sent as a hostile client would, in a
hand-built multipart body (the test client would strip a path from the file name):

- a "PDF" that is really a program (an ELF or an MZ header, named ``.pdf``, sent as
  ``application/pdf``);
- more than 5 MB;
- a path in the file name (``../../etc/passwd.pdf``) on a program;
- a decompression-bomb PNG (a tiny file whose header claims 50,000 × 50,000 pixels).

Each is refused with the stable code ``invalid_file`` (400), writes no row and leaves no
file anywhere under the media folder. A real document under a path-like name is stored
under a name of ours inside the media folder. ``test_form_upload`` covers the sender-ID
check at the service's level in more cases.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from billing import services as billing
from billing.models import TopUpRequest
from otpportal.errors import ServiceError
from otpportal.uploads import MAX_BYTES
from senderids.models import SenderId
from tests.conftest import Cast, api_client
from tests.helpers import signed_in
from tests.senderids.helpers import pdf_bytes, stored_files
from tests.senderids.test_form_upload import png_claiming

pytestmark = pytest.mark.django_db

ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 400
MZ = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200 + b"This program cannot be run in DOS mode"

HOSTILE: dict[str, tuple[str, bytes, str]] = {
    "ELF named .pdf": ("form.pdf", ELF, "application/pdf"),
    "MZ named .pdf": ("form.pdf", MZ, "application/pdf"),
    "more than 5 MB": ("form.pdf", pdf_bytes() + b"%" + b"x" * MAX_BYTES, "application/pdf"),
    "a path in the name": ("../../etc/passwd.pdf", ELF, "application/pdf"),
    "a backslash path": ("..\\..\\windows\\system32\\evil.pdf", MZ, "application/pdf"),
    "a decompression bomb": ("scan.png", png_claiming(50_000, 50_000), "image/png"),
}


def multipart(
    fields: dict[str, str | list[str]], file_field: str, name: str, data: bytes, content_type: str
) -> tuple[bytes, str]:
    """A multipart/form-data body written by hand: the file name goes out exactly as given."""
    boundary = f"----hostile{secrets.token_hex(8)}"
    parts: list[bytes] = []
    for key, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{item}\r\n'.encode())
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{name}"\r\n'
    parts.append(f"{head}Content-Type: {content_type}\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _nothing_written(media_root: Path) -> None:
    assert stored_files(media_root) == []
    assert not SenderId.objects.exists() and not TopUpRequest.objects.exists()


@pytest.mark.parametrize("case", HOSTILE, ids=HOSTILE)
def test_issue_14_hostile_sender_id_forms_are_refused_by_the_api(eligible: Cast, media_root: Path, case: str) -> None:
    """Issue 14: POST /api/v1/sender-ids with a hostile form: 400 ``invalid_file``."""
    name, data, content_type = HOSTILE[case]
    fields = {"name": "TOKOKU", "brand": "Toko Kita", "operators": ["telkomsel", "xl"]}
    body, content = multipart(fields, "form", name, data, content_type)
    response = api_client(eligible.acme_live_key).generic("POST", "/api/v1/sender-ids", body, content_type=content)
    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]["code"] == "invalid_file" and "form" in response.json()["error"]["details"]
    _nothing_written(media_root)


@pytest.mark.parametrize("case", HOSTILE, ids=HOSTILE)
def test_issue_14_hostile_sender_id_forms_are_refused_by_the_dashboard(
    eligible: Cast, media_root: Path, case: str
) -> None:
    """Issue 14: the dashboard's application (step 2) with a hostile form: 400, the
    refusal on the form, nothing written."""
    name, data, content_type = HOSTILE[case]
    client = signed_in(eligible.owner.email)
    fields = {"name": "TOKOKU", "brand": "Toko Kita", "operators": ["telkomsel", "xl"], "confirm": "1"}
    body, content = multipart(fields, "form", name, data, content_type)
    response = client.generic("POST", "/sender-ids/apply/", body, content_type=content)
    assert response.status_code == 400, response.content[:300]
    assert response.context["form"].errors["form"]
    _nothing_written(media_root)


@pytest.fixture
def prepaid_owner(cast: Cast) -> Client:
    return signed_in(cast.owner.email)


@pytest.mark.parametrize("case", HOSTILE, ids=HOSTILE)
def test_issue_14_hostile_transfer_proofs_are_refused_by_the_dashboard(
    prepaid_owner: Client, media_root: Path, case: str
) -> None:
    """Issue 14: the top-up page with a hostile proof: 400, nothing written."""
    name, data, content_type = HOSTILE[case]
    body, content = multipart({"amount": "500000", "transfer_reference": "BCA 1"}, "proof", name, data, content_type)
    response = prepaid_owner.generic("POST", "/billing/topup/", body, content_type=content)
    assert response.status_code == 400, response.content[:300]
    assert response.context["form"].errors["proof"]
    _nothing_written(media_root)


@pytest.mark.parametrize("case", HOSTILE, ids=HOSTILE)
def test_issue_14_hostile_transfer_proofs_are_refused_by_the_service_with_invalid_file(
    cast: Cast, media_root: Path, case: str
) -> None:
    """Issue 14: ``topup_request_create`` judges the proof by its content (the dashboard's
    form only matches a name's extension to its first bytes): ``invalid_file``."""
    name, data, content_type = HOSTILE[case]
    with pytest.raises(ServiceError) as refused:
        billing.topup_request_create(
            customer=cast.acme,
            requested_by=cast.owner,
            amount=500_000,
            proof=SimpleUploadedFile(name, data, content_type=content_type),
        )
    assert refused.value.code == "invalid_file" and refused.value.status == 400
    assert "proof" in refused.value.details
    _nothing_written(media_root)


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("bukti.pdf", png_claiming(8_000, 6_000), "application/pdf"),  # 48 MP behind a PDF name
        ("bukti.png", pdf_bytes()[:200], "image/png"),  # not a PNG, and a broken PDF
        ("bukti.jpg", b"\xff\xd8\xff" + b"\x00" * 100, "image/jpeg"),  # a JPEG signature on nothing
        ("bukti.pdf", b"", "application/pdf"),
    ],
)
def test_issue_14_proofs_that_only_look_right_are_refused_too(
    cast: Cast, media_root: Path, name: str, data: bytes, content_type: str
) -> None:
    """Issue 14: a proof must open, not only start with the right bytes."""
    with pytest.raises(ServiceError) as refused:
        billing.topup_request_create(
            customer=cast.acme,
            requested_by=cast.owner,
            amount=500_000,
            proof=SimpleUploadedFile(name, data, content_type=content_type),
        )
    assert refused.value.code == "invalid_file"
    _nothing_written(media_root)


def test_issue_14_a_real_proof_under_a_path_like_name_is_stored_under_a_name_of_ours(
    prepaid_owner: Client, cast: Cast, media_root: Path
) -> None:
    """Issue 14: the file name never chooses where the proof lands."""
    data = pdf_bytes()
    body, content = multipart({"amount": "500000"}, "proof", "../../../etc/cron.d/bukti.pdf", data, "application/pdf")
    response = prepaid_owner.generic("POST", "/billing/topup/", body, content_type=content)
    assert response.status_code == 302, response.content[:300]
    stored = Path(TopUpRequest.objects.get(customer=cast.acme).proof.path).resolve()
    assert stored.is_relative_to(media_root.resolve()) and stored.read_bytes() == data
    assert stored.name.startswith("proof-") and stored.suffix == ".pdf" and "cron" not in str(stored)
    assert [p.resolve() for p in stored_files(media_root)] == [stored]
