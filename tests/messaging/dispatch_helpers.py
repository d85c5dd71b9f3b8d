"""Acting as the dispatch worker in tests: run each attempt of a message when it falls due.

A plain module, not a conftest. Asserts here are not rewritten by pytest, so each says what went wrong.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

import time_machine
from django.utils import timezone

from messaging import services
from messaging.models import Message


def worker_loop(message_id: str, start: datetime, *, limit: int = 200) -> list[tuple[datetime, str]]:
    """Under time-machine: dispatch at ``start``, then at each ``next_attempt_at``, until the message
    stops retrying. Returns (time, result) per attempt."""
    when, runs = start, []
    for _ in range(limit):
        with time_machine.travel(when, tick=False):
            result = services.message_dispatch(message_id=message_id)
        runs.append((when, result))
        if result != "retry":
            return runs
        when = Message.objects.get(pk=message_id).next_attempt_at
    raise AssertionError(f"{message_id} still retrying after {limit} attempts")


def worker_in_real_time(message_id: str, *, timeout: float, every: Callable[[float], None] | None = None) -> list[str]:
    """In real time: dispatch whenever the message is due (what Celery's countdown does), calling
    ``every(elapsed)`` between polls, until it is no longer queued or ``timeout`` seconds passed."""
    started = time.monotonic()
    results: list[str] = []
    pause = threading.Event()
    while (elapsed := time.monotonic() - started) < timeout:
        if every is not None:
            every(elapsed)
        message = Message.objects.get(pk=message_id)
        if message.status != Message.Status.QUEUED:
            return results
        if message.next_attempt_at is None or message.next_attempt_at <= timezone.now():
            results.append(services.message_dispatch(message_id=message_id))
        pause.wait(0.02)
    raise AssertionError(f"{message_id} still queued after {timeout}s: {results}")
