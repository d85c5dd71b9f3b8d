"""Ceiling C2's task: does nothing but count itself, so the bench knows when
all have run. The bench's workers load it with ``--include bench.noop``."""

from __future__ import annotations

import redis
from celery import shared_task

_clients: dict[str, redis.Redis] = {}


@shared_task(name="bench.noop.noop", ignore_result=True, acks_late=True)
def noop(redis_url: str, counter: str) -> None:
    client = _clients.get(redis_url)
    if client is None:
        client = _clients[redis_url] = redis.Redis.from_url(redis_url)
    client.incr(counter)
