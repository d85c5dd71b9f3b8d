"""Customer webhooks: endpoints, events, signed deliveries retried for 24 h.

An event is written in the same transaction as the change it reports; its
deliveries are posted by the ``webhooks`` queue after commit. Signature:
``X-OTP-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "t.body")>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import ActivityEvent, ApiKey, Customer, User
from accounts.services import activity_record
from messaging.models import Message, Verification, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from otpportal import hotcache, netguard
from otpportal.errors import ServiceError
from otpportal.rowsql import Instances

logger = logging.getLogger(__name__)

EVENTS = tuple(WebhookEndpoint.Event.values)
SIGNATURE_HEADER = "X-OTP-Signature"
MAX_ENDPOINTS = 10
ENDPOINT_GONE = "Not sent: the endpoint was deleted or deactivated"
DELIVER_TASK = "messaging.tasks.deliver_webhook"  # by name: messaging.tasks imports these services


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, body: bytes, header: str, *, tolerance: int = 300, now: float | None = None) -> bool:
    """What a customer's server does: check the signature and its age."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header)


def endpoint_create(
    *,
    customer: Customer,
    url: object,
    events: object = None,
    actor: User | None = None,
    api_key: ApiKey | None = None,
) -> WebhookEndpoint:
    """A new endpoint (at most ``MAX_ENDPOINTS``), in the activity log as done
    by ``actor`` (the dashboard) or ``api_key`` (the API)."""
    if not isinstance(url, str) or len(url) > 500:
        message = _(netguard.NOT_HTTP)
        raise ServiceError("invalid_request", message, details={"url": [message]})
    # Review 8.7 (SSRF): http(s) only, no userinfo, no private/loopback/reserved address;
    # checked again at every delivery (delivery_attempt), since DNS answers change.
    netguard.url_validate(url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_HOSTS)
    if events in (None, []):
        events = list(EVENTS)
    if not isinstance(events, list) or any(e not in EVENTS for e in events):
        raise ServiceError(
            "invalid_request",
            _("events must be a list of %(events)s.") % {"events": ", ".join(EVENTS)},
            details={"events": [_("Unknown event.")]},
        )
    if WebhookEndpoint.objects.filter(customer=customer, deleted_at__isnull=True).count() >= MAX_ENDPOINTS:
        raise ServiceError("invalid_request", _("At most %(max)s webhook endpoints.") % {"max": MAX_ENDPOINTS})
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            customer=customer, url=url, events=sorted(set(events)), secret=f"whsec_{secrets.token_urlsafe(32)}"
        )
        activity_record(
            customer=customer, action=ActivityEvent.Action.WEBHOOK_CREATED, user=actor, api_key=api_key, target=url
        )
    return endpoint


def endpoint_delete(
    *, customer: Customer, endpoint_id: str, actor: User | None = None, api_key: ApiKey | None = None
) -> None:
    with transaction.atomic():
        live = WebhookEndpoint.objects.select_for_update().filter(
            customer=customer, pk=endpoint_id, deleted_at__isnull=True
        )
        url = live.values_list("url", flat=True).first()
        if url is None:
            raise ServiceError("not_found", _("No such webhook endpoint."))
        live.update(deleted_at=timezone.now(), is_active=False)
        hotcache.clear_all()  # an update sends no signal (the endpoints are cached, issue 11)
        activity_record(
            customer=customer, action=ActivityEvent.Action.WEBHOOK_DELETED, user=actor, api_key=api_key, target=url
        )


def endpoint_deactivate(*, endpoint: WebhookEndpoint) -> bool:
    """Staff: stop deliveries to an endpoint without deleting it."""
    changed = bool(WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(is_active=False))
    hotcache.clear_all()  # an update sends no signal (the endpoints are cached, issue 11)
    return changed


# Issue 11: every status change of a verification or a message asks which endpoints take
# it; a check paid a query for that (10 % of it in a profile), almost always to learn
# "none". The answer is kept per process like the API key (otpportal.hotcache): an endpoint
# added elsewhere gets events within HOT_CACHE_SECONDS; one deleted or deactivated elsewhere
# may still get an event written in that time, and its delivery stops at the attempt
# (delivery_attempt checks the endpoint again).
_endpoints: hotcache.TtlCache[tuple[WebhookEndpoint, ...]] = hotcache.TtlCache("webhook endpoints")


# On a cache miss (a customer not seen for HOT_CACHE_SECONDS: most of them, with many
# customers), by the ORM's SQL compiled once: compiling it was a fifth of a check's CPU.
_endpoint_rows = Instances(
    lambda customer_id: WebhookEndpoint.objects.filter(
        customer_id=customer_id, is_active=True, deleted_at__isnull=True
    ),
    customer_id=-7_310_000_000_000_003,
)


def _active_endpoints(customer_id: int) -> list[WebhookEndpoint]:
    return list(_endpoints.get(customer_id, lambda: tuple(_endpoint_rows.get(customer_id=customer_id))))


def _emit(
    customer_id: int, event_type: str, data: dict[str, Any], active: list[WebhookEndpoint] | None = None
) -> WebhookEvent | None:
    """An event and its deliveries to the customer's endpoints that take ``event_type``
    (``active``: the customer's active endpoints, when the caller read them already)."""
    if active is None:
        active = _active_endpoints(customer_id)
    endpoints = [e for e in active if event_type in e.events]
    if not endpoints:
        return None
    event = WebhookEvent(customer_id=customer_id, type=event_type, payload={})
    event.payload = {"id": event.id, "type": event_type, "created_at": timezone.now().isoformat(), "data": data}
    event.save(force_insert=True)
    deliveries = WebhookDelivery.objects.bulk_create(WebhookDelivery(event=event, endpoint_id=e.pk) for e in endpoints)
    ids = [d.pk for d in deliveries]
    transaction.on_commit(lambda: [_enqueue(i) for i in ids])
    return event


def _enqueue(delivery_id: int, countdown: float | None = None) -> None:
    try:
        # A signature (not send_task) so that task_always_eager (tests) runs it inline.
        current_app.signature(DELIVER_TASK, args=(delivery_id,)).apply_async(countdown=countdown)
    except Exception:  # noqa: BLE001 - broker down: sweep_webhooks picks it up
        logger.warning("enqueue of webhook delivery %s failed; the sweep will retry it", delivery_id)


def message_payload(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "to": message.to,
        "channel": message.channel,
        "status": message.status,
        "verification_id": message.verification_id,
        "reference": message.reference,
        "error_code": message.error_code or None,
        "updated_at": message.updated_at.isoformat(),
    }


def message_event(message: Message) -> None:
    if message.status in (Message.Status.QUEUED, Message.Status.SENDING):
        return
    _emit(message.customer_id, "message.status", message_payload(message))


def messages_event(messages: list[Message]) -> None:
    """``message_event`` for many messages (a dispatch batch): one query for the endpoints."""
    messages = [m for m in messages if m.status not in (Message.Status.QUEUED, Message.Status.SENDING)]
    if not messages:
        return
    endpoints: dict[int, list[WebhookEndpoint]] = {}
    for endpoint in WebhookEndpoint.objects.filter(
        customer_id__in={m.customer_id for m in messages}, is_active=True, deleted_at__isnull=True
    ):
        endpoints.setdefault(endpoint.customer_id, []).append(endpoint)
    for message in messages:
        if message.customer_id in endpoints:
            _emit(message.customer_id, "message.status", message_payload(message), endpoints[message.customer_id])


def verification_event(verification: Verification) -> None:
    _emit(
        verification.customer_id,
        "verification.status",
        {
            "id": verification.id,
            "to": verification.to,
            "status": verification.status,
            "reference": verification.reference,
            "updated_at": timezone.now().isoformat(),
        },
    )


def test_event_send(*, customer: Customer, endpoint_id: str) -> WebhookDelivery:
    endpoint = WebhookEndpoint.objects.filter(customer=customer, pk=endpoint_id, deleted_at__isnull=True).first()
    if endpoint is None:
        raise ServiceError("not_found", _("No such webhook endpoint."))
    with transaction.atomic():
        event = WebhookEvent(customer=customer, type="test", payload={})
        event.payload = {"id": event.id, "type": "test", "created_at": timezone.now().isoformat(), "data": {}}
        event.save(force_insert=True)
        delivery = WebhookDelivery.objects.create(event=event, endpoint=endpoint)
        transaction.on_commit(lambda: _enqueue(delivery.pk))
    return delivery


def delivery_resend(*, customer: Customer, delivery_id: int) -> WebhookDelivery:
    """The dashboard's "send again": a fresh delivery of the same event."""
    original = (
        WebhookDelivery.objects.select_related("event", "endpoint")
        .filter(pk=delivery_id, endpoint__customer=customer)
        .first()
    )
    if original is None:
        raise ServiceError("not_found", _("No such webhook delivery."))
    if original.endpoint.deleted_at is not None or not original.endpoint.is_active:
        raise ServiceError("invalid_request", _("The endpoint is deleted or inactive; nothing is sent."))
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(event=original.event, endpoint=original.endpoint)
        transaction.on_commit(lambda: _enqueue(delivery.pk))
    return delivery


def _backoff(attempt: int) -> float:
    """30 s, 1 min, 2 min, … capped at 1 h, with ±20 % jitter."""
    base = min(3600.0, 30.0 * (2 ** (attempt - 1)))
    return base * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> WebhookDelivery | None:
    """POST one delivery (worker). Retries with backoff until WEBHOOK_RETRY_HOURS."""
    with transaction.atomic():
        delivery = (
            # Only this delivery's row (of=self): locking the joined endpoint too made every
            # other delivery to the same endpoint skip while one was being claimed (issue 14).
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("event", "endpoint")
            .filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
            .first()
        )
        if delivery is None:
            return None
        now = now or timezone.now()
        if delivery.next_attempt_at and delivery.next_attempt_at > now + timedelta(seconds=1):
            return delivery  # not due yet (an early duplicate task)
        if not delivery.endpoint.is_active or delivery.endpoint.deleted_at is not None:
            # Deleted or deactivated after the event was written (or by a process whose
            # cached endpoints were a few seconds old): nothing more is posted to it.
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.completed_at = now
            delivery.next_attempt_at = None
            delivery.last_error = ENDPOINT_GONE
            delivery.save(update_fields=["status", "completed_at", "next_attempt_at", "last_error"])
            return delivery
        delivery.attempts += 1
        number = delivery.attempts
        endpoint, event = delivery.endpoint, delivery.event
        delivery.next_attempt_at = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT + 60)  # claim
        delivery.save(update_fields=["attempts", "next_attempt_at"])
    body = json.dumps(event.payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "OTPPortal-Webhooks/1.0",
        SIGNATURE_HEADER: sign(endpoint.secret, body, int(time.time())),
        "X-OTP-Event-Id": event.id,
        "X-OTP-Event-Type": event.type,
    }
    started = time.monotonic()
    status_code: int | None = None
    error = ""
    try:
        # Review 8.7: the address is checked again now and the request pinned to it; no
        # redirect is followed and the answer's body is neither read nor stored, only its
        # status code (or a short fixed reason when there is none).
        status_code = netguard.post(
            endpoint.url,
            body=body,
            headers=headers,
            timeout=settings.WEBHOOK_TIMEOUT,
            allow_private=settings.WEBHOOK_ALLOW_PRIVATE_HOSTS,
        )
    except netguard.UnsafeUrl:
        error = "Refused: the URL's address is private, loopback or reserved, or the URL is not allowed"
    except netguard.RequestFailed as failure:
        error = failure.reason
    duration = int((time.monotonic() - started) * 1000)
    done_at = timezone.now()
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=number,
            status_code=status_code,
            error=error,
            duration_ms=duration,
            created_at=done_at,
        )
        delivery.last_status_code = status_code
        delivery.last_error = error or ("" if status_code and 200 <= status_code < 300 else f"HTTP {status_code}")
        if status_code is not None and 200 <= status_code < 300:
            delivery.status = WebhookDelivery.Status.SUCCEEDED
            delivery.completed_at = done_at
            delivery.next_attempt_at = None
        elif done_at - delivery.created_at >= timedelta(hours=settings.WEBHOOK_RETRY_HOURS):
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.completed_at = done_at
            delivery.next_attempt_at = None
        else:
            wait = _backoff(number)
            delivery.next_attempt_at = done_at + timedelta(seconds=wait)
            transaction.on_commit(lambda: _enqueue(delivery.pk, countdown=wait))
        delivery.save(update_fields=["status", "completed_at", "next_attempt_at", "last_status_code", "last_error"])
    return delivery


def deliveries_sweep(*, now: datetime | None = None) -> int:
    """Periodic: re-enqueue pending deliveries that are due (lost tasks)."""
    now = now or timezone.now()
    ids = list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
        .filter(next_attempt_at__lte=now - timedelta(seconds=30))
        .values_list("id", flat=True)[:500]
    ) + list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at__isnull=True,
            created_at__lte=now - timedelta(seconds=30),
        ).values_list("id", flat=True)[:500]
    )
    for delivery_id in ids:
        _enqueue(delivery_id)
    return len(ids)
