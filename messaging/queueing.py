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
import zlib
from typing import Any

from celery import current_app

logger = logging.getLogger(__name__)

DISPATCH = "messaging.tasks.dispatch"
DRAIN = "messaging.tasks.drain"
SANDBOX_REPORT = "messaging.tasks.sandbox_report"
# Issue 11: how long a drainer's "awake" mark lives unless the drainer renews it. A drainer that
# died leaves its slot's new messages to the next send after this (or to the outbox sweep).
WAKE_TTL = 5


def wake_key(slot: int) -> str:
    from django.conf import settings

    return f"{settings.RATE_LIMIT_KEY_PREFIX}dispatch-awake:{slot}"


def _apply(task: str, args: tuple[Any, ...], **options: Any) -> None:
    app = current_app
    if task not in app.tasks:
        app.loader.autodiscover_tasks(["messaging"])  # a web process: register messaging.tasks (see above)
    app.signature(task, args=args).apply_async(**{k: v for k, v in options.items() if v is not None})


def enqueue_dispatch(
    message_id: str,
    *,
    first: bool = False,
    countdown: float | None = None,
    channel: str = "sms",
    batchable: bool = False,
) -> None:
    """First attempts go to the high-priority ``otp`` queue; retries to the
    channel's own queue so a slow provider never holds fresh OTPs back.

    A first attempt that a drainer can send (``batchable``: a live SMS, with
    ``DISPATCH_DRAINERS`` on) publishes no task of its own: it makes sure its
    slot's drainer is awake (issue 11, ``wake_drainer``), and the drainer takes
    it from the outbox with the others.

    A broker that is down is logged, not raised: the outbox sweep re-enqueues
    whatever is left ``queued`` (flow 2)."""
    if first and batchable and wake_drainer(message_id):
        return
    queue = "otp" if first else ("dispatch-sms" if channel == "sms" else "dispatch-wa")
    try:
        _apply(DISPATCH, (message_id,), queue=queue, countdown=countdown)
    except Exception:  # noqa: BLE001 - the broker is down: the outbox sweep re-enqueues (flow 2)
        logger.warning("enqueue of %s failed; the outbox sweep will pick it up", message_id, exc_info=True)


def enqueue_drain(slot: int) -> None:
    """A drainer for ``slot`` (issue 11): one that hands over, or one woken by a send."""
    _apply(DRAIN, (slot,), queue="otp")


def enqueue_sandbox_report(provider_message_id: str, state: str, *, countdown: float | None = None) -> None:
    """The sandbox's "delivered" report, after its simulated delay."""
    _apply(SANDBOX_REPORT, (provider_message_id, state), countdown=countdown)


def drainers() -> int:
    """How many drainers may run at once (0: every message has a task of its own)."""
    from django.conf import settings
    from django.db import connection

    # As ``services.batching.batch_size``: a drainer claims in batches, which needs SMPP and a
    # database that skips locked rows (not SQLite); elsewhere it would find nothing to claim.
    if (
        settings.PROVIDER_SMS != "smpp"
        or settings.DISPATCH_BATCH <= 1
        or not connection.features.has_select_for_update_skip_locked
    ):
        return 0
    return max(0, settings.DISPATCH_DRAINERS)


def wake_drainer(message_id: str) -> bool:
    """Make sure the drainer of ``message_id``'s slot runs: when the slot's "awake" mark is not
    set, set it (``SET NX``, WAKE_TTL) and publish the drainer. One Redis round trip for most
    messages instead of a task each. False (the caller publishes a task of the message's own)
    without drainers, without Redis or when Redis or the broker fails."""
    count = drainers()
    if count == 0:
        return False
    from messaging.limits import redis_client

    client = redis_client()
    if client is None:
        return False
    slot = zlib.crc32(message_id.encode()) % count
    key = wake_key(slot)
    try:
        if client.set(key, "1", nx=True, ex=WAKE_TTL):
            try:
                enqueue_drain(slot)
            except Exception:
                client.delete(key)  # nobody was woken: let the next message try again
                raise
    except Exception:  # noqa: BLE001 - Redis or the broker down: a task of its own (or the sweep)
        logger.warning("could not wake drainer %s for %s", slot, message_id, exc_info=True)
        return False
    return True
