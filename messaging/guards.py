"""Abuse limits, counted atomically (style.md #7): per API key, per number,
per client IP on authentication failures, and the SMS-pumping guard.

Token buckets live in Redis (``messaging.limits.RedisTokenBucket``, a Lua
script) when ``REDIS_URL`` is set, else in a database row locked for the
update, which is atomic across processes too (``make run``). While Redis does
not answer, the database rows count instead (``messaging.limits.FallbackBucket``).
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Customer
from messaging.limits import TakeResult, TokenBucket, default_bucket
from messaging.models import RateBucket, Verification
from otpportal.errors import ServiceError


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


def pumping_check(*, customer: Customer, e164: str, now: datetime) -> None:
    """SMS pumping (artificially inflated traffic): many numbers in one
    prefix range in a short window, few of them ever verified. Refuse new
    sends to that range and say why in ``details``."""
    prefix = e164[: settings.PUMPING_PREFIX_DIGITS + 1]  # '+' and the digits
    since = now - timedelta(seconds=settings.PUMPING_WINDOW_SECONDS)
    stats = Verification.objects.filter(
        customer=customer, to__startswith=prefix, created_at__gte=since, is_test=False
    ).aggregate(
        numbers=Count("to", distinct=True), approved=Count("id", filter=Q(status="approved")), total=Count("id")
    )
    numbers, approved, total = stats["numbers"], stats["approved"], stats["total"]
    if numbers < settings.PUMPING_MIN_NUMBERS:
        return
    rate = approved / total if total else 0.0
    if rate < settings.PUMPING_MIN_APPROVAL_RATE:
        raise _refuse(
            _(
                "Sending to this number range is paused: many numbers in a short time and few verified "
                "(suspected SMS pumping)."
            ),
            settings.PUMPING_WINDOW_SECONDS,
            {
                "limit": "sms_pumping",
                "prefix": prefix,
                "window_seconds": settings.PUMPING_WINDOW_SECONDS,
                "numbers_in_window": numbers,
                "verifications_in_window": total,
                "approval_rate": round(rate, 3),
                "min_approval_rate": settings.PUMPING_MIN_APPROVAL_RATE,
            },
        )


def now() -> datetime:
    return timezone.now()
