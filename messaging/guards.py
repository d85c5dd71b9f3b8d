"""Abuse limits, counted atomically (style.md #7): per API key, per number,
per client IP on authentication failures, and the SMS-pumping guard.

Token buckets live in Redis (``messaging.limits.RedisTokenBucket``, a Lua
script) when ``REDIS_URL`` is set, else in a database row locked for the
update, which is atomic across processes too (``make run``). While Redis does
not answer, the database rows count instead (``messaging.limits.FallbackBucket``).
"""

from __future__ import annotations

import logging
import math
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Customer
from messaging import pumping
from messaging.limits import TakeResult, TokenBucket, default_bucket
from messaging.models import RateBucket, Verification
from otpportal.errors import ServiceError

logger = logging.getLogger(__name__)


class DatabaseTokenBucket:
    """The same bucket as the Redis script, in a row under SELECT … FOR UPDATE."""

    def take(self, key: str, *, rate: float, capacity: float, cost: float = 1.0) -> TakeResult:
        now = time.time()
        with transaction.atomic():
            row = RateBucket.objects.select_for_update().filter(key=key).first()
            if row is None:  # first use: create it full (a concurrent creator wins quietly), then lock it
                RateBucket.objects.bulk_create(
                    [RateBucket(key=key, tokens=capacity, updated=now)], ignore_conflicts=True
                )
                row = RateBucket.objects.select_for_update().get(key=key)
            tokens = min(capacity, row.tokens + max(0.0, now - row.updated) * rate)
            if tokens >= cost:
                row.tokens, row.updated = tokens - cost, now
                row.save()
                return TakeResult(True, 0.0)
            row.tokens, row.updated = tokens, now
            row.save()
            return TakeResult(False, (cost - tokens) / rate)


_db_bucket = DatabaseTokenBucket()


def bucket() -> TokenBucket:
    """Redis when configured; the database rows when it is not, and while Redis does not answer
    (issue 14: a Redis outage degrades the limits to the database, sends keep being accepted)."""
    return default_bucket(fallback=_db_bucket)


def _refuse(message: str, retry_after: float, details: dict[str, object]) -> ServiceError:
    """A 429 ``rate_limited``; ``message`` is already translated (Review 8.19)."""
    seconds = max(1, math.ceil(retry_after))
    return ServiceError("rate_limited", message, details={**details, "retry_after": seconds}, retry_after=seconds)


def key_rate(*, api_key_id: int) -> TakeResult:
    """Requests per second per API key (LIMIT_KEY_RATE, burst LIMIT_KEY_BURST)."""
    return bucket().take(f"key:{api_key_id}", rate=settings.LIMIT_KEY_RATE, capacity=settings.LIMIT_KEY_BURST)


def auth_failures_exceeded(*, ip: str, record: bool) -> TakeResult:
    """LIMIT_AUTH_FAILURES_PER_MINUTE failed authentications per client IP.
    ``record=False`` only peeks (cost 0)."""
    per_minute = settings.LIMIT_AUTH_FAILURES_PER_MINUTE
    return bucket().take(f"authfail:{ip}", rate=per_minute / 60.0, capacity=per_minute, cost=1.0 if record else 0.0)


def number_limit(*, customer: Customer, e164: str) -> None:
    """LIMIT_NUMBER_PER_HOUR verifications per number per customer."""
    per_hour = settings.LIMIT_NUMBER_PER_HOUR
    result = bucket().take(f"number:{customer.pk}:{e164}", rate=per_hour / 3600.0, capacity=per_hour)
    if not result.allowed:
        raise _refuse(
            _("Too many verifications for this number; at most %(per_hour)s an hour.") % {"per_hour": per_hour},
            result.retry_after,
            {"limit": "per_number", "to": e164, "per_hour": per_hour},
        )


def pumping_check(
    *, customer: Customer, e164: str, now: datetime, verification_id: str = "", enforce: bool = True
) -> None:
    """SMS pumping (artificially inflated traffic): many numbers in one
    prefix range in a short window, few of them ever verified. Refuse new
    sends to that range and say why in ``details``.

    Every live verification started is counted (``verification_id``;
    ``enforce=False`` for one that does not start by SMS: counted, never
    refused); a message with the customer's own text is checked, not counted. Counted in Redis in one round trip
    (``messaging.pumping``, issue 11); without Redis, or while it does not
    answer, from the verifications in the database."""
    try:
        counts = pumping.window_take(
            customer_id=customer.pk, e164=e164, verification_id=verification_id, now=now, enforce=enforce
        )
    except redis_errors() as exc:
        logger.warning("pumping guard: Redis does not answer (%s); counting in the database", exc)
        counts = None
    if counts is None:
        if not enforce:
            return
        counts = pumping_counts_in_database(customer=customer, e164=e164, now=now)
    if not enforce or counts.numbers < settings.PUMPING_MIN_NUMBERS:
        return
    rate = counts.approved / counts.total if counts.total else 0.0
    if rate < settings.PUMPING_MIN_APPROVAL_RATE:
        raise _refuse(
            _(
                "Sending to this number range is paused: many numbers in a short time and few verified "
                "(suspected SMS pumping)."
            ),
            settings.PUMPING_WINDOW_SECONDS,
            {
                "limit": "sms_pumping",
                "prefix": pumping.prefix_of(e164),
                "window_seconds": settings.PUMPING_WINDOW_SECONDS,
                "numbers_in_window": counts.numbers,
                "verifications_in_window": counts.total,
                "approval_rate": round(rate, 3),
                "min_approval_rate": settings.PUMPING_MIN_APPROVAL_RATE,
            },
        )


def pumping_counts_in_database(*, customer: Customer, e164: str, now: datetime) -> pumping.WindowCounts:
    """The window's counts from the customer's live verifications (the guard without Redis)."""
    since = now - timedelta(seconds=settings.PUMPING_WINDOW_SECONDS)
    stats = Verification.objects.filter(
        customer=customer, to__startswith=pumping.prefix_of(e164), created_at__gte=since, is_test=False
    ).aggregate(
        numbers=Count("to", distinct=True), approved=Count("id", filter=Q(status="approved")), total=Count("id")
    )
    return pumping.WindowCounts(True, stats["numbers"], stats["total"], stats["approved"])


def pumping_approved(*, verification: Verification) -> None:
    """A live verification was approved: it counts for its range (after commit)."""
    if verification.is_test:
        return
    try:
        pumping.approval_record(
            customer_id=verification.customer_id,
            e164=verification.to,
            verification_id=verification.id,
            created_at=verification.created_at,
        )
    except redis_errors() as exc:
        logger.warning("pumping guard: approval of %s not counted in Redis (%s)", verification.id, exc)


def redis_errors() -> tuple[type[BaseException], ...]:
    import redis

    return (redis.RedisError,)


def now() -> datetime:
    return timezone.now()
