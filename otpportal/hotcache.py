"""Per-process caches for what every send reads and almost never changes
(issue 11): the API key behind a secret, a customer's message template, its
active sender ID per operator, its webhook endpoints.

Each entry lives ``settings.HOT_CACHE_SECONDS`` (default 5; 0 turns the
caches off). A change made in this process clears every cache at once
(``clear_all``, called from the models' ``post_save``/``post_delete``
signals); a change made in another process takes effect there within the
time-to-live. That bound is the contract: a revoked key, a suspended or
terminated customer, an edited template or a suspended sender ID stop being
used everywhere within ``HOT_CACHE_SECONDS``; so does a customer's switch
between prepaid and postpaid (a staff action, rare). Amounts never come from
these caches: balances, lots, the guarantee and the month's usage are read
under their locks on every charge.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import Model
from django.db.models.signals import post_delete, post_save

V = TypeVar("V")

MAX_ENTRIES = 5_000  # a bound on memory: past it the expired entries go, or all of them
_caches: list[TtlCache[object]] = []
_lock = threading.Lock()


def clock() -> float:
    """Monotonic seconds (a function, so that tests can move it)."""
    return time.monotonic()


class TtlCache(Generic[V]):
    """``get(key, load)``: the cached value while it is fresh, else ``load()``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._entries: dict[Hashable, tuple[float, object]] = {}
        with _lock:
            _caches.append(self)  # type: ignore[arg-type]

    def get(self, key: Hashable, load: Callable[[], V]) -> V:
        ttl = float(getattr(settings, "HOT_CACHE_SECONDS", 0) or 0)
        if ttl <= 0:
            return load()
        now = clock()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]  # type: ignore[return-value]
        value = load()
        if len(self._entries) >= MAX_ENTRIES:
            fresh = {k: v for k, v in self._entries.items() if v[0] > now}
            self._entries = fresh if len(fresh) < MAX_ENTRIES // 2 else {}
        self._entries[key] = (now + ttl, value)
        return value

    def clear(self) -> None:
        self._entries = {}


def clear_all(*args: object, **kwargs: object) -> None:
    """Empty every hot cache of this process, now and again when the current
    transaction commits (a signal receiver too)."""
    _clear()
    transaction.on_commit(_clear)


def _clear() -> None:
    for cache in list(_caches):
        cache.clear()


def clear_on_change(*models: type[Model]) -> None:
    """Clear the caches whenever a row of these models is saved or deleted
    (called from the apps' ``ready``). Writes by ``QuerySet.update`` send no
    signal: the services that make them call ``clear_all`` themselves."""
    for model in models:
        post_save.connect(clear_all, sender=model, dispatch_uid=f"hotcache-save-{model._meta.label}")
        post_delete.connect(clear_all, sender=model, dispatch_uid=f"hotcache-delete-{model._meta.label}")
