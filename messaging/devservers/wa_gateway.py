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

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Self

from messaging.devservers.wa_cloud import (
    CallbackSender,
    DevServerBase,
    ReceivedRequest,
    Reply,
    SentCallback,
)
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


class WaGatewayDevServer(DevServerBase):
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
        super().__init__(host=host, port=port)
        self.token = token
        self.device = device  # when set, a request naming another device is refused
        self.callback_secret = callback_secret
        self.callback_url = callback_url
        self.callback_delay = callback_delay
        self._next_failures: list[_Failure] = []
        self._target_failures: dict[str, _Failure] = {}
        self._delays: list[float] = []
        self._scripts: dict[str | None, GatewayCallbackScript] = {}
        self._accepted: list[GatewayMessage] = []
        self._callbacks = CallbackSender(type(self).__name__)

    def start(self) -> Self:
        self._callbacks.start()
        return super().start()

    def stop(self) -> None:
        super().stop()
        self._callbacks.stop()

    # scripting
    def fail_next(
        self, count: int, *, http_status: int = 200, reason: str = "", headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next ``count`` sends with ``{"status": false, "reason": …}`` at ``http_status``."""
        with self._lock:
            self._next_failures.append(_Failure(http_status, reason, headers or {}, count))

    def fail_target(self, target: str, reason: str, *, http_status: int = 200, times: int | None = None) -> None:
        with self._lock:
            self._target_failures[_digits(target)] = _Failure(http_status, reason, remaining=times)

    def delay_next(self, seconds: float, count: int = 1) -> None:
        with self._lock:
            self._delays.extend([seconds] * count)

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
        with self._lock:
            self._scripts[_digits(target) if target else None] = GatewayCallbackScript(
                final, reason, duplicate, out_of_order, bad_signature
            )

    # observation
    @property
    def accepted(self) -> list[GatewayMessage]:
        with self._lock:
            return list(self._accepted)

    @property
    def callbacks(self) -> list[SentCallback]:
        return self._callbacks.sent

    @property
    def pending_callbacks(self) -> int:
        return self._callbacks.pending

    def wait_for_callbacks(self, count: int, timeout: float = 5.0) -> bool:
        return self._callbacks.wait_for(count, timeout)

    # the API
    def handle(self, request: ReceivedRequest) -> Reply:
        with self._lock:
            delay = self._delays.pop(0) if self._delays else 0.0
        reply = self._answer(request)
        return Reply(reply.status, reply.body, reply.content_type, reply.headers, delay)

    def _answer(self, request: ReceivedRequest) -> Reply:
        if request.header("Authorization") != self.token:
            return _refusal(401, "invalid token")
        if request.method != "POST" or request.path != "/send":
            return _refusal(404, "not found")
        data = request.json
        if not isinstance(data, dict):
            return _refusal(400, "invalid json")
        target = str(data.get("target", ""))
        failure = self._take_failure(_digits(target))
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
        with self._lock:
            self._accepted.append(message)
            script = self._scripts.get(target) or self._scripts.get(None) or GatewayCallbackScript()
        self._schedule_callbacks(message, script)
        return Reply.json(200, {"status": True, "id": message.id, "target": target, "detail": "queued"})

    def _take_failure(self, target: str) -> _Failure | None:
        with self._lock:
            for failure in (self._target_failures.get(target), *self._next_failures):
                if failure is None:
                    continue
                if failure.remaining is not None:
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        if self._target_failures.get(target) is failure:
                            del self._target_failures[target]
                        else:
                            self._next_failures.remove(failure)
                return failure
        return None

    # callbacks
    def _schedule_callbacks(self, message: GatewayMessage, script: GatewayCallbackScript) -> None:
        if self.callback_url is None or script.final == "none":
            return
        names = {
            "delivered": ["sent", "delivered"],
            "read": ["sent", "delivered", "read"],
            "failed": ["sent", "failed"],
        }
        now = int(time.time())
        events = [
            self.status_event(message.id, name, now + i, script.reason if name == "failed" else None)
            for i, name in enumerate(names.get(script.final, ["sent", "delivered"]))
        ]
        if script.out_of_order:
            events.reverse()
        if script.duplicate:
            events = [e for e in events for _ in range(2)]
        for event in events:
            body = json.dumps(event).encode()
            secret = self.callback_secret + "-wrong" if script.bad_signature else self.callback_secret
            headers = {"Content-Type": "application/json", "X-Gateway-Signature": sign(body, secret)}
            self._callbacks.schedule(self.callback_delay, self.callback_url, body, headers)

    @staticmethod
    def status_event(gateway_id: str, status: str, timestamp: int, reason: str | None = None) -> dict[str, Any]:
        return {"id": gateway_id, "status": status, "reason": reason, "timestamp": timestamp}


def _refusal(status: int, reason: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply.json(status, {"status": False, "reason": reason}, headers=headers or {})


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value or "")
