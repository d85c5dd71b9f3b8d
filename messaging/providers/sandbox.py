"""The sandbox provider: "sends" by storing the message for the customer to
read (GET /api/v1/sandbox/messages, the dashboard's sandbox page) and reports
it delivered after SANDBOX_DELIVERY_DELAY seconds. Test keys always use it;
it is the default provider of `make run`."""

from __future__ import annotations

import secrets
import threading

from django.conf import settings

from messaging.providers.base import OutboundMessage, Outcome, ProviderResult
from messaging.queueing import enqueue_sandbox_report


class SandboxProvider:
    name = "sandbox"

    def send(self, message: OutboundMessage) -> ProviderResult:
        from messaging.models import Message, SandboxMessage

        refused = settings.SANDBOX_FAIL_NUMBERS  # "+62812…" (every channel) or "sms:+62812…"
        if message.to in refused or f"{message.channel}:{message.to}" in refused:
            return ProviderResult(
                Outcome.PERMANENT,
                error_code="sandbox_refused",
                error_message="The sandbox refuses this number (SANDBOX_FAIL_NUMBERS).",
            )
        if settings.SANDBOX_SEND_DELAY > 0:  # simulate a slow upstream (drills, kill tests)
            threading.Event().wait(settings.SANDBOX_SEND_DELAY)
        customer_id = Message.objects.filter(pk=message.id).values_list("customer_id", flat=True).first()
        SandboxMessage.objects.update_or_create(
            message_id=message.id,
            defaults={
                "customer_id": customer_id,
                "to": message.to,
                "channel": message.channel,
                "sender_id": message.sender_id,
                "text": message.text,
            },
        )
        provider_id = f"sbx_{secrets.token_hex(8)}"
        enqueue_sandbox_report(provider_id, "delivered", countdown=settings.SANDBOX_DELIVERY_DELAY)
        return ProviderResult(Outcome.ACCEPTED, provider_message_id=provider_id)
