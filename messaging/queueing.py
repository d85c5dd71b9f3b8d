"""Enqueueing messaging's Celery tasks by name, so nothing below ``tasks.py`` imports it.

Imports in messaging go one way: ``tasks`` → ``services`` → ``providers``, with
``queueing`` (this module) and ``models`` below them all. A service or a provider
that wants a task run names it here; it never imports ``messaging.tasks``.

A Celery *signature* (not ``send_task``) is used, because a signature of a
registered task honours ``task_always_eager`` (tests, debugging). A worker
registers every task module when it starts; a web process has not, so the
first enqueue there runs Celery's own autodiscovery for messaging once.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app

logger = logging.getLogger(__name__)

DISPATCH = "messaging.tasks.dispatch"
SANDBOX_REPORT = "messaging.tasks.sandbox_report"


def _apply(task: str, args: tuple[Any, ...], **options: Any) -> None:
    app = current_app
    if task not in app.tasks:
        app.loader.autodiscover_tasks(["messaging"])  # a web process: register messaging.tasks (see above)
    app.signature(task, args=args).apply_async(**{k: v for k, v in options.items() if v is not None})


def enqueue_dispatch(
    message_id: str, *, first: bool = False, countdown: float | None = None, channel: str = "sms"
) -> None:
    """First attempts go to the high-priority ``otp`` queue; retries to the
    channel's own queue so a slow provider never holds fresh OTPs back.

    A broker that is down is logged, not raised: the outbox sweep re-enqueues
    whatever is left ``queued`` (flow 2)."""
    queue = "otp" if first else ("dispatch-sms" if channel == "sms" else "dispatch-wa")
    try:
        _apply(DISPATCH, (message_id,), queue=queue, countdown=countdown)
    except Exception:  # noqa: BLE001 - the broker is down: the outbox sweep re-enqueues (flow 2)
        logger.warning("enqueue of %s failed; the outbox sweep will pick it up", message_id, exc_info=True)


def enqueue_sandbox_report(provider_message_id: str, state: str, *, countdown: float | None = None) -> None:
    """The sandbox's "delivered" report, after its simulated delay."""
    _apply(SANDBOX_REPORT, (provider_message_id, state), countdown=countdown)
