"""Staff signed in as in production: ADMIN_REQUIRE_2FA on, a confirmed TOTP
device, the password and then the authenticator's code (the two-factor
middleware lets the admin through only after both)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from backoffice.roles import ROLES, sync_groups
from billing import services as billing
from billing.models import Invoice, TopUpRequest
from messaging import services as messaging
from messaging.models import Message, WebhookDelivery, WebhookEndpoint, WebhookEvent
from senderids import services as sender_ids
from senderids.models import Registration
from tests.billing.postpaid_months import invoice_month, make_postpaid
from tests.conftest import Cast
from tests.factories import TEST_PASSWORD, UserFactory
from tests.helpers import api_key_for, topup_request
from tests.senderids.helpers import pdf_bytes

SUPERUSER = "superuser"


@pytest.fixture(autouse=True)
def _production_two_factor(settings) -> None:  # type: ignore[no-untyped-def]
    settings.ADMIN_REQUIRE_2FA = True


def code_for(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def sign_in_with_two_factor(user: User) -> Client:
    """Password at /admin/login/, then the TOTP code at /staff/2fa/; English pages."""
    client = Client()
    response = client.post("/admin/login/", {"username": user.email, "password": TEST_PASSWORD, "next": "/admin/"})
    assert response.status_code == 302, response.content[:500]
    blocked = client.get("/admin/")
    assert blocked.status_code == 302 and blocked["Location"].startswith("/staff/2fa/"), "2FA must be asked first"
    device = TOTPDevice.objects.create(user=user, name="admin", confirmed=True)
    passed = client.post("/staff/2fa/", {"token": code_for(device), "next": "/admin/"})
    assert passed.status_code == 302 and passed["Location"] == "/admin/", passed.content[:500]
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    return client


def staff_user(role: str) -> User:
    user = UserFactory(email=f"{role}@otp.test", is_staff=True, is_superuser=role == SUPERUSER)
    if role != SUPERUSER:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def groups(db: None) -> None:
    """The roles' groups as the data migration leaves them (a transactional
    test elsewhere may have flushed them)."""
    sync_groups()


@pytest.fixture
def as_role(groups: None) -> Callable[[str], Client]:
    """``as_role("finance")``: a client signed in (with two factors) as a member of that role."""
    made: dict[str, Client] = {}

    def client_for(role: str) -> Client:
        assert role in (*ROLES, SUPERUSER), role
        if role not in made:
            made[role] = sign_in_with_two_factor(staff_user(role))
        return made[role]

    return client_for


# --- A small business with work waiting -------------------------------------------------------

NUMBER = "+6281234567890"


@dataclass
class World:
    """Work in every queue: a top-up to approve, a registration waiting, a
    postpaid invoice to post (and overdue), a message stuck, a webhook that
    failed; Acme prepaid with a deposit, Globex postpaid with a guarantee."""

    cast: Cast
    topup: TopUpRequest
    registration: Registration
    invoice: Invoice
    message: Message
    delivery: WebhookDelivery


@pytest.fixture
def media(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def world(cast: Cast, media: Path) -> World:
    billing.lot_create(customer=cast.acme, amount=2_500_000, reference="ACME-BCA-1")  # R-SID-3
    topup = topup_request(cast)
    application = sender_ids.sender_id_apply(
        customer=cast.acme,
        name="TOKOKU",
        brand="Toko Kita",
        operators=["telkomsel", "xl"],
        form=SimpleUploadedFile("form.pdf", pdf_bytes(), content_type="application/pdf"),
        applied_by=cast.owner,
    )
    registration = Registration.objects.get(application=application.sender_id, operator="telkomsel")
    globex = make_postpaid(cast.globex)
    invoice = invoice_month(globex, 2025, 5)
    message = messaging.message_send(api_key=api_key_for(cast.acme_test_key), to=NUMBER, text="Kode OTP Anda 482913")
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    endpoint = WebhookEndpoint.objects.create(
        customer=cast.acme, url="https://hooks.example.test/otp", secret="s3cret", events=["message.status"]
    )
    event = WebhookEvent.objects.create(customer=cast.acme, type="message.status", payload={"id": message.pk})
    delivery = WebhookDelivery.objects.create(event=event, endpoint=endpoint, status=WebhookDelivery.Status.FAILED)
    return World(cast, topup, registration, invoice, message, delivery)
