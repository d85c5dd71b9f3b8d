"""A bounded load of live sends through the HTTP API, as a careful integrator sends them.

Every request carries an ``Idempotency-Key``; a ``503`` (in the contract's shape), a
``429`` or a broken connection is tried again with the same key after ``Retry-After``,
until the request's own deadline. Every answer is recorded: the figures count what was
accepted, what was refused cleanly, and anything that is not the contract (a 500, an
HTML page, a 503 in another shape).
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

from drills.infra import pause


@dataclass
class Send:
    path: str  # "/api/v1/verifications" or "/api/v1/messages"
    body: dict[str, Any]
    key: str  # the API key
    key_id: str = field(default_factory=lambda: uuid.uuid4().hex)  # the Idempotency-Key


@dataclass
class Answer:
    send: Send
    status: int | None = None  # the last HTTP status (None: never answered)
    data: dict[str, Any] | None = None
    tries: int = 0
    statuses: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # time.monotonic() of each answer (or failure)
    problems: list[str] = field(default_factory=list)  # answers outside the contract
    replayed: bool = False

    @property
    def accepted(self) -> bool:
        return self.status == 201

    @property
    def message_id(self) -> str:
        return str((self.data or {}).get("message_id") or (self.data or {}).get("id") or "")


def contract_problem(response: requests.Response) -> str:
    """What is wrong with an error answer, or "" when it is the contract's shape."""
    if response.status_code >= 500 and response.status_code != 503:
        return f"{response.status_code} server error: {response.text[:200]!r}"
    try:
        body = response.json()
        error = body["error"]
        if set(body) != {"error"} or not {"code", "message", "details"} <= set(error):
            return f"{response.status_code} not in the error shape: {response.text[:200]!r}"
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code} not JSON: {response.text[:200]!r}"
    if response.status_code == 503 and error["code"] != "service_unavailable":
        return f"503 with code {error['code']!r}"
    return ""


class Load:
    """``rate`` sends a second from ``threads`` threads; ``start()``, then ``wait()``."""

    def __init__(
        self, base_url: str, sends: list[Send], *, rate: float, threads: int = 6, retry_for: float = 120.0
    ) -> None:
        self.base_url = base_url
        self.sends = sends
        self.rate = rate
        self.threads = threads
        self.retry_for = retry_for
        self.answers: list[Answer] = [Answer(s) for s in sends]
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._workers: list[threading.Thread] = []
        self._done = 0
        self._lock = threading.Lock()
        self.started_at = 0.0

    def start(self) -> Load:
        self.started_at = time.monotonic()
        for index in range(len(self.sends)):
            self._queue.put(index)
        for _ in range(self.threads):
            self._queue.put(None)
        for n in range(self.threads):
            thread = threading.Thread(target=self._run, name=f"load-{n}", daemon=True)
            thread.start()
            self._workers.append(thread)
        return self

    @property
    def done(self) -> int:
        with self._lock:
            return self._done

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for thread in self._workers:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._workers)

    def _run(self) -> None:
        session = requests.Session()
        while True:
            index = self._queue.get()
            if index is None:
                return
            due = self.started_at + index / self.rate
            pause(due - time.monotonic())
            self._send(session, self.answers[index])
            with self._lock:
                self._done += 1

    def _send(self, session: requests.Session, answer: Answer) -> None:
        send = answer.send
        deadline = time.monotonic() + self.retry_for
        headers = {"Authorization": f"Bearer {send.key}", "Idempotency-Key": send.key_id}
        while True:
            answer.tries += 1
            wait = 1.0
            try:
                response = session.post(self.base_url + send.path, json=send.body, headers=headers, timeout=30)
            except requests.RequestException as exc:
                answer.times.append(time.monotonic())
                answer.statuses.append(0)
                answer.problems.append(f"no answer: {type(exc).__name__}")
                session = requests.Session()
            else:
                answer.status = response.status_code
                answer.times.append(time.monotonic())
                answer.statuses.append(response.status_code)
                if response.status_code < 300:
                    answer.data = response.json()
                    answer.replayed = response.headers.get("Idempotent-Replayed") == "true"
                    return
                problem = contract_problem(response)
                if problem:
                    answer.problems.append(problem)
                if response.status_code not in (429, 503) and not problem:
                    answer.data = response.json()
                    return  # a business refusal: the integrator reads it, no retry
                wait = float(response.headers.get("Retry-After") or 1)
            if time.monotonic() + wait > deadline:
                return
            pause(min(wait, 5.0))

    # ------------------------------------------------------------------ figures

    def figures(self) -> dict[str, Any]:
        statuses = Counter(s for a in self.answers for s in a.statuses)
        return {
            "requests": sum(a.tries for a in self.answers),
            "sends": len(self.answers),
            "accepted": sum(1 for a in self.answers if a.accepted),
            "accepted_on_retry": sum(1 for a in self.answers if a.accepted and a.tries > 1),
            "replayed": sum(1 for a in self.answers if a.replayed),
            "answers": {str(k): v for k, v in sorted(statuses.items())},
            "clean_503": statuses.get(503, 0),
            "not_answered": statuses.get(0, 0),
            "contract_breaches": sum(
                len([p for p in a.problems if not p.startswith("no answer")]) for a in self.answers
            ),
            "never_accepted": sum(1 for a in self.answers if not a.accepted),
        }

    def answered_between(self, start: float, end: float, status: int) -> int:
        """How many answers with ``status`` came between two ``time.monotonic()`` readings."""
        return sum(
            1
            for a in self.answers
            for t, s in zip(a.times, a.statuses, strict=True)
            if s == status and start <= t <= end
        )

    def problems(self) -> list[str]:
        return [p for a in self.answers for p in a.problems if not p.startswith("no answer")]


def number(drill: int, run: int, index: int) -> str:
    """A unique Telkomsel number per drill, run and send: 0812-DRR-IIIII."""
    return f"0812{drill}{run:02d}{index:05d}"


def e164(national: str) -> str:
    return "+62" + national[1:]


def otp_sends(
    key: str, *, drill: int, run: int, count: int, channel: str = "sms", fallback_every: int = 0,
    fallback: tuple[str, ...] = ("sms",), ttl: int = 300, short_ttl_every: int = 0, messages_every: int = 5,
) -> list[Send]:  # fmt: skip
    """``count`` sends to numbers of their own: verifications (every ``fallback_every``-th with
    ``fallback``, every ``short_ttl_every``-th with a 60 s code), and every ``messages_every``-th
    a ``/messages`` text of the customer's own."""
    sends = []
    for i in range(count):
        to = number(drill, run, i)
        if messages_every and i % messages_every == messages_every - 1:
            text = f"Kode OTP Anda {100000 + i}. Jangan berikan."
            sends.append(Send("/api/v1/messages", {"to": to, "channel": channel, "text": text}, key))
            continue
        body: dict[str, Any] = {"to": to, "channel": channel, "ttl": ttl, "reference": f"drill-{drill}-{run}-{i}"}
        if short_ttl_every and i % short_ttl_every == 0:
            body["ttl"] = 60
        if fallback_every and i % fallback_every == 0:
            body["fallback"] = list(fallback)
        sends.append(Send("/api/v1/verifications", body, key))
    return sends


@dataclass
class Probe:
    path: str
    headers: dict[str, str]
    api: bool  # an API path: errors in the contract's JSON shape; else a dashboard page


class Prober:
    """Reads a few pages (an API read, a signed-in dashboard page) every ``interval`` seconds
    from a thread of its own while a fault is on: ``start()``, ``stop()``, then the answers
    ``(time.monotonic(), path, status, problem)``. A page may answer 503 (a short HTML
    page), never a 500; an API answer must be the contract's."""

    def __init__(self, base_url: str, probes: list[Probe], *, interval: float = 0.25) -> None:
        self.base_url = base_url
        self.probes = probes
        self.interval = interval
        self.answers: list[tuple[float, str, int, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prober", daemon=True)

    def start(self) -> Prober:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            for probe in self.probes:
                try:
                    response = session.get(
                        self.base_url + probe.path, headers=probe.headers, timeout=30, allow_redirects=False
                    )
                except requests.RequestException as exc:
                    self.answers.append((time.monotonic(), probe.path, 0, f"no answer: {type(exc).__name__}"))
                    session = requests.Session()
                    continue
                status = response.status_code
                if probe.api:
                    problem = contract_problem(response) if status >= 400 else ""
                elif status >= 500 and (status != 503 or "text/html" not in response.headers.get("Content-Type", "")):
                    problem = f"{status} page: {response.text[:200]!r}"
                else:
                    problem = ""
                self.answers.append((time.monotonic(), probe.path, status, problem))
            self._stop.wait(self.interval)

    def problems(self) -> list[str]:
        return [f"{path}: {problem}" for _, path, _, problem in self.answers if problem and "no answer" not in problem]

    def count(self, path: str, status: int, start: float = 0.0, end: float = float("inf")) -> int:
        return sum(1 for t, p, s, _ in self.answers if p == path and s == status and start <= t <= end)


def probes(customer_key: str, session: str) -> list[Probe]:
    """The API's balance (read with the live key) and the dashboard's home (signed in)."""
    return [
        Probe("/api/v1/balance", {"Authorization": f"Bearer {customer_key}"}, api=True),
        Probe("/", {"Cookie": f"sessionid={session}"}, api=False),
    ]
