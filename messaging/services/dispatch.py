"""The dispatch pipeline (architecture flow 2).

A worker claims a message with a conditional UPDATE from ``queued`` (style.md
#5), calls the channel's provider, and records the outcome. The message table
is the outbox: the sweep (``outbox``) re-enqueues anything left ``queued`` and
retakes ``sending`` claims whose worker died, so nothing is lost.

Retries are budgeted in time, not attempts (Review 8.14): a message is tried
again while it can still be useful — a verification's code until the
verification expires, a ``/messages`` message for MESSAGE_RETRY_WINDOW
seconds after it was created (``retry_deadline``). Waits grow exponentially
with jitter up to DISPATCH_BACKOFF_MAX; a provider's ``retry_after`` is only a
lower bound. DISPATCH_MAX_ATTEMPTS remains as a safety ceiling on attempts
that reached the provider (refusals and ambiguous errors, which may each have
sent a copy); attempts that cannot have sent a copy (``submitted=False``: not
bound, a local rate cap, an upstream answering 429 or 503) do not count. A verification that asked for a
fallback stops waiting for its channel once the channel has failed for
FALLBACK_AFTER_DOWN seconds: the message ends ``failed``, its charge is
reversed (R-PRE-4) and the code goes out on the next channel, never both.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from messaging.crypto import unseal
from messaging.models import Message, ProviderReference, Verification
from messaging.providers import registry
from messaging.providers.base import OutboundMessage, Outcome, ProviderResult
from messaging.queueing import enqueue_dispatch
from messaging.services.batching import claim, record_accepted, reference_ids
from messaging.services.delivery import pending_reports_apply, receipt_record
from messaging.services.lifecycle import fall_back, reverse_charge, transition

logger = logging.getLogger(__name__)

_MAX_EXPONENT = 30  # 2**30 × any base is far beyond DISPATCH_BACKOFF_MAX
# Issue 14 (drill 3): how long a worker keeps trying to write a provider's answer while the
# database is out of reach. Well inside CELERY_TASK_SOFT_TIME_LIMIT; a PostgreSQL restart
# takes seconds.
RECORD_RETRY_SECONDS = 60.0


def retry_deadline(message: Message) -> datetime:
    """Until when sending ``message`` is still useful (Review 8.14): a verification's code until
    the verification expires; a ``/messages`` message MESSAGE_RETRY_WINDOW seconds after it was
    created. Computed rather than stored: both inputs are on the rows already."""
    if message.verification_id is not None:
        return message.verification.expires_at
    return message.created_at + timedelta(seconds=settings.MESSAGE_RETRY_WINDOW)


def _outbound(message: Message) -> OutboundMessage:
    text, code = unseal(message.sealed)
    return OutboundMessage(
        id=message.id,
        to=message.to,
        channel=message.channel,
        text=text,
        operator=message.operator,
        sender_id=message.sender_id,
        encoding=message.encoding,
        code=code,
        locale=message.verification.locale if message.verification_id else "id",
    )


def _backoff(attempt: int) -> float:
    """Exponential with jitter: base × 2^(n-1), capped at DISPATCH_BACKOFF_MAX, then 50 % to 100 % of it."""
    ceiling = settings.DISPATCH_BACKOFF_BASE * 2 ** min(_MAX_EXPONENT, max(0, attempt - 1))
    return min(settings.DISPATCH_BACKOFF_MAX, ceiling) * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not security


def message_dispatch(*, message_id: str, now: datetime | None = None) -> str:
    """Claim, send, record. Safe to call twice: only one claim succeeds.

    Issue 11: the task that claims ``message_id`` also claims up to DISPATCH_BATCH - 1 other
    SMS that are ready and that no other worker holds (``FOR UPDATE SKIP LOCKED``), submits
    them through the SMPP bind with up to SMPP_WINDOW ``submit_sm`` outstanding, and records
    the accepted ones in one transaction. Their own tasks then find nothing to claim. Every
    guarantee of one message holds for each message of a batch: the claim and its history
    commit together, an answer is written again while the database is away, a worker killed
    mid-batch leaves its claims to the outbox sweep (DISPATCH_CLAIM_TIMEOUT)."""
    now = now or timezone.now()
    messages = claim(message_id, now)
    if not messages:
        return "not-claimed"
    if len(messages) == 1:
        return _dispatch_claimed(messages[0], now)
    own, others = messages[0], messages[1:]
    # Only the provider call runs on the sending threads; every database write stays here.
    futures = [_pool().submit(_send, m) for m in others if _unsendable(m, now) is None]
    outcome = _dispatch_claimed(own, now)
    _record_many([future.result() for future in futures])
    return outcome


DRAIN_SECONDS = 20.0  # a drainer hands over to a fresh task after this (well inside the task time limits)


def messages_drain(*, slot: int) -> int:
    """A drainer (issue 11): claim batches of ready live SMS from the outbox and send them
    until none is left, renewing the slot's "awake" mark so that sends do not publish another
    drainer meanwhile (``messaging.queueing.wake_drainer``). Returns how many it claimed.

    The handover is race-free: once nothing is ready the mark is removed and the outbox read
    once more, so a message queued between the last claim and the removal (whose send saw the
    mark and woke nobody) is taken here. A drainer killed mid-batch leaves its claims to the
    outbox sweep, and its mark expires within WAKE_TTL."""
    from messaging.limits import redis_client
    from messaging.queueing import WAKE_TTL, enqueue_drain, wake_key

    client = redis_client()
    key = wake_key(slot)

    def mark(action: str) -> bool:
        if client is None:
            return True
        try:
            if action == "renew":
                return bool(client.set(key, "1", ex=WAKE_TTL))
            if action == "set":
                return bool(client.set(key, "1", nx=True, ex=WAKE_TTL))
            client.delete(key)
        except Exception:  # noqa: BLE001 - Redis down: sends publish tasks of their own meanwhile
            logger.warning("drainer %s: Redis did not answer", slot, exc_info=True)
        return True

    started = time.monotonic()
    claimed = 0
    while True:
        mark("renew")
        now = timezone.now()
        messages = claim(None, now)
        if not messages:
            mark("delete")
            messages = claim(None, timezone.now())
            if not messages:
                return claimed
            if not mark("set"):  # another drainer woke meanwhile: it takes over from here
                _dispatch_batch(messages, now)
                return claimed + len(messages)
        claimed += len(messages)
        _dispatch_batch(messages, now)
        if time.monotonic() - started > DRAIN_SECONDS:
            enqueue_drain(slot)  # the mark stays: the next task carries on
            logger.info("drainer %s: %s messages in %.0fs; handing over", slot, claimed, DRAIN_SECONDS)
            return claimed


def _dispatch_batch(messages: list[Message], now: datetime) -> None:
    futures = [_pool().submit(_send, m) for m in messages if _unsendable(m, now) is None]
    _record_many([future.result() for future in futures])


def _dispatch_claimed(message: Message, now: datetime) -> str:
    """Send one claimed message and record the answer."""
    finished = _unsendable(message, now)
    if finished is not None:
        return finished
    return _record_with_retry(*_send(message))


def _unsendable(message: Message, now: datetime) -> str | None:
    """A claimed message that nobody can use any more is failed here, its charge reversed,
    and the outcome returned; None when it is still worth sending."""
    verification = message.verification
    if verification is not None and (
        verification.status != Verification.Status.PENDING or verification.expires_at <= now
    ):
        # Nobody can use this code any more: do not send it, give the money back.
        _finish_unsent(
            message, reason=f"verification {verification.status} before sending", code="verification_closed", now=now
        )
        return "skipped"
    if verification is None and retry_deadline(message) <= now:
        # Left queued past its window (a long outage, the broker down): too late to be useful.
        _finish_unsent(message, reason="retry window over before sending", code="retry_window_over", now=now)
        return "failed"
    return None


def _send(message: Message) -> tuple[Message, str, ProviderResult]:
    """The provider's answer for a claimed message (no database access: it may run on a
    sending thread)."""
    try:
        provider = registry.provider_for(
            channel=message.channel, operator=message.operator, is_test=message.is_test, on_report=receipt_record
        )
        result = provider.send(_outbound(message))
    except Exception as exc:  # noqa: BLE001 - a provider bug must not lose the message
        logger.exception("provider failed on %s", message.id)
        return (
            message,
            "unknown",
            ProviderResult(Outcome.RETRY, error_code="provider_error", error_message=str(exc)[:300]),
        )
    return message, provider.name, result


_pools: dict[int, ThreadPoolExecutor] = {}


def _pool() -> ThreadPoolExecutor:
    """This process's sending threads (SMPP_WINDOW of them: the ``submit_sm`` a batch keeps
    outstanding); made after a fork, since threads do not survive one (Celery prefork)."""
    pid = os.getpid()
    pool = _pools.get(pid)
    if pool is None:
        _pools.clear()
        pool = _pools[pid] = ThreadPoolExecutor(max_workers=max(1, settings.SMPP_WINDOW), thread_name_prefix="dispatch")
    return pool


def _record_many(answers: list[tuple[Message, str, ProviderResult]]) -> None:
    """Record a batch's answers: the accepted ones together (one transaction for all their
    references, moves, history rows and events), every other one as a single message is."""
    accepted = [a for a in answers if a[2].outcome == Outcome.ACCEPTED]
    for answer in answers:
        if answer[2].outcome != Outcome.ACCEPTED:
            _record_with_retry(*answer)
    if not accepted:
        return
    deadline = time.monotonic() + RECORD_RETRY_SECONDS
    pause = 0.5
    while True:
        try:
            moved = record_accepted(accepted, timezone.now())
            break
        except (OperationalError, InterfaceError) as exc:
            if time.monotonic() + pause > deadline:
                raise
            logger.warning("batch of %s: recording failed (%s); trying again", len(accepted), exc)
            connection.close()
            threading.Event().wait(pause)
            pause = min(pause * 2, 5.0)
    for message, provider_name, result in accepted:
        if message.pk not in moved:  # no longer 'sending' (a retaken claim): judged one by one
            message.refresh_from_db(fields=["status", "submits", "sealed"])
            _record_with_retry(message, provider_name, result)
    by_provider: dict[str, list[str]] = {}
    for message, provider_name, result in accepted:
        if message.pk in moved:
            by_provider.setdefault(provider_name, []).extend(reference_ids(result))
    for provider_name, ids in by_provider.items():
        # Committed: now the receipts that overtook the ids (Review 8.16, see services.delivery).
        pending_reports_apply(provider=provider_name, ids=ids)


def _record_with_retry(message: Message, provider_name: str, result: ProviderResult) -> str:
    """Write the provider's answer, trying again for RECORD_RETRY_SECONDS while the database is
    out of reach (issue 14, drill 3). The answer exists only in this process: lost, the claim
    would expire and the message go out a second time although the upstream accepted it."""
    deadline = time.monotonic() + RECORD_RETRY_SECONDS
    pause = 0.5
    retrying = False
    while True:
        try:
            if retrying:  # what really committed, not what the failed attempt left in memory
                message.refresh_from_db(fields=["status", "submits", "sealed"])
            return _record_result(message, provider_name, result, timezone.now())
        except (OperationalError, InterfaceError) as exc:
            if time.monotonic() + pause > deadline:
                raise
            logger.warning("message %s: recording %s failed (%s); trying again", message.id, result.outcome, exc)
            connection.close()  # the broken connection; the next query opens a new one
            threading.Event().wait(pause)
            pause = min(pause * 2, 5.0)
            retrying = True


def _record_result(message: Message, provider_name: str, result: ProviderResult, now: datetime) -> str:
    submits = message.submits + (1 if result.submitted else 0)
    if result.outcome == Outcome.ACCEPTED:
        ids = reference_ids(result)
        with transaction.atomic():
            ProviderReference.objects.bulk_create(
                [
                    ProviderReference(provider=provider_name, provider_message_id=pid, message=message, part=i + 1)
                    for i, pid in enumerate(ids)
                ],
                ignore_conflicts=True,
            )
            transition(
                message,
                Message.Status.SENT,
                reason="accepted by provider",
                actor=provider_name,
                now=now,
                provider=provider_name,
                provider_message_id=result.provider_message_id,
                sent_at=now,
                submits=submits,
            )
        # Committed: now the receipts that overtook the ids (Review 8.16, see services.delivery).
        pending_reports_apply(provider=provider_name, ids=ids)
        return "sent"
    why_not = ""
    if result.outcome == Outcome.RETRY:
        wait, why_not = _next_attempt(message, result, submits, now)
        if not why_not:
            with transaction.atomic():
                transition(
                    message,
                    Message.Status.QUEUED,
                    reason=f"retry in {wait:.1f}s: {result.error_code} {result.error_message}".strip(),
                    actor=provider_name,
                    now=now,
                    next_attempt_at=now + timedelta(seconds=wait),
                    error_code=result.error_code[:40],
                    error_message=result.error_message[:300],
                    submits=submits,
                )
                transaction.on_commit(lambda: enqueue_dispatch(message.id, countdown=wait, channel=message.channel))
            return "retry"
    # A permanent refusal, or no retry left: not charged (R-PRE-4), fall back if asked.
    final = Message.Status.REJECTED if result.outcome == Outcome.PERMANENT else Message.Status.FAILED
    detail = f"{result.error_code} {result.error_message}".strip()
    with transaction.atomic():
        transition(
            message,
            final,
            reason=f"{why_not}: {detail}" if why_not else detail or final,
            actor=provider_name,
            now=now,
            provider=provider_name,
            error_code=result.error_code[:40],
            error_message=result.error_message[:300],
            sealed="" if not message.fallback else message.sealed,
            submits=submits,
        )
        reverse_charge(message, reason=f"provider {final}: {result.error_code}".strip(), now=now)
    fall_back(message, now)
    return final


def _next_attempt(message: Message, result: ProviderResult, submits: int, now: datetime) -> tuple[float, str]:
    """Seconds until the next attempt, or (0, why there is none). See the module's docstring."""
    if submits >= settings.DISPATCH_MAX_ATTEMPTS:
        return 0.0, f"{submits} attempts reached the provider (DISPATCH_MAX_ATTEMPTS)"
    lower = max(0.0, result.retry_after or 0.0)
    wait = max(_backoff(message.attempts), lower)
    if message.fallback and message.verification_id is not None:
        down_for = (now - message.created_at).total_seconds()
        left = settings.FALLBACK_AFTER_DOWN - down_for
        if left <= 0:
            return 0.0, f"{message.channel} failing for {down_for:.0f}s (FALLBACK_AFTER_DOWN): falling back"
        wait = max(min(wait, left), lower)  # one last try when the channel is judged down
    deadline = retry_deadline(message)
    if now + timedelta(seconds=wait) >= deadline:
        what = "the code expires" if message.verification_id is not None else "the retry window ends"
        return 0.0, f"{what} before the next attempt"
    return wait, ""


def _finish_unsent(message: Message, *, reason: str, code: str, now: datetime) -> None:
    with transaction.atomic():
        transition(
            message,
            Message.Status.FAILED,
            reason=reason,
            actor="worker",
            now=now,
            sealed="",
            error_code=code,
        )
        reverse_charge(message, reason=reason, now=now)
