"""Staff pass a TOTP second factor before the admin (ADMIN_REQUIRE_2FA).

Review 8.13: enrolling an authenticator app needs the single-use, expiring
link emailed to the staff member's address, not only their password."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from otpportal.staff2fa import INVITE_MAX_AGE
from tests.conftest import Cast
from tests.factories import TEST_PASSWORD, UserFactory
from tests.helpers import Capture

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


def enrolment_link(index: int = -1) -> str:
    """The path of the enrolment link in an email sent to the staff member."""
    match = re.search(r"https?://[^/\s]+(/staff/2fa/enrol/[^\s]+/)", mail.outbox[index].body)
    assert match, mail.outbox[index].body
    return match.group(1)


def ask_for_link(client: Client, capture: Capture) -> str:
    with capture(execute=True):  # the email leaves after commit
        response = client.post("/staff/2fa/", {"action": "send_link", "next": "/admin/"})
    assert response.status_code == 302
    return enrolment_link()


def invite(capture: Capture, *args: str) -> str:
    out = StringIO()
    with capture(execute=True):
        call_command("staff_2fa_invite", *args, stdout=out)
    return out.getvalue()


def assert_no_secret_shown(html: str) -> None:
    assert "<svg" not in html and not re.search(r"<code>[A-Z2-7]{16,}</code>", html)


def test_first_sign_in_enrols_an_authenticator_through_the_emailed_link_then_opens_the_admin(
    cast: Cast, django_capture_on_commit_callbacks: Capture
) -> None:
    """Review 8.13: the password leads to "we email you a link"; the link leads to the QR code."""
    capture = django_capture_on_commit_callbacks
    client = staff_signed_in(cast)
    blocked = client.get("/admin/billing/depositlot/")
    assert blocked.status_code == 302 and blocked["Location"].startswith("/staff/2fa/")
    page = client.get(blocked["Location"])
    assert page.status_code == 200
    assert_no_secret_shown(page.content.decode())
    assert 'value="send_link"' in page.content.decode()
    link = ask_for_link(client, capture)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [cast.staff.email]
    opened = client.get(link)
    assert opened.status_code == 302 and opened["Location"].startswith("/staff/2fa/")
    page = client.get(opened["Location"])
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


def test_the_password_alone_never_shows_a_secret_nor_enrols(
    cast: Cast, django_capture_on_commit_callbacks: Capture
) -> None:
    """Review 8.13: someone with a stolen password of a not-yet-enrolled staff member."""
    capture = django_capture_on_commit_callbacks
    attacker = staff_signed_in(cast)
    for _ in range(2):
        html = attacker.get("/staff/2fa/?next=/admin/").content.decode()
        assert_no_secret_shown(html)
    assert not TOTPDevice.objects.filter(user=cast.staff).exists()  # visiting creates nothing
    # asking for a link only sends it to the staff member's own address …
    ask_for_link(attacker, capture)
    assert [m.to for m in mail.outbox] == [[cast.staff.email]]
    assert_no_secret_shown(attacker.get("/staff/2fa/?next=/admin/").content.decode())
    # … and even the right code of the pending device is refused without the link
    pending = TOTPDevice.objects.get(user=cast.staff, confirmed=False)
    refused = attacker.post("/staff/2fa/", {"token": code_for(pending), "next": "/admin/"})
    assert refused.status_code == 400
    assert_no_secret_shown(refused.content.decode())
    assert not TOTPDevice.objects.filter(user=cast.staff, confirmed=True).exists()
    assert attacker.get("/admin/").status_code == 302  # still not in


def test_the_link_works_once(cast: Cast, django_capture_on_commit_callbacks: Capture) -> None:
    """Review 8.13: a reused link fails, in the same browser and in another one."""
    capture = django_capture_on_commit_callbacks
    client = staff_signed_in(cast)
    link = ask_for_link(client, capture)
    assert client.get(link).status_code == 302
    reused = client.get(link)
    assert reused.status_code == 400 and "<svg" not in reused.content.decode()
    other = staff_signed_in(cast)  # e.g. someone holding the password and the old email
    again = other.get(link)
    assert again.status_code == 400
    assert_no_secret_shown(other.get("/staff/2fa/?next=/admin/").content.decode())


def test_an_expired_link_fails(cast: Cast, django_capture_on_commit_callbacks: Capture) -> None:
    """Review 8.13: the link expires after INVITE_MAX_AGE."""
    capture = django_capture_on_commit_callbacks
    client = staff_signed_in(cast)
    link = ask_for_link(client, capture)
    with time_machine.travel(timezone.now() + INVITE_MAX_AGE + timedelta(minutes=1), tick=False):
        expired = client.get(link)
        assert expired.status_code == 400
        assert_no_secret_shown(client.get("/staff/2fa/?next=/admin/").content.decode())


def test_a_newer_link_replaces_the_older_one(cast: Cast, django_capture_on_commit_callbacks: Capture) -> None:
    """Review 8.13: asking again (at most once a minute) spends the earlier link."""
    capture = django_capture_on_commit_callbacks
    client = staff_signed_in(cast)
    first = ask_for_link(client, capture)
    with time_machine.travel(timezone.now() + timedelta(minutes=2), tick=False):
        second = ask_for_link(client, capture)
        assert len(mail.outbox) == 2 and first != second
        assert client.get(first).status_code == 400
        assert client.get(second).status_code == 302


def test_a_link_is_for_its_own_staff_member_only(cast: Cast, django_capture_on_commit_callbacks: Capture) -> None:
    """Review 8.13: a link opens nothing for another signed-in staff member."""
    capture = django_capture_on_commit_callbacks
    other_staff = UserFactory(email="other@otp.test", is_staff=True)
    invite(capture, other_staff.email)
    link = enrolment_link()
    client = staff_signed_in(cast)  # signed in as cast.staff, not as the link's owner
    assert client.get(link).status_code == 400
    assert_no_secret_shown(client.get("/staff/2fa/?next=/admin/").content.decode())


def test_a_superuser_issues_and_reissues_links_with_the_command(
    cast: Cast, django_capture_on_commit_callbacks: Capture
) -> None:
    """Review 8.13: ``manage.py staff_2fa_invite EMAIL [--reset]`` emails a link, never prints it."""
    capture = django_capture_on_commit_callbacks
    out = invite(capture, cast.staff.email)
    assert cast.staff.email in out and mail.outbox[-1].to == [cast.staff.email]
    assert "/staff/2fa/enrol/" not in out  # only the staff member's mailbox has the link
    client = staff_signed_in(cast)
    assert client.get(enrolment_link()).status_code == 302
    device = TOTPDevice.objects.get(user=cast.staff, confirmed=False)
    assert client.post("/staff/2fa/", {"token": code_for(device), "next": "/admin/"}).status_code == 302
    with pytest.raises(CommandError, match="already has an authenticator"):
        invite(capture, cast.staff.email)
    invite(capture, cast.staff.email, "--reset")  # lost phone
    assert not TOTPDevice.objects.filter(user=cast.staff, confirmed=True).exists()
    assert client.get(enrolment_link()).status_code == 302
    with pytest.raises(CommandError, match="Only staff"):
        invite(capture, cast.owner.email)


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
