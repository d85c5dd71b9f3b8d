"""Helpers of the team, two-factor and activity-log tests (issue 12)."""

from __future__ import annotations

import re
import time
from base64 import b32decode

from django.core import mail
from django.test import Client
from django_otp.oath import TOTP, hotp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Customer, Membership, User
from tests.factories import TEST_PASSWORD, UserFactory

INVITE_LINK = re.compile(r"https?://\S+/account/invitations/[\w-]+/")


def member(customer: Customer, role: str, email: str) -> User:
    user = UserFactory(email=email)
    Membership.objects.create(user=user, customer=customer, role=role)
    return user


def english(client: Client) -> Client:
    client.cookies["django_language"] = "en"
    return client


def sign_in(client: Client, email: str, password: str = TEST_PASSWORD) -> Client:
    response = client.post("/login/", {"username": email, "password": password})
    assert response.status_code == 302, response.content[:500]
    return client


def signed_in(email: str, password: str = TEST_PASSWORD) -> Client:
    """A client past the password (and nothing more) through POST /login/."""
    return sign_in(Client(), email, password)


def invitation_path(index: int = -1) -> str:
    """The path of the link in an emailed invitation (the newest by default)."""
    found = INVITE_LINK.search(mail.outbox[index].body)
    assert found, mail.outbox[index].body
    return "/" + found.group(0).split("/", 3)[3]


def code_from_secret(secret: str, drift: int = 0) -> str:
    """What an authenticator app shows for the key the enrolment page prints."""
    key = b32decode(secret + "=" * (-len(secret) % 8))
    return f"{TOTP(key, drift=drift).token():06d}"


def fresh_code(device: TOTPDevice) -> str:
    """A code the device accepts now: the current step, or the one after the
    last code it accepted (a code works once; the device allows one step of
    drift and follows it)."""
    device.refresh_from_db()
    now_t = (int(time.time()) - device.t0) // device.step
    step = max(now_t, device.last_t + 1)
    return f"{hotp(device.bin_key, step, digits=device.digits):0{device.digits}d}"


def enrol(client: Client, user: User) -> list[str]:
    """Turn on two-factor sign-in through the pages; the recovery codes shown."""
    page = client.get("/account/security/two-factor/enrol/")
    assert page.status_code == 200, page.content[:300]
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post("/account/security/two-factor/enrol/", {"device": device.pk, "code": fresh_code(device)})
    assert response.status_code == 200, response.content[:500]
    return recovery_codes(response.content.decode())


def recovery_codes(html: str) -> list[str]:
    """The recovery codes a page shows (``abcd-efgh``, one a line)."""
    block = re.search(r'<pre id="recovery-codes">(.*?)</pre>', html, re.S)
    assert block, html[:500]
    return re.findall(r"\b[a-z2-7]{4}-[a-z2-7]{4}\b", block.group(1))
