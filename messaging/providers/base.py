"""The one small interface every provider implements (style.md #8).

A provider turns an ``OutboundMessage`` into a ``ProviderResult``. It never
touches the database: the dispatch service claims the message, builds the
``OutboundMessage``, calls ``send`` and records the result. Delivery reports
(SMPP ``deliver_sm``, WhatsApp status callbacks) are parsed by the provider
module into ``DeliveryReport`` values and handed to a callback
(``ReportCallback``) that whoever builds the provider injects: in production
``messaging.services.delivery_record`` (or ``receipt_record`` for a provider's
own thread). Providers never import ``messaging.services`` or
``messaging.tasks`` (imports go tasks → services → providers).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

logger = logging.getLogger(__name__)


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
    retry_after: float | None = None  # seconds, when the upstream says; the dispatcher waits at least this long
    # False when the upstream cannot have sent it: nothing reached it (no connection, a local
    # rate cap), or it answered that it did not take it (HTTP 429 or 503). Such an attempt made
    # no copy and does not count against DISPATCH_MAX_ATTEMPTS: only the code's expiry ends
    # the retries (Review 8.14; drill 6, a WhatsApp outage longer than six back-offs).
    submitted: bool = True


NOT_TAKEN_HTTP_STATUSES = frozenset({429, 503})  # the upstream says it did not take the request


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


# A provider calls it with each report. It may also offer ``many(reports)``, answering per
# report its outcome or the exception that kept it from being recorded: an SMPP bind then
# records the receipts waiting in its queue together (``smpp.receipts``, issue 11).
ReportCallback = Callable[[DeliveryReport], None]


class ReportDeferred(Exception):  # noqa: N818 - a signal, not an error: "the report was deferred"
    """Raised by a ``ReportCallback`` that cannot record a report now (the database is
    unreachable). A provider that can ask its upstream to send the report again does so
    (SMPP: ``deliver_sm_resp`` with ``ESME_RX_T_APPN``) instead of acknowledging it,
    so a receipt that arrives during an outage is not lost."""


class Provider(Protocol):
    name: str

    def send(self, message: OutboundMessage) -> ProviderResult: ...


# A report's clock may be wrong (a misconfigured SMSC zone, a gateway's drift): a time this far
# ahead of ours is not believed (Review 8.15).
REPORT_FUTURE_SLACK = timedelta(minutes=5)


def plausible_report_time(when: datetime, *, now: datetime | None = None, source: str = "") -> datetime:
    """``when`` as an upstream reported it, unless it lies more than REPORT_FUTURE_SLACK ahead:
    then now (logged). How it compares with the message's own times (never before it was sent)
    is the dispatch service's call: only it knows them."""
    now = now or datetime.now(tz=UTC)
    if when > now + REPORT_FUTURE_SLACK:
        logger.warning("%s report time %s is in the future: taken as now", source or "provider", when.isoformat())
        return now
    return when
