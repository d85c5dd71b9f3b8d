"""The HTTP plumbing shared by the local WhatsApp test servers.

``DevServerBase`` is a ``ThreadingHTTPServer`` in a background thread that
records every request (``ReceivedRequest``) and answers what ``handle``
returns (``Reply``). ``CallbackSender`` posts status callbacks from a thread of
its own; ``CallbackReceiver`` is a tiny webhook receiver for tests.

``ScriptedDevServer`` adds what the Cloud API and gateway dev servers script
the same way: failures for the next sends or for one destination, held
answers, and status callbacks (in order or not, duplicated or not, well or
badly signed). A subclass answers the API (``_answer``) and shapes its
callbacks (``_callback_payload``, ``_signature_headers``).
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import re
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Protocol, Self, TypeVar
from urllib.parse import urlsplit

import requests

logger = logging.getLogger(__name__)


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

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that drops its keep-alive connection is routine, not a traceback on stderr."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            logger.debug("%s: client %s went away", type(self.owner).__name__, client_address)
            return
        super().handle_error(request, client_address)


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


# --- Scripting shared by the WhatsApp dev servers ------------------------------------


class CountedFailure(Protocol):
    """A scripted failure: ``remaining`` more times, or for ever when None."""

    remaining: int | None


class StatusScript(Protocol):
    """How the status callbacks of one accepted message go."""

    @property
    def final(self) -> str: ...  # "delivered" | "read" | "failed" | "none" (no callbacks)

    @property
    def duplicate(self) -> bool: ...  # send every callback twice

    @property
    def out_of_order(self) -> bool: ...  # send them last-first

    @property
    def bad_signature(self) -> bool: ...  # sign with a wrong secret


# The statuses each scripted final state sends, in order.
STATUS_SEQUENCES: Mapping[str, Sequence[str]] = {
    "delivered": ("sent", "delivered"),
    "read": ("sent", "delivered", "read"),
    "failed": ("sent", "failed"),
}
_DEFAULT_SEQUENCE = STATUS_SEQUENCES["delivered"]

MessageT = TypeVar("MessageT")
ScriptT = TypeVar("ScriptT", bound=StatusScript)
FailureT = TypeVar("FailureT", bound=CountedFailure)


class ScriptedDevServer(DevServerBase, ABC, Generic[MessageT, ScriptT, FailureT]):
    """A dev server whose sends can be scripted to fail or stall, and which posts status callbacks."""

    def __init__(
        self, *, callback_url: str | None, callback_delay: float, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        super().__init__(host=host, port=port)
        self.callback_url = callback_url
        self.callback_delay = callback_delay
        self._next_failures: list[FailureT] = []
        self._destination_failures: dict[str, FailureT] = {}
        self._delays: list[float] = []
        self._scripts: dict[str | None, ScriptT] = {}
        self._accepted: list[MessageT] = []
        self._callbacks = CallbackSender(type(self).__name__)

    def start(self) -> Self:
        self._callbacks.start()
        return super().start()

    def stop(self) -> None:
        super().stop()
        self._callbacks.stop()

    # scripting
    def delay_next(self, seconds: float, count: int = 1) -> None:
        with self._lock:
            self._delays.extend([seconds] * count)

    def _fail_next(self, failure: FailureT) -> None:
        with self._lock:
            self._next_failures.append(failure)

    def clear_failures(self) -> None:
        """Stop every scripted failure (``fail_next``, per destination): answer normally again."""
        with self._lock:
            self._next_failures.clear()
            self._destination_failures.clear()

    def _fail_destination(self, destination: str, failure: FailureT) -> None:
        with self._lock:
            self._destination_failures[digits(destination)] = failure

    def _script(self, destination: str | None, script: ScriptT) -> None:
        """Callbacks for messages to ``destination`` (None: every destination without its own script)."""
        with self._lock:
            self._scripts[digits(destination) if destination else None] = script

    # observation
    @property
    def accepted(self) -> list[MessageT]:
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
        """Subclasses answer the API; the base answers 501."""
        return super().handle(request)

    def _take_failure(self, destination: str) -> FailureT | None:
        """The failure scripted for this send (the destination's first), counted down."""
        with self._lock:
            for failure in (self._destination_failures.get(destination), *self._next_failures):
                if failure is None:
                    continue
                if failure.remaining is not None:
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        if self._destination_failures.get(destination) is failure:
                            del self._destination_failures[destination]
                        else:
                            self._next_failures.remove(failure)
                return failure
        return None

    def _accept(self, destination: str, message: MessageT, default_script: ScriptT) -> None:
        """Record an accepted message and schedule its status callbacks (``default_script`` when none is scripted)."""
        with self._lock:
            self._accepted.append(message)
            script = self._scripts.get(destination) or self._scripts.get(None) or default_script
        if self.callback_url is None or script.final == "none":
            return
        now = int(time.time())
        statuses = STATUS_SEQUENCES.get(script.final, _DEFAULT_SEQUENCE)
        payloads = [self._callback_payload(message, script, name, now + i) for i, name in enumerate(statuses)]
        if script.out_of_order:
            payloads.reverse()
        if script.duplicate:
            payloads = [p for p in payloads for _ in range(2)]
        for payload in payloads:
            body = json.dumps(payload).encode()
            headers = {"Content-Type": "application/json", **self._signature_headers(body, script.bad_signature)}
            self._callbacks.schedule(self.callback_delay, self.callback_url, body, headers)

    @abstractmethod
    def _callback_payload(self, message: MessageT, script: ScriptT, status: str, timestamp: int) -> dict[str, Any]:
        """The upstream's callback body for one status."""

    @abstractmethod
    def _signature_headers(self, body: bytes, bad_signature: bool) -> dict[str, str]:
        """The upstream's signature header(s) for a callback body."""


def digits(value: str | None) -> str:
    """Only the digits of a phone number."""
    return re.sub(r"\D", "", value or "")
