"""Helpers of the sender-ID tests: real uploads made on the spot and the
steps of an application's life."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from pypdf import PdfWriter

from senderids import services
from senderids.models import Registration, SenderId
from tests.conftest import Cast

WIB = ZoneInfo("Asia/Jakarta")


def pdf_bytes(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def image_bytes(kind: str = "PNG", size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 220, 240)).save(out, format=kind)
    return out.getvalue()


def upload(data: bytes | None = None, name: str = "form-penunjukan.pdf", content_type: str = "application/pdf"):  # type: ignore[no-untyped-def]
    return SimpleUploadedFile(name, pdf_bytes() if data is None else data, content_type=content_type)


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def apply(cast: Cast, **overrides: Any) -> services.Application:
    """Acme's owner applies for TOKOKU on Telkomsel and XL with a signed PDF."""
    values: dict[str, Any] = {
        "customer": cast.acme,
        "name": "TOKOKU",
        "brand": "Toko Kita",
        "operators": ["telkomsel", "xl"],
        "form": upload(),
        "applied_by": cast.owner,
    }
    values.update(overrides)
    return services.sender_id_apply(**values)


def activate(registration: Registration, staff: Any = None, *, now: datetime | None = None) -> Registration:
    """Staff take it into review, then activate it (R-SID-4)."""
    services.registration_move(registration=registration, new="in_review", actor=staff, now=now)
    return services.registration_move(registration=registration, new="active", note="Approved.", actor=staff, now=now)


def registration(application: services.Application | SenderId, operator: str) -> Registration:
    row = application.sender_id if isinstance(application, services.Application) else application
    return Registration.objects.get(application=row, operator=operator)
