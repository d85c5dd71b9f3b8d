"""The SMS-pumping window in Redis (issue 11): what ``guards.pumping_check``
needs, counted in one round trip instead of an aggregate over the
customer's verifications on every send.

Per customer and number range (``+`` and ``PUMPING_PREFIX_DIGITS`` digits)
three sorted sets, scored by time, trimmed to the window on every call:
the distinct numbers sent to, the live verifications started, and those of
them approved. ``window_take`` reads the counts and, unless the send is to
be refused, records it, atomically (a Lua script); ``approval_record`` adds
an approved verification. The counts are those the database query gives
(``guards.pumping_counts_in_database``, still used without Redis and while
Redis does not answer), except that a send the guard let through and that
failed later (a refused charge, a per-number limit) is counted too: the
guard errs towards caution.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings

from messaging.limits import FALLBACK_PAUSE, redis_client

_WINDOW_LUA = """
local since = tonumber(ARGV[1]) - tonumber(ARGV[2])
for i = 1, 3 do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. since) end
local numbers = redis.call('ZCARD', KEYS[1])
local total = redis.call('ZCARD', KEYS[2])
local approved = redis.call('ZCARD', KEYS[3])
if ARGV[3] == '1' and numbers >= tonumber(ARGV[4]) then
  local rate = 0
  if total > 0 then rate = approved / total end
  if rate < tonumber(ARGV[5]) then return {0, numbers, total, approved} end
end
if ARGV[8] == '1' then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[6])
  redis.call('ZADD', KEYS[2], ARGV[1], ARGV[7])
  local ttl = math.ceil(tonumber(ARGV[2])) + 60
  for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ttl) end
end
return {1, numbers, total, approved}
"""

_APPROVED_LUA = """
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])) + 60)
return 1
"""


_scripts: dict[tuple[int, str], Any] = {}


def _script(client: Any, source: str) -> Any:
    """The script registered once per client (EVALSHA after the first call)."""
    key = (id(client), source)
    script = _scripts.get(key)
    if script is None:
        script = _scripts[key] = client.register_script(source)
    return script


@dataclass(frozen=True)
class WindowCounts:
    allowed: bool
    numbers: int
    total: int
    approved: int


def prefix_of(e164: str) -> str:
    return e164[: settings.PUMPING_PREFIX_DIGITS + 1]  # '+' and the digits


def _keys(customer_id: int, prefix: str) -> list[str]:
    base = f"{getattr(settings, 'RATE_LIMIT_KEY_PREFIX', '') or 'otpportal:bucket:'}pump:{customer_id}:{prefix}"
    return [f"{base}:numbers", f"{base}:verifications", f"{base}:approved"]


_down_until = 0.0  # monotonic time until which Redis is not tried again after a failure


def _usable_client() -> Any:
    """The Redis client; None without Redis, and for FALLBACK_PAUSE seconds after
    Redis failed (a hung Redis must not cost every send its timeout)."""
    if time.monotonic() < _down_until:
        return None
    return redis_client()


def _failed() -> None:
    global _down_until
    _down_until = time.monotonic() + FALLBACK_PAUSE


def window_take(
    *, customer_id: int, e164: str, verification_id: str, now: datetime, enforce: bool
) -> WindowCounts | None:
    """The window's counts before this send, and the send recorded (when it
    starts a verification: ``verification_id``) unless ``enforce`` and the
    range is to be refused. None without Redis or while it is taken for down;
    raises ``redis.RedisError`` when Redis does not answer."""
    client = _usable_client()
    if client is None:
        return None
    try:
        result = _script(client, _WINDOW_LUA)(
            keys=_keys(customer_id, prefix_of(e164)),
            args=[
                repr(now.timestamp()),
                str(settings.PUMPING_WINDOW_SECONDS),
                "1" if enforce else "0",
                str(settings.PUMPING_MIN_NUMBERS),
                repr(float(settings.PUMPING_MIN_APPROVAL_RATE)),
                e164,
                verification_id,
                "1" if verification_id else "0",
            ],
        )
    except Exception:
        _failed()
        raise
    allowed, numbers, total, approved = (int(v) for v in result)
    return WindowCounts(bool(allowed), numbers, total, approved)


def approval_record(*, customer_id: int, e164: str, verification_id: str, created_at: datetime) -> None:
    """An approved live verification, scored by when it was started (as the
    database query counts it). Raises ``redis.RedisError`` when Redis does not answer."""
    client = _usable_client()
    if client is None:
        return
    try:
        _script(client, _APPROVED_LUA)(
            keys=[_keys(customer_id, prefix_of(e164))[2]],
            args=[repr(created_at.timestamp()), verification_id, str(settings.PUMPING_WINDOW_SECONDS)],
        )
    except Exception:
        _failed()
        raise
