"""DRF throttle backed by the atomic per-key bucket (not DRF's cache throttle)."""

from __future__ import annotations

from typing import Any

from rest_framework.throttling import BaseThrottle

from accounts.models import ApiKey
from messaging import guards


class ApiKeyRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Any, view: Any) -> bool:
        if not isinstance(request.auth, ApiKey):
            return True
        result = guards.key_rate(api_key_id=request.auth.pk)
        self._wait = None if result.allowed else result.retry_after
        return result.allowed

    def wait(self) -> float | None:
        return self._wait


def auth_failure_guard(ip: str, *, record: bool) -> float | None:
    """Hook for accounts.authentication (settings.API_AUTH_FAILURE_GUARD):
    seconds to wait when the IP is over its failure limit, else None. ``ip``
    is ``accounts.client_ip.client_ip(request)``: the client behind our
    trusted proxies, not the load balancer (review 8.9)."""
    result = guards.auth_failures_exceeded(ip=ip, record=record)
    return None if result.allowed else result.retry_after
