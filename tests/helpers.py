"""Helpers shared by test modules of several apps.

A plain module, not a conftest: a test module imports what it uses. A fixture
here is defined as ``<name>_fixture`` with ``name="<name>"``; importing it
registers ``<name>`` in the importing module (autouse ones apply there).
Asserts here are not rewritten by pytest, so each says what went wrong.
"""

from __future__ import annotations

import struct
import threading
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.test import Client
from pytest_django.fixtures import Settings

from accounts.models import ApiKey
from accounts.selectors import api_key_for_secret
from billing import services as billing
from billing.models import TopUpRequest
from otpportal.errors import ServiceError
from tests.conftest import Cast
from tests.factories import TEST_PASSWORD

# The type of pytest-django's ``django_capture_on_commit_callbacks`` fixture.
Capture = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]


def signed_in(email: str) -> Client:
    """A client signed in through the login page (POST /login/)."""
    client = Client()
    response = client.post("/login/", {"username": email, "password": TEST_PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return client


@pytest.fixture(name="staff")
def staff_fixture(cast: Cast) -> Client:
    """``staff``: a client signed in as the cast's staff user."""
    return signed_in(cast.staff.email)


@pytest.fixture(name="media_root", autouse=True)
def media_root_fixture(settings: Settings, tmp_path: Path) -> None:
    """``media_root`` (autouse where imported): uploads land in the test's temporary folder."""
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture(name="money")
def money_fixture(cast: Cast) -> None:
    """``money``: a deposit for each customer, Rp 2.500.000 for Acme and Rp 750.000 for Globex."""
    billing.lot_create(customer=cast.acme, amount=2_500_000, reference="ACME-BCA-1")
    billing.lot_create(customer=cast.globex, amount=750_000, reference="GLOBEX-BCA-1")


def tiny_png() -> bytes:
    """A valid 1x1 PNG, built by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def png_proof(name: str = "bukti.png") -> SimpleUploadedFile:
    """A transfer proof upload: a real PNG."""
    return SimpleUploadedFile(name, tiny_png(), content_type="image/png")


def topup_request(
    cast: Cast, *, amount: int = 2_500_000, reference: str = "BCA-777", proof_name: str = "proof.png"
) -> TopUpRequest:
    """A pending top-up request from Acme's owner, with a PNG transfer proof."""
    return billing.topup_request_create(
        customer=cast.acme,
        requested_by=cast.owner,
        amount=amount,
        proof=png_proof(proof_name),
        transfer_reference=reference,
    )


def api_key_for(secret: str) -> ApiKey:
    """The API key row of a secret from the cast (``cast.acme_live_key`` …)."""
    api_key = api_key_for_secret(secret)
    assert api_key is not None, "no API key for that secret"
    return api_key


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll a condition with a deadline (no fixed sleeps); return its value."""
    import threading
    import time

    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        pause.wait(interval)


def race(count: int, one: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    """Run ``one(0)`` … ``one(count - 1)`` in ``count`` threads released together (a
    barrier), each on its own database connection, closed at the end; returns what the
    calls returned and what they raised (the money paths' concurrency tests)."""
    barrier = threading.Barrier(count)
    returned: list[Any] = []
    raised: list[BaseException] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            value = one(i)
            with lock:
                returned.append(value)
        except Exception as exc:  # noqa: BLE001 - every failure is the caller's to judge
            with lock:
                raised.append(exc)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        list(pool.map(run, range(count)))
    return returned, raised


def refusals(raised: list[BaseException]) -> list[str]:
    """What ``race``'s calls raised, as the tests compare it: a refusal's code (a
    ``ServiceError``), anything else as its repr (a failure the assertion shows)."""
    return [exc.code if isinstance(exc, ServiceError) else repr(exc) for exc in raised]
