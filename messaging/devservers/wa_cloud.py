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
``ReceivedRequest``) are shared with the gateway dev server.
"""

from __future__ import annotations

import base64
import heapq
import itertools
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit

import requests

from messaging.providers.wa_cloud import signature_header

logger = logging.getLogger(__name__)


# --- Generic plumbing ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    json: Any  # the parsed body, or None when it is not JSON
    client_port: int  # the client's source port: equal ports mean a reused (pooled) connection

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # hold the answer this long (released at once by stop())

    @classmethod
    def json(cls, status: int, data: object, **kwargs: Any) -> Reply:
        return cls(status, json.dumps(data).encode(), **kwargs)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients can pool connections
    timeout = 5  # idle keep-alive connections are dropped after this many seconds
    server: _BoundServer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = None
        parts = urlsplit(self.path)
        request = ReceivedRequest(
            method=self.command,
            path=parts.path,
            query=parts.query,
            headers=dict(self.headers.items()),
            body=body,
            json=parsed,
            client_port=self.client_address[1],
        )
        try:
            reply = owner.handle(request)
        except Exception:  # a dev server bug must not hang the client
            logger.exception("%s: handler failed", type(owner).__name__)
            reply = Reply.json(500, {"error": "dev server handler failed"})
        owner._record(request)
        if reply.delay > 0:
            owner._stopping.wait(reply.delay)
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:  # the client gave up (timeout) before the answer
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        logger.debug("%s %s", self.address_string(), format % args)


class _BoundServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: DevServerBase


class DevServerBase:
    """A ThreadingHTTPServer in a background thread that records every request."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._address = (host, port)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._received: list[ReceivedRequest] = []
        self._stopping = threading.Event()
        self._httpd: _BoundServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> Self:
        httpd = _BoundServer(self._address, _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._stopping.clear()
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # what arrived
    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._received)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self._received) >= count, timeout)

    def _record(self, request: ReceivedRequest) -> None:
        with self._changed:
            self._received.append(request)
            self._changed.notify_all()

    def handle(self, request: ReceivedRequest) -> Reply:
        """Subclasses answer requests; the base answers 501."""
        return Reply(501, b"not implemented", content_type="text/plain")


@dataclass(frozen=True, slots=True)
class SentCallback:
    url: str
    body: bytes
    headers: dict[str, str]
    status: int | None  # the receiver's HTTP status; None when it could not be reached
    error: str = ""

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class CallbackSender:
    """Posts callbacks from one background thread, each no earlier than its due time, in schedule order."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, str, bytes, dict[str, str]]] = []
        self._seq = itertools.count()
        self._sent: list[SentCallback] = []
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._session = requests.Session()

    def start(self) -> None:
        with self._cond:
            self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"{self._name}-callbacks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None
        self._session.close()

    def schedule(self, delay: float, url: str, body: bytes, headers: dict[str, str]) -> None:
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), url, body, headers))
            self._cond.notify_all()

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._heap)

    @property
    def sent(self) -> list[SentCallback]:
        with self._cond:
            return list(self._sent)

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self._sent) >= count, timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    if not self._heap:
                        self._cond.wait()
                        continue
                    remaining = self._heap[0][0] - time.monotonic()
                    if remaining <= 0:
                        _, _, url, body, headers = heapq.heappop(self._heap)
                        break
                    self._cond.wait(remaining)
            result = self._post(url, body, headers)
            with self._cond:
                self._sent.append(result)
                self._cond.notify_all()

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> SentCallback:
        try:
            response = self._session.post(url, data=body, headers=headers, timeout=5)
        except requests.RequestException as exc:
            logger.info("%s: callback to %s failed: %s", self._name, url, exc)
            return SentCallback(url, body, headers, None, type(exc).__name__)
        return SentCallback(url, body, headers, response.status_code)


class CallbackReceiver(DevServerBase):
    """A tiny webhook receiver: records every request and answers ``status`` (200 by default)."""

    def __init__(self, *, status: int = 200, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port)
        self.status = status

    @property
    def url(self) -> str:
        return f"{self.base_url}/callback"

    def handle(self, request: ReceivedRequest) -> Reply:
        return Reply(self.status, b"ok", content_type="text/plain")


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


class WaCloudDevServer(DevServerBase):
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
        super().__init__(host=host, port=port)
        self.token = token
        self.phone_number_id = phone_number_id
        self.api_version = api_version
        self.app_secret = app_secret
        self.templates = frozenset(templates)
        self.callback_url = callback_url
        self.callback_delay = callback_delay
        self.waba_id = waba_id
        self.display_phone_number = display_phone_number
        self._next_failures: list[_Failure] = []
        self._destination_failures: dict[str, _Failure] = {}
        self._delays: list[float] = []
        self._scripts: dict[str | None, CallbackScript] = {}
        self._accepted: list[AcceptedMessage] = []
        self._callbacks = CallbackSender(type(self).__name__)

    def start(self) -> Self:
        self._callbacks.start()
        return super().start()

    def stop(self) -> None:
        super().stop()
        self._callbacks.stop()

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
        with self._lock:
            self._next_failures.append(_Failure(code, http_status, message, is_transient, headers or {}, count))

    def fail_destination(
        self, to: str, code: int, *, http_status: int = 400, message: str = "", times: int | None = None
    ) -> None:
        """Answer sends to ``to`` with this Graph error, ``times`` times (None: every time)."""
        with self._lock:
            self._destination_failures[_digits(to)] = _Failure(code, http_status, message, remaining=times)

    def delay_next(self, seconds: float, count: int = 1) -> None:
        with self._lock:
            self._delays.extend([seconds] * count)

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
        with self._lock:
            self._scripts[_digits(to) if to else None] = CallbackScript(
                final, error_code, duplicate, out_of_order, bad_signature
            )

    # observation
    @property
    def accepted(self) -> list[AcceptedMessage]:
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
        delay = self._take_delay()
        reply = self._answer(request)
        return Reply(reply.status, reply.body, reply.content_type, reply.headers, delay)

    def _answer(self, request: ReceivedRequest) -> Reply:
        auth = request.header("Authorization") or ""
        if auth != f"Bearer {self.token}":
            return Reply.json(401, graph_error(190, "Invalid OAuth access token"))
        if request.method != "POST" or request.path != self.messages_path:
            return Reply.json(400, graph_error(100, f"Unsupported {request.method.lower()} request"))
        failure = self._take_failure(request)
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
        with self._lock:
            self._accepted.append(accepted)
            script = self._scripts.get(to) or self._scripts.get(None) or CallbackScript()
        self._schedule_callbacks(accepted, script)
        return Reply.json(
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": wamid, "message_status": "accepted"}],
            },
        )

    def _take_delay(self) -> float:
        with self._lock:
            return self._delays.pop(0) if self._delays else 0.0

    def _take_failure(self, request: ReceivedRequest) -> _Failure | None:
        to = _digits(request.json.get("to", "")) if isinstance(request.json, dict) else ""
        with self._lock:
            for failure in (self._destination_failures.get(to), *self._next_failures):
                if failure is None:
                    continue
                if failure.remaining is not None:
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._drop(failure, to)
                return failure
        return None

    def _drop(self, failure: _Failure, to: str) -> None:
        if self._destination_failures.get(to) is failure:
            del self._destination_failures[to]
        elif failure in self._next_failures:
            self._next_failures.remove(failure)

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
    def _schedule_callbacks(self, message: AcceptedMessage, script: CallbackScript) -> None:
        if self.callback_url is None or script.final == "none":
            return
        names = {
            "delivered": ["sent", "delivered"],
            "read": ["sent", "delivered", "read"],
            "failed": ["sent", "failed"],
        }
        statuses = names.get(script.final, ["sent", "delivered"])
        now = int(time.time())
        payloads = [
            self.status_payload(message.wamid, name, message.to, now + i, script.error_code)
            for i, name in enumerate(statuses)
        ]
        if script.out_of_order:
            payloads.reverse()
        if script.duplicate:
            payloads = [p for p in payloads for _ in range(2)]
        for payload in payloads:
            body = json.dumps(payload).encode()
            secret = self.app_secret + "-wrong" if script.bad_signature else self.app_secret
            headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature_header(body, secret)}
            self._callbacks.schedule(self.callback_delay, self.callback_url, body, headers)

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


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value or "")


def _single_text(component: Any, kind: str) -> str:
    if not isinstance(component, dict) or component.get("type") != kind:
        return ""
    parameters = component.get("parameters")
    if not isinstance(parameters, list) or len(parameters) != 1 or not isinstance(parameters[0], dict):
        return ""
    parameter = parameters[0]
    text = parameter.get("text")
    return text if parameter.get("type") == "text" and isinstance(text, str) else ""
