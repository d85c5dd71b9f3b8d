"""The client's address, for lock-outs and per-address limits (review 8.9).

Behind a load balancer every request comes from the balancer's address, so
keying on ``REMOTE_ADDR`` would make one client's failures everyone's. Only
the proxies we run can be trusted, and each appends the address it received
from to ``X-Forwarded-For``; the entries to their left are whatever the client
sent. So with ``TRUSTED_PROXY_COUNT = N`` the client is the Nth entry from
the right; with 0 (the default) the header is ignored, as anyone can send it.

Used by django-axes (``AXES_CLIENT_IP_CALLABLE``) and by the API's
failed-authentication limit (``accounts.authentication``).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings


def _address(value: str) -> str | None:
    """A bare IP address, or None when ``value`` is not one."""
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.5:51234"
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_ip(request: Any) -> str:
    """The client's address as the trusted proxies saw it (see the module docstring)."""
    meta = request.META
    remote = meta.get("REMOTE_ADDR", "") or ""
    count = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    if count <= 0:
        return remote
    forwarded = [part for part in (meta.get("HTTP_X_FORWARDED_FOR", "") or "").split(",") if part.strip()]
    if len(forwarded) < count:  # not through all our proxies: nothing in the header is trustworthy
        return remote
    return _address(forwarded[-count]) or remote
