"""Staff pass a TOTP second factor before the admin (ADMIN_REQUIRE_2FA)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.conftest import Cast
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _require_2fa(settings) -> None:  # type: ignore[no-untyped-def]
    settings.ADMIN_REQUIRE_2FA = True


def staff_signed_in(cast: Cast) -> Client:
    client = Client()
    response = client.post(
        "/admin/login/", {"username": cast.staff.email, "password": TEST_PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302
    return client


def code_for(device: TOTPDevice, offset: int = 0) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=offset):06d}"


def test_first_sign_in_enrols_an_authenticator_then_opens_the_admin(cast: Cast) -> None:
    client = staff_signed_in(cast)
    blocked = client.get("/admin/billing/depositlot/")
    assert blocked.status_code == 302 and blocked["Location"].startswith("/staff/2fa/")
    page = client.get(blocked["Location"])
    html = page.content.decode()
    assert page.status_code == 200 and "<svg" in html
    device = TOTPDevice.objects.get(user=cast.staff, confirmed=False)
    secret = re.search(r"<code>([A-Z2-7]+)</code>", html)
    assert secret and len(secret.group(1)) >= 16
    wrong = client.post(
        "/staff/2fa/",
        {"token": "000000" if code_for(device) != "000000" else "111111", "next": "/admin/billing/depositlot/"},
    )
    assert wrong.status_code == 400
    with time_machine.travel(timezone.now() + timedelta(seconds=3), tick=False):  # past django-otp's throttle
        device.refresh_from_db()
        ok = client.post("/staff/2fa/", {"token": code_for(device), "next": "/admin/billing/depositlot/"})
    assert ok.status_code == 302 and ok["Location"] == "/admin/billing/depositlot/"
    assert client.get("/admin/billing/depositlot/").status_code == 200
    assert TOTPDevice.objects.get(pk=device.pk).confirmed


def test_a_later_sign_in_asks_for_the_code_without_showing_the_secret(cast: Cast) -> None:
    device = TOTPDevice.objects.create(user=cast.staff, name="admin", confirmed=True)
    client = staff_signed_in(cast)
    page = client.get("/staff/2fa/?next=/admin/")
    assert "<svg" not in page.content.decode()
    device.refresh_from_db()
    assert client.post("/staff/2fa/", {"token": code_for(device), "next": "/admin/"}).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_an_unsafe_next_url_is_ignored(cast: Cast) -> None:
    device = TOTPDevice.objects.create(user=cast.staff, name="admin", confirmed=True)
    client = staff_signed_in(cast)
    response = client.post("/staff/2fa/", {"token": code_for(device), "next": "https://evil.example/"})
    assert response["Location"] == "/admin/"


def test_members_and_the_api_are_not_affected(cast: Cast) -> None:
    member = Client()
    member.post("/login/", {"username": cast.owner.email, "password": TEST_PASSWORD})
    assert member.get("/").status_code == 200
    assert member.get("/staff/2fa/").status_code == 403
    from tests.conftest import api_client

    assert api_client(cast.acme_live_key).get("/api/v1/me").status_code == 200


def test_off_when_not_required(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ADMIN_REQUIRE_2FA = False
    assert staff_signed_in(cast).get("/admin/").status_code == 200
