"""WhatsApp regular (channel ``wa``) through an HTTP WhatsApp gateway.

Indonesian businesses send "regular" WhatsApp from a gateway service that
drives a WhatsApp number (Fonnte, Wablas, Woowa and the like). Each has its
own dialect; this module defines *our adapter's contract* below, and a new
gateway is mapped here (or behind a proxy speaking this contract).

Wire format
-----------

Send::

    POST {base_url}/send
    Authorization: <token>                 (the bare token, no "Bearer")
    Content-Type: application/json

    {"target": "6281234567890",            international digits, no "+"
     "message": "<the clear text>",
     "device": "<device id>",              only when configured: which gateway number sends
     "ref": "msg_…"}                       our message id, for the gateway's own de-duplication

Answers (HTTP 200 for business answers, like the real gateways)::

    {"status": true, "id": "<gateway message id>"}     -> ACCEPTED
    {"status": false, "reason": "<reason>"}             -> REASON_RULES (unknown reason: PERMANENT)

    HTTP 429, 5xx, timeouts, connection errors          -> RETRY (429 honours Retry-After)
    HTTP 401/403                                        -> PERMANENT, logged at ERROR (operator problem)
    other HTTP 4xx                                      -> the reason's rule, else PERMANENT

PERMANENT makes the dispatcher fall back to another channel (SMS), which is
what an OTP needs when the gateway's number is disconnected or banned.

Status callback (the gateway calls us)::

    POST <our webhook URL>
    X-Gateway-Signature: <hex HMAC-SHA256 of the raw body, keyed with callback_secret>
    Content-Type: application/json

    {"id": "<gateway message id>",
     "status": "sent" | "delivered" | "read" | "failed",
     "reason": null | "<why it failed>",
     "timestamp": 1700000000}              unix seconds (int or numeric string; ISO 8601 with offset accepted)

A JSON array of such objects is accepted too (batched callbacks).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import requests

from messaging.providers.base import (
    NOT_TAKEN_HTTP_STATUSES,
    DeliveryReport,
    DeliveryState,
    OutboundMessage,
    Outcome,
    ProviderResult,
    plausible_report_time,
)
from messaging.providers.http import JsonHttpProvider, json_object, retry_after_header

logger = logging.getLogger(__name__)

PROVIDER_NAME = "wa_gateway"
SIGNATURE_HEADER = "X-Gateway-Signature"


@dataclass(frozen=True, slots=True)
class WaGatewayConfig:
    base_url: str = ""
    token: str = field(default="", repr=False)
    device_id: str = ""  # empty: the gateway's default device
    callback_secret: str = field(default="", repr=False)
    timeout: float = 10.0
    pool_size: int = 10

    @classmethod
    def from_settings(cls) -> WaGatewayConfig:
        from django.conf import settings

        return cls(
            base_url=getattr(settings, "WA_GATEWAY_BASE_URL", ""),
            token=getattr(settings, "WA_GATEWAY_TOKEN", ""),
            device_id=getattr(settings, "WA_GATEWAY_DEVICE", ""),
            callback_secret=getattr(settings, "WA_GATEWAY_CALLBACK_SECRET", ""),
            timeout=float(getattr(settings, "WA_GATEWAY_TIMEOUT", 10.0)),
        )

    @property
    def send_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/send"


@dataclass(frozen=True, slots=True)
class ReasonRule:
    outcome: Outcome
    retry_after: float | None = None
    operator_alert: bool = False  # our gateway account or device is at fault: log at ERROR


# The one table of gateway refusals, keyed by the normalised reason
# (lower case, single spaces). A reason not listed here is PERMANENT.
REASON_RULES: Mapping[str, ReasonRule] = MappingProxyType(
    {
        "device disconnected": ReasonRule(Outcome.PERMANENT, operator_alert=True),
        "device not found": ReasonRule(Outcome.PERMANENT, operator_alert=True),
        "number banned": ReasonRule(Outcome.PERMANENT, operator_alert=True),
        "invalid token": ReasonRule(Outcome.PERMANENT, operator_alert=True),
        "quota exceeded": ReasonRule(Outcome.PERMANENT, operator_alert=True),
        "invalid target": ReasonRule(Outcome.PERMANENT),
        "not registered on whatsapp": ReasonRule(Outcome.PERMANENT),
        "rate limited": ReasonRule(Outcome.RETRY, retry_after=5.0),
        "server busy": ReasonRule(Outcome.RETRY),
    }
)

# Failed callbacks with these reasons mean the recipient could not be reached.
UNDELIVERED_REASONS: frozenset[str] = frozenset(
    {"invalid target", "not registered on whatsapp", "blocked by recipient", "expired"}
)


def normalize_reason(reason: object) -> str:
    return " ".join(str(reason).split()).lower() if reason else ""


def reason_code(reason: str) -> str:
    """``"Device disconnected"`` -> ``"device_disconnected"``: our stable error_code for a reason."""
    return re.sub(r"[^a-z0-9]+", "_", normalize_reason(reason)).strip("_")


class WaGatewayProvider(JsonHttpProvider[WaGatewayConfig]):
    name = PROVIDER_NAME
    config_type = WaGatewayConfig
    required = MappingProxyType({"base_url": "WA_GATEWAY_BASE_URL", "token": "WA_GATEWAY_TOKEN"})

    def _send(self, message: OutboundMessage) -> ProviderResult:
        target = re.sub(r"\D", "", message.to or "")
        if not target:
            return ProviderResult(Outcome.PERMANENT, error_code="invalid_to", error_message="no digits in destination")
        body: dict[str, Any] = {"target": target, "message": message.text, "ref": message.id}
        if self.config.device_id:
            body["device"] = self.config.device_id
        response = self._post(
            message, self.config.send_url, body, {"Authorization": self.config.token, "Accept": "application/json"}
        )
        if isinstance(response, ProviderResult):
            return response
        return self._result(message, response)

    def _result(self, message: OutboundMessage, response: requests.Response) -> ProviderResult:
        data = json_object(response)
        status = response.status_code
        reason = str(data.get("reason") or data.get("message") or "")

        if 200 <= status < 300 and data.get("status") is True:
            gateway_id = data.get("id")
            if isinstance(gateway_id, str | int) and not isinstance(gateway_id, bool) and str(gateway_id):
                return ProviderResult(Outcome.ACCEPTED, provider_message_id=str(gateway_id))
            logger.warning("wa_gateway send %s: status true without an id", message.id)
            return ProviderResult(Outcome.RETRY, error_code="bad_response", error_message="accepted without an id")

        if status == 429 or status >= 500:
            rule = ReasonRule(Outcome.RETRY, retry_after=5.0 if status == 429 else None)
            code = f"http_{status}"
        elif status in (401, 403):
            rule = ReasonRule(Outcome.PERMANENT, operator_alert=True)
            code = f"http_{status}"
        elif 200 <= status < 300 and data.get("status") is not False:
            # 2xx that is neither true nor false: maybe sent, maybe not.
            logger.warning("wa_gateway send %s: unreadable 2xx answer", message.id)
            return ProviderResult(Outcome.RETRY, error_code="bad_response", error_message="unreadable answer")
        else:
            rule = REASON_RULES.get(normalize_reason(reason), ReasonRule(Outcome.PERMANENT))
            code = reason_code(reason) or f"http_{status}"

        retry_after = None
        if rule.outcome is Outcome.RETRY:
            retry_after = retry_after_header(response)
            if retry_after is None:
                retry_after = rule.retry_after
        log = logger.error if rule.operator_alert else logger.info
        log("wa_gateway send %s refused: HTTP %s reason %r -> %s", message.id, status, reason, rule.outcome)
        return ProviderResult(
            rule.outcome,
            error_code=code,
            error_message=reason[:500],
            retry_after=retry_after,
            submitted=status not in NOT_TAKEN_HTTP_STATUSES,
        )


# --- Callbacks ----------------------------------------------------------------


def sign(body: bytes, callback_secret: str) -> str:
    """The ``X-Gateway-Signature`` value for this body."""
    return hmac.new(callback_secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, callback_secret: str) -> bool:
    """True when ``header`` is the hex HMAC-SHA256 of ``body`` under ``callback_secret``."""
    if not header or not callback_secret:
        return False
    given = header.strip().lower()
    if not given.isascii():
        return False
    return hmac.compare_digest(sign(body, callback_secret), given)


_STATES: Mapping[str, DeliveryState] = MappingProxyType(
    {
        "sent": DeliveryState.SENT,
        "delivered": DeliveryState.DELIVERED,
        "read": DeliveryState.DELIVERED,
        "failed": DeliveryState.FAILED,
    }
)


def parse_callback(payload: Mapping[str, Any] | list[Any]) -> list[DeliveryReport]:
    """Delivery reports in a callback body (one object or an array); malformed ones are logged and skipped."""
    items = payload if isinstance(payload, list) else [payload]
    return [report for report in map(_parse_event, items) if report is not None]


def _parse_event(event: object) -> DeliveryReport | None:
    if not isinstance(event, Mapping):
        logger.warning("wa_gateway callback: event is %s, not an object; skipped", type(event).__name__)
        return None
    gateway_id = event.get("id")
    if isinstance(gateway_id, int) and not isinstance(gateway_id, bool):
        gateway_id = str(gateway_id)
    if not isinstance(gateway_id, str) or not gateway_id:
        logger.warning("wa_gateway callback: event without an id skipped")
        return None
    name = normalize_reason(event.get("status"))
    if name not in _STATES:
        logger.warning("wa_gateway callback: status %r for %s skipped", event.get("status"), gateway_id)
        return None
    state = _STATES[name]
    error_code = ""
    if name == "failed":
        reason = normalize_reason(event.get("reason"))
        error_code = reason_code(reason) or "failed"
        if reason in UNDELIVERED_REASONS:
            state = DeliveryState.UNDELIVERED
    return DeliveryReport(
        provider=PROVIDER_NAME,
        provider_message_id=gateway_id,
        state=state,
        occurred_at=_parse_time(event.get("timestamp"), gateway_id),
        error_code=error_code,
        raw=dict(event),
    )


def _parse_time(value: object, gateway_id: str) -> datetime | None:
    """The contract's ``timestamp``: unix seconds (an int or a numeric string) or ISO 8601 with
    an offset. Anything else leaves occurred_at empty; a time more than a few minutes ahead is
    taken as now (Review 8.15)."""
    if isinstance(value, bool) or value is None or value == "":
        logger.warning("wa_gateway callback: no timestamp for %s", gateway_id)
        return None
    when: datetime | None = None
    try:
        if isinstance(value, int | float):
            when = datetime.fromtimestamp(value, tz=UTC)
        elif isinstance(value, str):
            text = value.strip()
            if re.fullmatch(r"\d+(\.\d+)?", text):
                when = datetime.fromtimestamp(float(text), tz=UTC)
            else:
                parsed = datetime.fromisoformat(text)
                if parsed.tzinfo is not None:
                    when = parsed.astimezone(UTC)
    except (OverflowError, OSError, ValueError):
        when = None
    if when is None:
        logger.warning("wa_gateway callback: unreadable timestamp %r for %s", value, gateway_id)
        return None
    return plausible_report_time(when, source=PROVIDER_NAME)
