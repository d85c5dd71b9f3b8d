"""Staff back-office of messaging: read-only lists and details that never
show secrets, the "re-queue for dispatch" action, endpoint deactivation and
customers' verification texts (saved through the same use case)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.utils.html import escape

from accounts.models import IdempotencyRecord
from billing import services as billing
from messaging import services
from messaging.models import (
    Message,
    MessageTemplate,
    PendingReport,
    SandboxMessage,
    Verification,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from tests.conftest import Cast, api_client
from tests.helpers import (
    Capture,
    api_key_for,
    signed_in,
    staff_fixture,  # noqa: F401 - the staff fixture
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager")]

NUMBER = "+6281234567890"


@pytest.fixture
def traffic(cast: Cast, django_capture_on_commit_callbacks: Capture, local_webhooks: None) -> dict[str, Any]:
    """A delivered verification, a message stuck in queued, a failed webhook
    delivery, a template, an early report and an idempotency record."""
    billing.lot_create(customer=cast.acme, amount=2_500_000, reference="ACME-BCA-1")
    endpoint = services.endpoint_create(customer=cast.acme, url="http://127.0.0.1:1/x")
    with django_capture_on_commit_callbacks(execute=True):
        verification, delivered = services.verification_start(api_key=api_key_for(cast.acme_live_key), to=NUMBER)
    stuck = services.message_send(api_key=api_key_for(cast.acme_test_key), to=NUMBER, text="Kode OTP Anda 482913")
    delivery = WebhookDelivery.objects.filter(endpoint=endpoint).first()
    assert delivery is not None
    services.template_set(customer=cast.acme, locale="id", body="{brand}: kode {code}")
    PendingReport.objects.create(provider="smpp", provider_message_id="abc123", state="delivered")
    response = api_client(cast.acme_live_key).post(
        "/api/v1/messages",
        {"to": NUMBER, "text": "Kode OTP Anda 123456"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="order-1",
    )
    assert response.status_code == 201
    return {
        "verification": verification,
        "delivered": Message.objects.get(pk=delivered.pk),
        "stuck": Message.objects.get(pk=stuck.pk),
        "endpoint": endpoint,
        "delivery": delivery,
    }


def test_every_list_and_detail_page_loads_for_staff(staff: Client, traffic: dict[str, Any]) -> None:
    rows = {
        "verification": traffic["verification"].pk,
        "message": traffic["stuck"].pk,
        "webhookendpoint": traffic["endpoint"].pk,
        "webhookdelivery": traffic["delivery"].pk,
        "messagetemplate": MessageTemplate.objects.get().pk,
        "sandboxmessage": SandboxMessage.objects.first().pk,  # type: ignore[union-attr]
        "pendingreport": PendingReport.objects.get().pk,
        "accounts/idempotencyrecord": IdempotencyRecord.objects.get().pk,
    }
    for model, pk in rows.items():
        model = model if "/" in model else f"messaging/{model}"
        listing = staff.get(f"/admin/{model}/")
        assert listing.status_code == 200, model
        assert listing.context["cl"].result_count >= 1, model
        assert staff.get(f"/admin/{model}/{pk}/change/").status_code == 200, model
    assert staff.get("/admin/messaging/message/add/").status_code == 403  # read-only


def test_details_never_show_secrets(staff: Client, traffic: dict[str, Any]) -> None:
    verification: Verification = traffic["verification"]
    html = staff.get(f"/admin/messaging/verification/{verification.pk}/change/").content.decode()
    assert verification.code_hmacs and all(h not in html for h in verification.code_hmacs)
    assert verification.id in html
    stuck: Message = traffic["stuck"]
    assert stuck.sealed
    html = staff.get(f"/admin/messaging/message/{stuck.pk}/change/").content.decode()
    # The stored body of a POST /messages text has its code masked too (issue 14: no code at rest).
    assert stuck.sealed not in html and "Kode OTP Anda ••••" in html and "482913" not in html
    endpoint: WebhookEndpoint = traffic["endpoint"]
    html = staff.get(f"/admin/messaging/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert endpoint.secret not in html and endpoint.url in html


def test_message_detail_shows_the_status_history_inline(staff: Client, traffic: dict[str, Any]) -> None:
    delivered: Message = traffic["delivered"]
    response = staff.get(f"/admin/messaging/message/{delivered.pk}/change/")
    html = response.content.decode()
    assert delivered.history.count() == 4
    for change in delivered.history.all():
        assert escape(change.reason) in html
    assert "••••" in html  # the stored body, code masked


def test_delivery_detail_shows_its_attempts(staff: Client, traffic: dict[str, Any]) -> None:
    delivery: WebhookDelivery = traffic["delivery"]
    services.delivery_attempt(delivery_id=delivery.pk)
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    html = staff.get(f"/admin/messaging/webhookdelivery/{delivery.pk}/change/").content.decode()
    assert escape(attempt.error) in html and "message.status" in html


def test_lists_filter_and_search(staff: Client, traffic: dict[str, Any]) -> None:
    stuck: Message = traffic["stuck"]
    delivered: Message = traffic["delivered"]
    html = staff.get("/admin/messaging/message/", {"status__exact": "queued"}).content.decode()
    assert stuck.id in html and delivered.id not in html
    html = staff.get("/admin/messaging/message/", {"is_test__exact": "1"}).content.decode()
    assert stuck.id in html and delivered.id not in html
    found = staff.get("/admin/messaging/message/", {"q": "0812-3456-7890"}).context["cl"].result_list
    assert {stuck.id, delivered.id} <= {m.id for m in found}
    found = staff.get("/admin/messaging/message/", {"q": delivered.provider_message_id}).context["cl"].result_list
    assert [m.id for m in found] == [delivered.id]
    verification: Verification = traffic["verification"]
    found = staff.get("/admin/messaging/verification/", {"q": verification.id}).context["cl"].result_list
    assert [v.id for v in found] == [verification.id]


def test_requeue_dispatches_a_message_stuck_in_queued(staff: Client, traffic: dict[str, Any]) -> None:
    stuck: Message = traffic["stuck"]
    delivered: Message = traffic["delivered"]
    assert stuck.status == Message.Status.QUEUED
    response = staff.post(
        "/admin/messaging/message/",
        {"action": "requeue", "index": 0, ACTION_CHECKBOX_NAME: [stuck.pk, delivered.pk]},
        follow=True,
    )
    assert response.status_code == 200
    stuck.refresh_from_db()
    assert stuck.status == Message.Status.DELIVERED  # the sandbox "sent" it (tasks inline)
    assert SandboxMessage.objects.filter(message=stuck).exists()
    assert [(c.old, c.new, c.actor) for c in stuck.history.all()][:2] == [
        ("", "queued", "api"),
        ("queued", "sending", "worker"),
    ]
    notes = [(m.level, str(m)) for m in response.context["messages"]]
    assert notes == [  # one re-queued, one skipped (already delivered); Indonesian by default
        (messages.SUCCESS, "1 pesan diantrekan ulang untuk dikirim."),
        (messages.WARNING, "1 pesan dilewati karena tidak dalam antrean."),
    ]
    delivered.refresh_from_db()
    assert delivered.status == Message.Status.DELIVERED and delivered.history.count() == 4


def test_deactivate_stops_an_endpoint(staff: Client, traffic: dict[str, Any]) -> None:
    endpoint: WebhookEndpoint = traffic["endpoint"]
    response = staff.post(
        "/admin/messaging/webhookendpoint/",
        {"action": "deactivate", "index": 0, ACTION_CHECKBOX_NAME: [endpoint.pk]},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.deleted_at is None


def test_staff_template_edits_are_validated_like_customers(cast: Cast, staff: Client) -> None:
    response = staff.post(
        "/admin/messaging/messagetemplate/add/", {"customer": cast.globex.pk, "locale": "en", "body": "Hi {brand}"}
    )
    assert response.status_code == 200 and not MessageTemplate.objects.exists()
    assert "{code}" in response.content.decode()
    response = staff.post(
        "/admin/messaging/messagetemplate/add/",
        {"customer": cast.globex.pk, "locale": "en", "body": "{brand} code {code}"},
    )
    assert response.status_code == 302
    template = MessageTemplate.objects.get(customer=cast.globex, locale="en")
    assert template.body == "{brand} code {code}"


def test_customers_cannot_open_the_back_office(cast: Cast) -> None:
    response = signed_in(cast.owner.email).get("/admin/messaging/message/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
