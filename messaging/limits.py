"""Token buckets for throughput caps (style.md #7: limits are atomic).

Two implementations share one small interface, ``take(key, *, rate, capacity,
cost) -> TakeResult``:

* ``RedisTokenBucket``: one Lua script run atomically by Redis, so every worker
  process on every machine draws from the same bucket. The script reads the
  Redis server's clock (``TIME``), never the client's, so clients with skewed
  clocks still agree.
* ``LocalTokenBucket``: a per-process bucket behind a lock, for development
  and tests when no Redis is configured (``settings.REDIS_URL`` empty).
* ``FallbackBucket``: Redis first; when Redis does not answer (stopped,
  restarting, unreachable within a second) another bucket takes over for a
  few seconds, then Redis is tried again (issue 14, drill 2: a Redis outage
  degrades the limits, it does not stop the sends). A bucket that takes over
  starts full, so an outage may let one extra burst through per key.

``acquire`` waits (bounded) until a token is granted.

A bucket starts full: ``capacity`` tokens may be taken at once (the burst),
then tokens come back at ``rate`` per second, never above ``capacity``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import redis

logger = logging.getLogger(__name__)

__all__ = [
    "LocalTokenBucket",
    "RedisTokenBucket",
    "TakeResult",
    "TokenBucket",
    "FallbackBucket",
    "acquire",
    "default_bucket",
    "redis_bucket",
    "redis_client",
]


@dataclass(frozen=True, slots=True)
class TakeResult:
    allowed: bool
    retry_after: float = 0.0  # seconds until ``cost`` tokens will be there (0 when allowed)


class TokenBucket(Protocol):
    def take(self, key: str, *, rate: float, capacity: float, cost: float = 1.0) -> TakeResult: ...


def _check(rate: float, capacity: float, cost: float) -> None:
    if rate <= 0:
        raise ValueError(f"rate must be > 0, got {rate!r}")
    if capacity <= 0:
        raise ValueError(f"capacity must be > 0, got {capacity!r}")
    if cost <= 0 or cost > capacity:
        # More than the capacity could never be granted: refuse loudly rather than wait forever.
        raise ValueError(f"cost must be in (0, capacity={capacity!r}], got {cost!r}")


# KEYS[1] = bucket key; ARGV = rate, capacity, cost.
# The hash holds the tokens left and the server time (seconds, float) they were counted at.
# Returns {allowed (0/1), retry_after as a string}: Lua numbers returned to Redis are truncated
# to integers, so the float travels as text.
_TAKE_LUA = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
local elapsed = now - ts
if elapsed < 0 then elapsed = 0 end
tokens = math.min(capacity, tokens + elapsed * rate)
local allowed = 0
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.17g', now))
-- Once full again the bucket equals a fresh one: let Redis forget it.
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity / rate) * 1000) + 1000)
return {allowed, string.format('%.17g', wait)}
"""


class RedisTokenBucket:
    """A token bucket shared by every process that uses the same Redis."""

    def __init__(self, client: redis.Redis, *, prefix: str = "otpportal:bucket:") -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(_TAKE_LUA)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "otpportal:bucket:") -> RedisTokenBucket:
        import redis  # imported here: the module works without redis-py for LocalTokenBucket users

        # Bounded waits: a Redis that hangs must not hang the request or the send (issue 14).
        client = redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT)
        return cls(client, prefix=prefix)

    def take(self, key: str, *, rate: float, capacity: float, cost: float = 1.0) -> TakeResult:
        _check(rate, capacity, cost)
        allowed, wait = self._script(keys=[self._prefix + key], args=[repr(rate), repr(capacity), repr(cost)])
        if int(allowed) == 1:
            return TakeResult(allowed=True, retry_after=0.0)
        raw = wait.decode() if isinstance(wait, bytes) else str(wait)
        return TakeResult(allowed=False, retry_after=max(0.0, float(raw)))


REDIS_TIMEOUT = 1.0  # seconds: connect and command timeouts of the limits' Redis client
FALLBACK_PAUSE = 5.0  # seconds the fallback bucket serves alone before Redis is tried again


class FallbackBucket:
    """``primary`` (Redis) while it answers; ``fallback`` when it raises a Redis error, and
    for FALLBACK_PAUSE seconds after, so an outage costs one failed call per pause, not one
    per request."""

    def __init__(self, primary: TokenBucket, fallback: TokenBucket, *, pause: float = FALLBACK_PAUSE) -> None:
        self.primary = primary
        self.fallback = fallback
        self.pause = pause
        self._down_until = 0.0

    def take(self, key: str, *, rate: float, capacity: float, cost: float = 1.0) -> TakeResult:
        import redis

        if time.monotonic() >= self._down_until:
            try:
                return self.primary.take(key, rate=rate, capacity=capacity, cost=cost)
            except redis.RedisError as exc:
                if not self._down_until:
                    logger.warning("limits: Redis does not answer (%s); counting in the fallback bucket", exc)
                self._down_until = time.monotonic() + self.pause
                return self.fallback.take(key, rate=rate, capacity=capacity, cost=cost)
            if self._down_until:
                logger.info("limits: Redis answers again")
                self._down_until = 0.0
        return self.fallback.take(key, rate=rate, capacity=capacity, cost=cost)


class LocalTokenBucket:
    """Same arithmetic as the Lua script, per process, behind a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, float]] = {}  # key -> (tokens, monotonic time)

    def take(self, key: str, *, rate: float, capacity: float, cost: float = 1.0) -> TakeResult:
        _check(rate, capacity, cost)
        with self._lock:
            now = time.monotonic()
            tokens, ts = self._state.get(key, (capacity, now))
            tokens = min(capacity, tokens + max(0.0, now - ts) * rate)
            if tokens >= cost:
                self._state[key] = (tokens - cost, now)
                return TakeResult(allowed=True, retry_after=0.0)
            self._state[key] = (tokens, now)
            return TakeResult(allowed=False, retry_after=(cost - tokens) / rate)


def acquire(
    bucket: TokenBucket,
    key: str,
    *,
    rate: float,
    capacity: float,
    timeout: float,
    cost: float = 1.0,
) -> bool:
    """Take ``cost`` tokens, waiting up to ``timeout`` seconds; False if not granted in time.

    Returns False at once when the bucket says the wait is longer than the time left: tokens
    only come back at ``rate``, so waiting could not help.
    """
    deadline = time.monotonic() + max(0.0, timeout)
    pause = threading.Event()  # never set: wait() is a bounded, interruptible sleep
    while True:
        result = bucket.take(key, rate=rate, capacity=capacity, cost=cost)
        if result.allowed:
            return True
        left = deadline - time.monotonic()
        if left <= 0 or result.retry_after > left:
            return False
        # Other processes may take the refilled tokens first: loop and ask again.
        pause.wait(max(result.retry_after, 0.001))


_local_bucket = LocalTokenBucket()
_redis_buckets: dict[str, RedisTokenBucket] = {}
_fallback_buckets: dict[tuple[int, int], FallbackBucket] = {}
_buckets_lock = threading.Lock()


def redis_bucket() -> RedisTokenBucket | None:
    """This process's Redis bucket (``settings.REDIS_URL``, ``RATE_LIMIT_KEY_PREFIX``); None without Redis."""
    from django.conf import settings

    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return None
    prefix = getattr(settings, "RATE_LIMIT_KEY_PREFIX", "") or "otpportal:bucket:"
    with _buckets_lock:
        bucket = _redis_buckets.get(url + prefix)
        if bucket is None:
            bucket = _redis_buckets[url + prefix] = RedisTokenBucket.from_url(url, prefix=prefix)
        return bucket


def redis_client() -> redis.Redis | None:
    """This process's Redis client for the limits (bounded timeouts), or None without Redis."""
    bucket = redis_bucket()
    return bucket._client if bucket is not None else None


def default_bucket(fallback: TokenBucket | None = None) -> TokenBucket:
    """The bucket for this deployment: Redis when ``settings.REDIS_URL`` is set, falling back to
    ``fallback`` (default: per process) while Redis does not answer; else ``fallback`` alone."""
    fallback = fallback if fallback is not None else _local_bucket
    primary = redis_bucket()
    if primary is None:
        return fallback
    with _buckets_lock:
        key = (id(primary), id(fallback))
        bucket = _fallback_buckets.get(key)
        if bucket is None:
            bucket = _fallback_buckets[key] = FallbackBucket(primary, fallback)
        return bucket
