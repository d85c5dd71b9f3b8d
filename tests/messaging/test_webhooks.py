"""Customer webhooks: endpoints over the API, signed deliveries to a local
HTTP server, retries with backoff for 24 h, test events, send again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from billing import services as billing
from devservers.wa_cloud import CallbackReceiver
from messaging import services
from messaging.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from messaging.services.events import SIGNATURE_HEADER, sign, verify
from tests.conftest import Cast, api_client
from tests.messaging.helpers import assert_error, post, sandbox_code

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager")]


@pytest.fixture
def receiver(local_webhooks: None) -> Iterator[CallbackReceiver]:
    with CallbackReceiver() as server:
        yield server


def create_endpoint(cast: Cast, url: str, events: list[str] | None = None) -> dict:  # type: ignore[type-arg]
    body = {"url": url} if events is None else {"url": url, "events": events}
    response = post(api_client(cast.acme_live_key), "/api/v1/webhooks", body)
    assert response.status_code == 201, response.content
    return response.json()


def test_endpoints_over_the_api(cast: Cast) -> None:
    created = create_endpoint(cast, "https://example.test/hooks")
    assert created["secret"].startswith("whsec_") and created["events"] == ["message.status", "verification.status"]
    listed = api_client(cast.acme_live_key).get("/api/v1/webhooks").json()
    assert [e["id"] for e in listed] == [created["id"]] and "secret" not in listed[0]
    assert api_client(cast.globex_live_key).get("/api/v1/webhooks").json() == []
    assert_error(api_client(cast.globex_live_key).delete(f"/api/v1/webhooks/{created['id']}"), 404, "not_found")
    assert api_client(cast.acme_live_key).delete(f"/api/v1/webhooks/{created['id']}").status_code == 204
    assert api_client(cast.acme_live_key).get("/api/v1/webhooks").json() == []
    assert_error(
        post(api_client(cast.acme_live_key), "/api/v1/webhooks", {"url": "ftp://x"}), 400, "invalid_request", "url"
    )
    assert_error(
        post(api_client(cast.acme_live_key), "/api/v1/webhooks", {"url": "https://x.test", "events": ["x"]}),
        400,
        "invalid_request",
        "events",
    )


def test_status_events_arrive_signed(
    cast: Cast,
    receiver: CallbackReceiver,  # type: ignore[no-untyped-def]
    django_capture_on_commit_callbacks,
) -> None:
    endpoint = create_endpoint(cast, receiver.url)
    billing.lot_create(customer=cast.acme, amount=10_000, reference="a")
    client = api_client(cast.acme_live_key)
    with django_capture_on_commit_callbacks(execute=True):
        verification = post(client, "/api/v1/verifications", {"to": "0812-3456-7890"}).json()
    code = sandbox_code()
    with django_capture_on_commit_callbacks(execute=True):
        post(client, f"/api/v1/verifications/{verification['id']}/check", {"code": code})
    assert receiver.wait_for_requests(3, timeout=5)
    events = [(r.json["type"], r.json["data"]["status"]) for r in receiver.requests]
    assert events == [("message.status", "sent"), ("message.status", "delivered"), ("verification.status", "approved")]
    for request in receiver.requests:
        header = request.header(SIGNATURE_HEADER)
        assert header and verify(endpoint["secret"], request.body, header)
        assert not verify("whsec_wrong", request.body, header)
        assert request.header("X-OTP-Event-Id") == request.json["id"]
    assert len({r.json["id"] for r in receiver.requests}) == 3  # unique event ids


def test_signature_format() -> None:
    header = sign("whsec_x", b'{"a":1}', 1_700_000_000)
    assert header.startswith("t=1700000000,v1=") and len(header.split("v1=")[1]) == 64
    assert verify("whsec_x", b'{"a":1}', header, now=1_700_000_100)
    assert not verify("whsec_x", b'{"a":1}', header, now=1_700_001_000)  # too old
    assert not verify("whsec_x", b'{"a":2}', header, now=1_700_000_100)


@pytest.mark.usefixtures("local_webhooks")
def test_a_failing_endpoint_is_retried_with_backoff_then_given_up_after_24h(cast: Cast) -> None:
    with CallbackReceiver(status=500) as receiver:
        endpoint = services.endpoint_create(customer=cast.acme, url=receiver.url)
        with time_machine.travel("2026-03-01 10:00:00 +0700", tick=False):
            delivery = services.test_event_send(customer=cast.acme, endpoint_id=endpoint.id)
            services.delivery_attempt(delivery_id=delivery.pk)
            delivery.refresh_from_db()
            assert delivery.status == "pending" and delivery.attempts == 1 and delivery.last_status_code == 500
            first_wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
            assert 24 <= first_wait <= 36
        with time_machine.travel("2026-03-01 10:01:00 +0700", tick=False):
            services.delivery_attempt(delivery_id=delivery.pk)
            delivery.refresh_from_db()
            assert delivery.attempts == 2
            assert (delivery.next_attempt_at - timezone.now()).total_seconds() > first_wait
        receiver.status = 200
        with time_machine.travel("2026-03-01 10:05:00 +0700", tick=False):
            services.delivery_attempt(delivery_id=delivery.pk)
        delivery.refresh_from_db()
        assert delivery.status == "succeeded" and delivery.attempts == 3
        assert list(WebhookAttempt.objects.filter(delivery=delivery).values_list("status_code", flat=True)) == [
            500,
            500,
            200,
        ]
        receiver.status = 503
        with time_machine.travel("2026-03-01 10:00:00 +0700", tick=False):
            late = services.test_event_send(customer=cast.acme, endpoint_id=endpoint.id)
        with time_machine.travel("2026-03-02 10:00:01 +0700", tick=False):
            services.delivery_attempt(delivery_id=late.pk)
        late.refresh_from_db()
        assert late.status == "failed" and late.completed_at is not None


@pytest.mark.usefixtures("local_webhooks")
def test_an_unreachable_endpoint_records_the_error(cast: Cast) -> None:
    endpoint = services.endpoint_create(customer=cast.acme, url="http://127.0.0.1:1/hook")
    delivery = services.test_event_send(customer=cast.acme, endpoint_id=endpoint.id)
    services.delivery_attempt(delivery_id=delivery.pk)
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code is None and "ConnectionError" in attempt.error


def test_send_again_makes_a_fresh_delivery_of_the_same_event(
    cast: Cast,
    receiver: CallbackReceiver,  # type: ignore[no-untyped-def]
    django_capture_on_commit_callbacks,
) -> None:
    endpoint = services.endpoint_create(customer=cast.acme, url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        first = services.test_event_send(customer=cast.acme, endpoint_id=endpoint.id)
    with django_capture_on_commit_callbacks(execute=True):
        again = services.delivery_resend(customer=cast.acme, delivery_id=first.pk)
    assert receiver.wait_for_requests(2, timeout=5)
    assert again.pk != first.pk and again.event_id == first.event_id
    assert [r.json["id"] for r in receiver.requests] == [first.event_id, first.event_id]
    from otpportal.errors import ServiceError

    with pytest.raises(ServiceError):
        services.delivery_resend(customer=cast.globex, delivery_id=first.pk)


def test_only_subscribed_events_are_written(cast: Cast) -> None:
    services.endpoint_create(customer=cast.acme, url="https://x.test/h", events=["verification.status"])
    from messaging.models import Message, Verification
    from messaging.services.events import message_event, verification_event

    message = Message(customer=cast.acme, to="+6281234567890", channel="sms", status="delivered", body="x")
    message_event(message)
    assert not WebhookEvent.objects.exists()
    verification = Verification(
        customer=cast.acme,
        to="+6281234567890",
        channel="sms",
        status="approved",
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    verification_event(verification)
    assert WebhookEvent.objects.get().type == "verification.status"
    assert WebhookDelivery.objects.count() == 1
    assert WebhookEndpoint.objects.count() == 1


def test_deliveries_are_enqueued_by_task_name_on_the_webhooks_queue() -> None:
    """Review 8.7: events.py names the task instead of importing messaging.tasks (an import
    circle); the name must be a registered task and keep its own queue."""
    from messaging.services.events import DELIVER_TASK
    from otpportal.celery import app

    assert DELIVER_TASK in app.tasks
    assert app.amqp.router.route({}, DELIVER_TASK)["queue"].name == "webhooks"


@pytest.mark.usefixtures("local_webhooks")
def test_a_delivery_to_an_endpoint_deleted_since_the_event_is_not_posted(
    cast: Cast, receiver: CallbackReceiver
) -> None:
    """Issue 11: the endpoints are cached per process for HOT_CACHE_SECONDS, so an
    event can be written for an endpoint deleted or deactivated a moment before
    elsewhere; its delivery stops at the attempt, with the reason, and posts nothing."""
    deleted = services.endpoint_create(customer=cast.acme, url=receiver.url)
    deactivated = services.endpoint_create(customer=cast.acme, url=receiver.url + "b")
    first = services.test_event_send(customer=cast.acme, endpoint_id=deleted.id)
    second = services.test_event_send(customer=cast.acme, endpoint_id=deactivated.id)
    services.endpoint_delete(customer=cast.acme, endpoint_id=deleted.id)
    services.endpoint_deactivate(endpoint=deactivated)
    for delivery in (first, second):
        services.delivery_attempt(delivery_id=delivery.pk)
        delivery.refresh_from_db()
        assert delivery.status == "failed" and delivery.completed_at is not None
        assert delivery.last_error == "Not sent: the endpoint was deleted or deactivated"
        assert delivery.attempts == 0 and not WebhookAttempt.objects.filter(delivery=delivery).exists()
    assert receiver.requests == []
