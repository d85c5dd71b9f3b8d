"""A local server speaking the WhatsApp Cloud API, for development and tests.

``WaCloudDevServer`` listens on 127.0.0.1 (port 0 picks a free port), checks
the Bearer token and the ``/{version}/{phone_number_id}/messages`` path,
validates the authentication-template body (name, language, the code in the
body and in the copy-code button), answers like the Graph API, and after
``callback_delay`` seconds POSTs signed status webhooks (``sent`` then
``delivered``, or ``failed``) in Meta's payload shape to ``callback_url``.

Scripting::

    server.fail_next(2, 130429, http_status=400)          # the next two sends
    server.fail_destination("6281200000001", 131026)      # one number, every time
    server.delay_next(1.0)                                # hold the next answer (client timeouts)
    server.script_callbacks(final="failed", error_code=131026, duplicate=True,
                            out_of_order=True, bad_signature=True, to="62812…")

The generic pieces (``DevServerBase``, ``CallbackSender``, ``CallbackReceiver``,
``ReceivedRequest``, ``ScriptedDevServer``) live in ``devservers._http``,
shared with the gateway dev server; they stay importable from here.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from devservers._http import (
    CallbackReceiver,
    CallbackSender,
    DevServerBase,
    ReceivedRequest,
    Reply,
    ScriptedDevServer,
    SentCallback,
    digits,
)
from messaging.providers.wa_cloud import signature_header

__all__ = [
    "DEV_APP_SECRET",
    "DEV_TOKEN",
    "AcceptedMessage",
    "CallbackReceiver",
    "CallbackScript",
    "CallbackSender",
    "DevServerBase",
    "ReceivedRequest",
    "Reply",
    "SentCallback",
    "WaCloudDevServer",
    "graph_error",
]


# --- The Cloud API ---------------------------------------------------------------

# Development credentials, never real ones (the dev server accepts only these unless told otherwise).
DEV_TOKEN = "dev-wa-cloud-token"
DEV_APP_SECRET = "dev-wa-cloud-app-secret"

_TITLES = {
    0: "AuthException",
    4: "Application request limit reached",
    100: "Invalid parameter",
    190: "Access token has expired",
    80007: "Rate limit issues",
    130429: "Rate limit hit",
    131000: "Something went wrong",
    131008: "Required parameter is missing",
    131009: "Parameter value is not valid",
    131026: "Message undeliverable",
    131030: "Recipient phone number not in allowed list",
    131047: "Re-engagement message",
    131048: "Spam rate limit hit",
    131051: "Unsupported message type",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    132000: "Number of parameters does not match the expected number of params",
    132001: "Template name does not exist in the translation",
}


def graph_error(code: int, message: str = "", *, is_transient: bool = False, details: str = "") -> dict[str, Any]:
    """A Graph API error body as the Cloud API sends it."""
    title = message or _TITLES.get(code, "Error")
    return {
        "error": {
            "message": f"(#{code}) {title}",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details or title},
            "is_transient": is_transient,
            "fbtrace_id": secrets.token_urlsafe(12),
        }
    }


@dataclass(slots=True)
class _Failure:
    code: int | None  # None: a bare HTTP error with a plain-text body
    http_status: int
    message: str = ""
    is_transient: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    remaining: int | None = None  # None: for ever


@dataclass(frozen=True, slots=True)
class CallbackScript:
    final: str = "delivered"  # "delivered" | "read" | "failed" | "none" (no callbacks)
    error_code: int = 131026  # for final="failed"
    duplicate: bool = False  # send every callback twice
    out_of_order: bool = False  # send them last-first
    bad_signature: bool = False  # sign with a wrong secret


@dataclass(frozen=True, slots=True)
class AcceptedMessage:
    wamid: str
    to: str
    code: str
    template: str
    language: str


class WaCloudDevServer(ScriptedDevServer[AcceptedMessage, CallbackScript, _Failure]):
    """The Cloud API's messages endpoint for one phone number id, and Meta's signed status webhooks."""

    def __init__(
        self,
        *,
        token: str = DEV_TOKEN,
        phone_number_id: str = "100000000000001",
        api_version: str = "v21.0",
        app_secret: str = DEV_APP_SECRET,
        templates: Iterable[tuple[str, str]] = (("otp_auth", "id"), ("otp_auth", "en_US")),
        callback_url: str | None = None,
        callback_delay: float = 0.05,
        waba_id: str = "200000000000002",
        display_phone_number: str = "6281100000000",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(callback_url=callback_url, callback_delay=callback_delay, host=host, port=port)
        self.token = token
        self.phone_number_id = phone_number_id
        self.api_version = api_version
        self.app_secret = app_secret
        self.templates = frozenset(templates)
        self.waba_id = waba_id
        self.display_phone_number = display_phone_number

    @property
    def messages_path(self) -> str:
        return f"/{self.api_version}/{self.phone_number_id}/messages"

    # scripting
    def fail_next(
        self,
        count: int,
        code: int | None,
        *,
        http_status: int = 400,
        message: str = "",
        is_transient: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``count`` sends with this Graph error (code None: bare HTTP error)."""
        self._fail_next(_Failure(code, http_status, message, is_transient, headers or {}, count))

    def fail_destination(
        self, to: str, code: int, *, http_status: int = 400, message: str = "", times: int | None = None
    ) -> None:
        """Answer sends to ``to`` with this Graph error, ``times`` times (None: every time)."""
        self._fail_destination(to, _Failure(code, http_status, message, remaining=times))

    def script_callbacks(
        self,
        *,
        to: str | None = None,
        final: str = "delivered",
        error_code: int = 131026,
        duplicate: bool = False,
        out_of_order: bool = False,
        bad_signature: bool = False,
    ) -> None:
        """How callbacks go for messages to ``to`` (None: every destination without its own script)."""
        self._script(to, CallbackScript(final, error_code, duplicate, out_of_order, bad_signature))

    # the API
    def _answer(self, request: ReceivedRequest) -> Reply:
        auth = request.header("Authorization") or ""
        if auth != f"Bearer {self.token}":
            return Reply.json(401, graph_error(190, "Invalid OAuth access token"))
        if request.method != "POST" or request.path != self.messages_path:
            return Reply.json(400, graph_error(100, f"Unsupported {request.method.lower()} request"))
        failure = self._take_failure(digits(request.json.get("to", "")) if isinstance(request.json, dict) else "")
        if failure is not None:
            return self._failure_reply(failure)
        problem = self._validate(request.json)
        if problem is not None:
            return Reply.json(400, graph_error(*problem))
        data = request.json
        to = data["to"]
        code = data["template"]["components"][0]["parameters"][0]["text"]
        wamid = "wamid." + base64.urlsafe_b64encode(secrets.token_bytes(27)).decode()
        accepted = AcceptedMessage(wamid, to, code, data["template"]["name"], data["template"]["language"]["code"])
        self._accept(to, accepted, CallbackScript())
        return Reply.json(
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": wamid, "message_status": "accepted"}],
            },
        )

    @staticmethod
    def _failure_reply(failure: _Failure) -> Reply:
        if failure.code is None:
            return Reply(failure.http_status, b"upstream trouble", "text/plain", dict(failure.headers))
        body = graph_error(failure.code, failure.message, is_transient=failure.is_transient)
        return Reply.json(failure.http_status, body, headers=dict(failure.headers))

    def _validate(self, data: Any) -> tuple[int, str] | None:
        """None when the body is a well-formed authentication template send, else (code, message)."""
        if not isinstance(data, dict):
            return 100, "Request body is not a JSON object"
        if data.get("messaging_product") != "whatsapp":
            return 100, "messaging_product must be whatsapp"
        if data.get("recipient_type", "individual") != "individual":
            return 100, "recipient_type must be individual"
        if not re.fullmatch(r"\d{8,15}", str(data.get("to", ""))):
            return 100, "to must be 8 to 15 digits"
        if data.get("type") != "template":
            return 131051, "Unsupported message type"
        template = data.get("template")
        if not isinstance(template, dict) or not isinstance(template.get("language"), dict):
            return 131008, "template.name and template.language.code are required"
        key = (template.get("name"), template["language"].get("code"))
        if key not in self.templates:
            return 132001, f"template {key[0]!r} does not exist in {key[1]!r}"
        components = template.get("components")
        if not isinstance(components, list) or len(components) != 2:
            return 132000, "expected a body and a button component"
        body, button = components
        body_code = _single_text(body, "body")
        if not body_code:
            return 131008, "body parameter (the code) is missing"
        if not isinstance(button, dict) or button.get("sub_type") != "url" or str(button.get("index")) != "0":
            return 131009, "copy-code button must be a url button at index 0"
        button_code = _single_text(button, "button")
        if not button_code:
            return 131008, "button parameter (the code) is missing"
        if button_code != body_code:
            return 131009, "button parameter must repeat the body code"
        if len(body_code) > 15:
            return 131009, "code longer than 15 characters"
        return None

    # callbacks
    def _callback_payload(
        self, message: AcceptedMessage, script: CallbackScript, status: str, timestamp: int
    ) -> dict[str, Any]:
        return self.status_payload(message.wamid, status, message.to, timestamp, script.error_code)

    def _signature_headers(self, body: bytes, bad_signature: bool) -> dict[str, str]:
        secret = self.app_secret + "-wrong" if bad_signature else self.app_secret
        return {"X-Hub-Signature-256": signature_header(body, secret)}

    def status_payload(
        self, wamid: str, status: str, recipient_id: str, timestamp: int, error_code: int = 131026
    ) -> dict[str, Any]:
        """One status webhook in Meta's shape (public so tests can build their own)."""
        item: dict[str, Any] = {
            "id": wamid,
            "status": status,
            "timestamp": str(timestamp),
            "recipient_id": recipient_id,
        }
        if status in ("sent", "delivered", "read"):
            item["conversation"] = {"id": secrets.token_hex(16), "origin": {"type": "authentication"}}
            item["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "authentication"}
        if status == "failed":
            title = _TITLES.get(error_code, "Error")
            item["errors"] = [{"code": error_code, "title": title, "message": title, "error_data": {"details": title}}]
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": self.waba_id,
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": self.display_phone_number,
                                    "phone_number_id": self.phone_number_id,
                                },
                                "statuses": [item],
                            },
                        }
                    ],
                }
            ],
        }


def _single_text(component: Any, kind: str) -> str:
    if not isinstance(component, dict) or component.get("type") != kind:
        return ""
    parameters = component.get("parameters")
    if not isinstance(parameters, list) or len(parameters) != 1 or not isinstance(parameters[0], dict):
        return ""
    parameter = parameters[0]
    text = parameter.get("text")
    return text if parameter.get("type") == "text" and isinstance(text, str) else ""
