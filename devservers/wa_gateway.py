"""A local server speaking our WhatsApp gateway contract (see ``messaging.providers.wa_gateway``).

``WaGatewayDevServer`` answers ``POST /send`` (``Authorization: <token>``,
JSON ``{"target", "message", "device"?, "ref"?}``) with ``{"status": true,
"id": …}`` or ``{"status": false, "reason": …}``, and after
``callback_delay`` seconds POSTs signed status callbacks (``sent`` then
``delivered``/``read``/``failed``) to ``callback_url`` with
``X-Gateway-Signature``.

Scripting::

    server.fail_target("6281200000001", "not registered on whatsapp")   # business refusal (HTTP 200)
    server.fail_next(1, http_status=503)                                 # transport trouble
    server.fail_next(1, reason="device disconnected")                    # next send refused, HTTP 200
    server.delay_next(1.0)
    server.script_callbacks(final="failed", reason="not registered on whatsapp",
                            duplicate=True, out_of_order=True, bad_signature=True, target="62812…")
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from devservers._http import ReceivedRequest, Reply, ScriptedDevServer, digits
from messaging.providers.wa_gateway import sign

# Development credentials, never real ones.
DEV_TOKEN = "dev-wa-gateway-token"
DEV_CALLBACK_SECRET = "dev-wa-gateway-callback-secret"


@dataclass(slots=True)
class _Failure:
    http_status: int = 200
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    remaining: int | None = None  # None: for ever


@dataclass(frozen=True, slots=True)
class GatewayCallbackScript:
    final: str = "delivered"  # "delivered" | "read" | "failed" | "none"
    reason: str = "not registered on whatsapp"  # for final="failed"
    duplicate: bool = False
    out_of_order: bool = False
    bad_signature: bool = False


@dataclass(frozen=True, slots=True)
class GatewayMessage:
    id: str
    target: str
    message: str
    device: str
    ref: str


class WaGatewayDevServer(ScriptedDevServer[GatewayMessage, GatewayCallbackScript, _Failure]):
    """Our gateway contract's ``POST /send`` (one token, optionally one device),
    and status callbacks signed with ``X-Gateway-Signature``."""

    def __init__(
        self,
        *,
        token: str = DEV_TOKEN,
        device: str = "",
        callback_secret: str = DEV_CALLBACK_SECRET,
        callback_url: str | None = None,
        callback_delay: float = 0.05,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(callback_url=callback_url, callback_delay=callback_delay, host=host, port=port)
        self.token = token
        self.device = device  # when set, a request naming another device is refused
        self.callback_secret = callback_secret

    # scripting
    def fail_next(
        self, count: int, *, http_status: int = 200, reason: str = "", headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next ``count`` sends with ``{"status": false, "reason": …}`` at ``http_status``."""
        self._fail_next(_Failure(http_status, reason, headers or {}, count))

    def fail_target(self, target: str, reason: str, *, http_status: int = 200, times: int | None = None) -> None:
        self._fail_destination(target, _Failure(http_status, reason, remaining=times))

    def script_callbacks(
        self,
        *,
        target: str | None = None,
        final: str = "delivered",
        reason: str = "not registered on whatsapp",
        duplicate: bool = False,
        out_of_order: bool = False,
        bad_signature: bool = False,
    ) -> None:
        self._script(target, GatewayCallbackScript(final, reason, duplicate, out_of_order, bad_signature))

    # the API
    def _answer(self, request: ReceivedRequest) -> Reply:
        if request.header("Authorization") != self.token:
            return _refusal(401, "invalid token")
        if request.method != "POST" or request.path != "/send":
            return _refusal(404, "not found")
        data = request.json
        if not isinstance(data, dict):
            return _refusal(400, "invalid json")
        target = str(data.get("target", ""))
        failure = self._take_failure(digits(target))
        if failure is not None:
            return _refusal(failure.http_status, failure.reason or "server busy", failure.headers)
        if not re.fullmatch(r"\d{8,15}", target):
            return _refusal(200, "invalid target")
        text = data.get("message")
        if not isinstance(text, str) or not text:
            return _refusal(200, "message required")
        device = str(data.get("device") or self.device)
        if self.device and device != self.device:
            return _refusal(200, "device not found")
        message = GatewayMessage(secrets.token_hex(10), target, text, device, str(data.get("ref", "")))
        self._accept(target, message, GatewayCallbackScript())
        return Reply.json(200, {"status": True, "id": message.id, "target": target, "detail": "queued"})

    # callbacks
    def _callback_payload(
        self, message: GatewayMessage, script: GatewayCallbackScript, status: str, timestamp: int
    ) -> dict[str, Any]:
        return self.status_event(message.id, status, timestamp, script.reason if status == "failed" else None)

    def _signature_headers(self, body: bytes, bad_signature: bool) -> dict[str, str]:
        secret = self.callback_secret + "-wrong" if bad_signature else self.callback_secret
        return {"X-Gateway-Signature": sign(body, secret)}

    @staticmethod
    def status_event(gateway_id: str, status: str, timestamp: int, reason: str | None = None) -> dict[str, Any]:
        return {"id": gateway_id, "status": status, "reason": reason, "timestamp": timestamp}


def _refusal(status: int, reason: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply.json(status, {"status": False, "reason": reason}, headers=headers or {})
