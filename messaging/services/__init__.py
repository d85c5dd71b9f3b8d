"""Messaging's write use cases (architecture flows 1–4)."""

from messaging.services.binds import bind_heartbeat
from messaging.services.checking import verification_cancel, verification_check, verifications_expire
from messaging.services.delivery import delivery_record, receipt_record
from messaging.services.dispatch import message_dispatch, messages_drain
from messaging.services.events import (
    deliveries_sweep,
    delivery_attempt,
    delivery_resend,
    endpoint_create,
    endpoint_deactivate,
    endpoint_delete,
    test_event_send,
)
from messaging.services.lifecycle import transition
from messaging.services.outbox import outbox_sweep
from messaging.services.sending import fallback_send, message_send, verification_resend, verification_start
from messaging.services.templates import template_delete, template_set

__all__ = [
    "bind_heartbeat",
    "deliveries_sweep",
    "delivery_attempt",
    "delivery_record",
    "delivery_resend",
    "endpoint_create",
    "endpoint_deactivate",
    "endpoint_delete",
    "fallback_send",
    "message_dispatch",
    "message_send",
    "messages_drain",
    "outbox_sweep",
    "receipt_record",
    "template_delete",
    "template_set",
    "test_event_send",
    "transition",
    "verification_cancel",
    "verification_check",
    "verification_resend",
    "verification_start",
    "verifications_expire",
]
