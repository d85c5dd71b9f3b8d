"""The one small interface every provider implements (style.md #8).

A provider turns an ``OutboundMessage`` into a ``ProviderResult``. It never
touches the database: the dispatch service claims the message, builds the
``OutboundMessage``, calls ``send`` and records the result. Delivery reports
(SMPP ``deliver_sm``, WhatsApp status callbacks) are parsed by the provider
module into ``DeliveryReport`` values and handed to a callback, which in
production is ``messaging.services.delivery_record``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


class Outcome(enum.StrEnum):
    ACCEPTED = "accepted"  # the upstream took the message; a report will follow
    RETRY = "retry"  # transient: try again later (throttled, connection lost, 5xx)
    PERMANENT = "permanent"  # refused for good: reverse the charge (R-PRE-4), maybe fall back


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    id: str  # our public message id, "msg_…"
    to: str  # E.164, "+62812…"
    channel: str  # "sms" | "wa" | "wa_official"  (R-CH-1)
    text: str  # the clear text to deliver
    operator: str = ""  # "telkomsel", "xl", "indosat", "three", "smartfren" (R-OP-1)
    sender_id: str = ""  # alphanumeric sender for SMS (R-CH-4)
    encoding: str = "gsm7"  # "gsm7" | "ucs2" (R-SEG-3); WhatsApp ignores it
    code: str = ""  # the code alone, for WhatsApp Official templates (R-CH-5)
    locale: str = "id"


@dataclass(frozen=True, slots=True)
class ProviderResult:
    outcome: Outcome
    provider_message_id: str = ""  # the id the upstream gave (first part for multi-part SMS)
    part_ids: tuple[str, ...] = ()  # every part's id, for multi-part SMS
    error_code: str = ""  # upstream's own code, e.g. "0x00000058" or "131026"
    error_message: str = ""
    retry_after: float | None = None  # seconds, when the upstream says


class DeliveryState(enum.StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    provider: str  # "smpp", "wa_cloud", "wa_gateway", "sandbox"
    provider_message_id: str
    state: DeliveryState
    occurred_at: datetime | None = None
    error_code: str = ""
    raw: dict[str, object] = field(default_factory=dict)


ReportCallback = Callable[[DeliveryReport], None]


class Provider(Protocol):
    name: str

    def send(self, message: OutboundMessage) -> ProviderResult: ...
