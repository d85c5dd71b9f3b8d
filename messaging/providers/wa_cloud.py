"""WhatsApp Official: the WhatsApp Business Platform Cloud API (channel ``wa_official``).

Sending
    ``POST {base_url}/{api_version}/{phone_number_id}/messages`` with
    ``Authorization: Bearer <token>`` and the approved *authentication*
    template carrying the code twice: once as the body parameter and once as
    the parameter of the copy-code button (a URL button at index 0, R-CH-5).
    A 2xx answer ``{"messages": [{"id": "wamid…"}]}`` is ``ACCEPTED``; a Graph
    error ``{"error": {"code": …, "message": …, "error_data": {"details": …}}}``
    is mapped through ``ERROR_RULES`` (the one table of outcomes).

Delivery reports
    Meta POSTs status webhooks signed with ``X-Hub-Signature-256:
    sha256=<hex HMAC-SHA256 of the raw body keyed with the app secret>``.
    ``verify_signature`` checks the header, ``parse_callback`` turns
    ``entry[].changes[].value.statuses[]`` into ``DeliveryReport`` values.
    Inbound user messages (``value.messages``) are logged and ignored: the
    service is one-way (R-CH-2).

Auth errors (190, 0, 10, 200, HTTP 401/403) are ``PERMANENT``: an expired or
revoked token is an operator problem that no retry of this message will fix
within an OTP's lifetime, so the message falls back to another channel (and
the charge is reversed, R-PRE-4) while the provider logs at ERROR level for
the operator. Every rule with ``operator_alert=True`` logs that way.

Thread safety: one provider holds one pooled ``requests.Session``; share a
provider between threads of one process, never between forked processes
(build it after the fork, e.g. in the Celery worker).
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

PROVIDER_NAME = "wa_cloud"
SIGNATURE_HEADER = "X-Hub-Signature-256"
_SIGNATURE_PREFIX = "sha256="

# Locales missing here (including "id") use WaCloudConfig.template_language.
DEFAULT_LANGUAGE_MAP: Mapping[str, str] = MappingProxyType({"en": "en_US"})


@dataclass(frozen=True, slots=True)
class WaCloudConfig:
    token: str = field(default="", repr=False)
    phone_number_id: str = ""
    base_url: str = "https://graph.facebook.com"
    api_version: str = "v21.0"
    template_name: str = "otp_auth"
    template_language: str = "id"  # used when the message's locale is not in language_map
    # our locale ("id", "en") -> the template's language code in WhatsApp Manager
    language_map: Mapping[str, str] = field(default_factory=lambda: DEFAULT_LANGUAGE_MAP, hash=False)
    app_secret: str = field(default="", repr=False)  # signs the webhooks (X-Hub-Signature-256)
    verify_token: str = field(default="", repr=False)  # answers the hub.challenge handshake
    timeout: float = 10.0  # seconds, for connect and for read
    pool_size: int = 10

    @classmethod
    def from_settings(cls) -> WaCloudConfig:
        from django.conf import settings

        language_map = getattr(settings, "WA_CLOUD_LANGUAGE_MAP", None) or DEFAULT_LANGUAGE_MAP
        return cls(
            base_url=getattr(settings, "WA_CLOUD_BASE_URL", "https://graph.facebook.com"),
            api_version=getattr(settings, "WA_CLOUD_API_VERSION", "v21.0"),
            token=getattr(settings, "WA_CLOUD_TOKEN", ""),
            phone_number_id=getattr(settings, "WA_CLOUD_PHONE_NUMBER_ID", ""),
            template_name=getattr(settings, "WA_CLOUD_TEMPLATE_NAME", "otp_auth"),
            template_language=getattr(settings, "WA_CLOUD_TEMPLATE_LANGUAGE", "id"),
            language_map=MappingProxyType(dict(language_map)),
            app_secret=getattr(settings, "WA_CLOUD_APP_SECRET", ""),
            verify_token=getattr(settings, "WA_CLOUD_VERIFY_TOKEN", ""),
            timeout=float(getattr(settings, "WA_CLOUD_TIMEOUT", 10.0)),
        )

    @property
    def messages_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/{self.api_version}/{self.phone_number_id}/messages"

    def language_for(self, locale: str) -> str:
        """The template language code for our locale: "en" -> "en_US", unknown -> the default."""
        locale = (locale or "").strip()
        if locale in self.language_map:
            return self.language_map[locale]
        base = re.split(r"[-_]", locale, maxsplit=1)[0].lower()
        return self.language_map.get(base, self.template_language)


# --- The one table of Graph error codes -----------------------------------


@dataclass(frozen=True, slots=True)
class ErrorRule:
    outcome: Outcome
    meaning: str
    retry_after: float | None = None  # seconds; an HTTP Retry-After header wins
    operator_alert: bool = False  # our configuration or account is at fault: log at ERROR


_R, _P = Outcome.RETRY, Outcome.PERMANENT

ERROR_RULES: Mapping[int, ErrorRule] = MappingProxyType(
    {
        # Throttling: wait and send again.
        4: ErrorRule(_R, "application request limit reached", retry_after=60.0),
        80007: ErrorRule(_R, "WhatsApp Business Account rate limit", retry_after=60.0),
        130429: ErrorRule(_R, "Cloud API throughput reached", retry_after=1.0),
        131048: ErrorRule(_R, "spam rate limit hit", retry_after=60.0),
        131056: ErrorRule(_R, "pair rate limit: too many messages to this number", retry_after=6.0),
        # Meta side trouble: transient.
        1: ErrorRule(_R, "unknown API error (possibly temporary)"),
        2: ErrorRule(_R, "API service temporarily unavailable"),
        131000: ErrorRule(_R, "something went wrong"),
        131001: ErrorRule(_R, "something went wrong"),
        131002: ErrorRule(_R, "something went wrong"),
        131016: ErrorRule(_R, "service unavailable"),
        131057: ErrorRule(_R, "business account in maintenance mode", retry_after=60.0),
        # The recipient cannot get it: fall back to another channel.
        131021: ErrorRule(_P, "recipient cannot be the sender"),
        131026: ErrorRule(_P, "message undeliverable (not on WhatsApp, old client, or blocked)"),
        131047: ErrorRule(_P, "re-engagement message: outside the 24-hour window"),
        131051: ErrorRule(_P, "unsupported message type"),
        # Our request is wrong.
        100: ErrorRule(_P, "invalid parameter"),
        131008: ErrorRule(_P, "required parameter is missing"),
        131009: ErrorRule(_P, "parameter value is not valid"),
        # Configuration, template or account problems: operator alert.
        0: ErrorRule(_P, "authentication failed", operator_alert=True),
        3: ErrorRule(_P, "capability or permissions issue", operator_alert=True),
        10: ErrorRule(_P, "permission denied", operator_alert=True),
        190: ErrorRule(_P, "access token expired or invalid", operator_alert=True),
        200: ErrorRule(_P, "API permission missing", operator_alert=True),
        368: ErrorRule(_P, "temporarily blocked for policy violations", operator_alert=True),
        131005: ErrorRule(_P, "access denied", operator_alert=True),
        131030: ErrorRule(_P, "recipient not in the allowed list (test number)", operator_alert=True),
        131031: ErrorRule(_P, "business account locked", operator_alert=True),
        131042: ErrorRule(_P, "business eligibility or payment issue", operator_alert=True),
        132000: ErrorRule(_P, "template parameter count mismatch", operator_alert=True),
        132001: ErrorRule(_P, "template does not exist in this language", operator_alert=True),
        132005: ErrorRule(_P, "template hydrated text too long", operator_alert=True),
        132007: ErrorRule(_P, "template format character policy violated", operator_alert=True),
        132012: ErrorRule(_P, "template parameter format mismatch", operator_alert=True),
        132015: ErrorRule(_P, "template paused for low quality", operator_alert=True),
        132016: ErrorRule(_P, "template disabled", operator_alert=True),
        133010: ErrorRule(_P, "phone number not registered on Cloud API", operator_alert=True),
    }
)

# Failed status callbacks with these codes mean the *recipient* could not be
# reached (UNDELIVERED); any other code is a failure on the platform side (FAILED).
UNDELIVERED_CODES: frozenset[int] = frozenset({131021, 131026, 131047, 131049, 131050, 130472})

_AUTH_HTTP_STATUSES = frozenset({401, 403})


def rule_for(code: int | None, http_status: int, *, is_transient: bool = False) -> ErrorRule:
    """The rule for a Graph error code; unknown codes fall back on the HTTP status."""
    if code is not None and code in ERROR_RULES:
        return ERROR_RULES[code]
    if http_status == 429 or http_status >= 500 or is_transient:
        return ErrorRule(_R, f"HTTP {http_status}")
    if http_status in _AUTH_HTTP_STATUSES:
        return ErrorRule(_P, f"HTTP {http_status}: authentication", operator_alert=True)
    return ErrorRule(_P, f"HTTP {http_status}")


# --- Sending ----------------------------------------------------------------


def build_payload(message: OutboundMessage, config: WaCloudConfig) -> dict[str, Any]:
    """The Cloud API body for the authentication template with the copy-code button."""
    code = message.code
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": _digits(message.to),
        "type": "template",
        "template": {
            "name": config.template_name,
            "language": {"code": config.language_for(message.locale)},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": code}]},
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "0",
                    "parameters": [{"type": "text", "text": code}],
                },
            ],
        },
    }


class WaCloudProvider(JsonHttpProvider[WaCloudConfig]):
    name = PROVIDER_NAME
    config_type = WaCloudConfig
    required = MappingProxyType({"token": "WA_CLOUD_TOKEN", "phone_number_id": "WA_CLOUD_PHONE_NUMBER_ID"})

    def _send(self, message: OutboundMessage) -> ProviderResult:
        if not message.code:
            return ProviderResult(
                Outcome.PERMANENT, error_code="missing_code", error_message="no code for the template"
            )
        if not _digits(message.to):
            return ProviderResult(Outcome.PERMANENT, error_code="invalid_to", error_message="no digits in destination")
        response = self._post(
            message,
            self.config.messages_url,
            build_payload(message, self.config),
            {"Authorization": f"Bearer {self.config.token}", "Accept": "application/json"},
        )
        if isinstance(response, ProviderResult):
            return response
        return self._result(message, response)

    def _result(self, message: OutboundMessage, response: requests.Response) -> ProviderResult:
        data = json_object(response)
        if 200 <= response.status_code < 300:
            wamid = _first_message_id(data)
            if wamid:
                return ProviderResult(Outcome.ACCEPTED, provider_message_id=wamid)
            # Maybe sent, maybe not: same ambiguity as a read timeout, same answer.
            logger.warning("wa_cloud send %s: 2xx without messages[0].id", message.id)
            return ProviderResult(Outcome.RETRY, error_code="bad_response", error_message="2xx without a message id")

        error = data.get("error") if isinstance(data, dict) else None
        error = error if isinstance(error, dict) else {}
        code = _int_or_none(error.get("code"))
        rule = rule_for(code, response.status_code, is_transient=error.get("is_transient") is True)
        text = str(error.get("message") or rule.meaning)
        details = error.get("error_data", {}).get("details") if isinstance(error.get("error_data"), dict) else None
        if details:
            text = f"{text}: {details}"
        retry_after = retry_after_header(response) if rule.outcome is Outcome.RETRY else None
        if retry_after is None and rule.outcome is Outcome.RETRY:
            retry_after = rule.retry_after
        log = logger.error if rule.operator_alert else logger.info
        log(
            "wa_cloud send %s refused: HTTP %s code %s (%s) -> %s",
            message.id,
            response.status_code,
            code,
            rule.meaning,
            rule.outcome,
        )
        return ProviderResult(
            rule.outcome,
            error_code=str(code) if code is not None else f"http_{response.status_code}",
            error_message=text[:500],
            retry_after=retry_after,
            submitted=response.status_code not in NOT_TAKEN_HTTP_STATUSES,
        )


def _digits(number: str) -> str:
    return re.sub(r"\D", "", number or "")


def _first_message_id(data: dict[str, Any]) -> str:
    messages = data.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        wamid = messages[0].get("id")
        if isinstance(wamid, str):
            return wamid
    return ""


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


# --- Webhooks -----------------------------------------------------------------


def signature_header(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends for this body (used by the dev server and tests)."""
    return _SIGNATURE_PREFIX + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, app_secret: str) -> bool:
    """True when ``header`` is ``sha256=<hex HMAC-SHA256 of body>`` under ``app_secret``."""
    if not header or not app_secret:
        return False
    header = header.strip()
    if not header.startswith(_SIGNATURE_PREFIX):
        return False
    given = header[len(_SIGNATURE_PREFIX) :].lower()
    if not given.isascii():
        return False
    return hmac.compare_digest(signature_header(body, app_secret)[len(_SIGNATURE_PREFIX) :], given)


_STATES: Mapping[str, DeliveryState] = MappingProxyType(
    {
        "sent": DeliveryState.SENT,
        "delivered": DeliveryState.DELIVERED,
        "read": DeliveryState.DELIVERED,  # read implies delivered; Meta may skip "delivered"
        "failed": DeliveryState.FAILED,  # or UNDELIVERED, by error code
    }
)


def parse_callback(payload: Mapping[str, Any]) -> list[DeliveryReport]:
    """Delivery reports in a webhook body; malformed parts are logged and skipped, never raised."""
    if not isinstance(payload, Mapping):
        logger.warning("wa_cloud callback: payload is %s, not an object", type(payload).__name__)
        return []
    kind = payload.get("object")
    if kind is not None and kind != "whatsapp_business_account":
        logger.warning("wa_cloud callback: object %r ignored", kind)
        return []
    entries = payload.get("entry")
    if not isinstance(entries, list):
        logger.warning("wa_cloud callback: no entry list")
        return []
    reports: list[DeliveryReport] = []
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            logger.warning("wa_cloud callback: entry without a changes list skipped")
            continue
        for change in changes:
            reports.extend(_parse_change(change))
    return reports


def _parse_change(change: object) -> list[DeliveryReport]:
    if not isinstance(change, dict):
        logger.warning("wa_cloud callback: change is not an object, skipped")
        return []
    if change.get("field", "messages") != "messages":
        logger.info("wa_cloud callback: field %r ignored", change.get("field"))
        return []
    value = change.get("value")
    if not isinstance(value, dict):
        logger.warning("wa_cloud callback: change without a value object skipped")
        return []
    inbound = value.get("messages")
    if isinstance(inbound, list) and inbound:
        # R-CH-2: one-way service. Log ids and types only, never the content.
        for item in inbound:
            if isinstance(item, dict):
                logger.info("wa_cloud inbound message %s (%s) ignored (R-CH-2)", item.get("id"), item.get("type"))
    errors = value.get("errors")
    if isinstance(errors, list) and errors:
        logger.warning("wa_cloud callback: system errors %s", errors)
    statuses = value.get("statuses", [])
    if not isinstance(statuses, list):
        logger.warning("wa_cloud callback: statuses is not a list, skipped")
        return []
    return [report for report in map(_parse_status, statuses) if report is not None]


def _parse_status(status: object) -> DeliveryReport | None:
    if not isinstance(status, dict):
        logger.warning("wa_cloud callback: status is not an object, skipped")
        return None
    wamid = status.get("id")
    name = status.get("status")
    if not isinstance(wamid, str) or not wamid:
        logger.warning("wa_cloud callback: status without an id skipped")
        return None
    if not isinstance(name, str) or name not in _STATES:
        logger.warning("wa_cloud callback: status %r for %s skipped", name, wamid)
        return None
    state = _STATES[name]
    error_code = ""
    if name == "failed":
        code = _first_error_code(status)
        error_code = str(code) if code is not None else ""
        if code in UNDELIVERED_CODES:
            state = DeliveryState.UNDELIVERED
    return DeliveryReport(
        provider=PROVIDER_NAME,
        provider_message_id=wamid,
        state=state,
        occurred_at=_unix_time(status.get("timestamp"), wamid),
        error_code=error_code,
        raw=dict(status),
    )


def _first_error_code(status: dict[str, Any]) -> int | None:
    errors = status.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return _int_or_none(errors[0].get("code"))
    return None


_UNIX_SECONDS = re.compile(r"[0-9]{1,11}")


def _unix_time(value: object, wamid: str) -> datetime | None:
    """Meta documents ``timestamp`` as unix seconds in a string of digits; an int is taken too.

    Anything else leaves occurred_at empty (the service then uses the time it got the
    callback); a time more than a few minutes ahead is taken as now (Review 8.15).
    """
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _UNIX_SECONDS.fullmatch(text.strip()):
        logger.warning("wa_cloud callback: unreadable timestamp %r for %s", value, wamid)
        return None
    try:
        when = datetime.fromtimestamp(int(text.strip()), tz=UTC)
    except (OverflowError, OSError, ValueError):
        logger.warning("wa_cloud callback: out-of-range timestamp %r for %s", value, wamid)
        return None
    return plausible_report_time(when, source=PROVIDER_NAME)
