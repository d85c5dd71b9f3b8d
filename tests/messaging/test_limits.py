"""Token buckets (messaging.limits): exact caps, refill, waiting, atomic under threads."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from messaging.limits import LocalTokenBucket, RedisTokenBucket, TakeResult, acquire

REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")


def take_many(bucket: LocalTokenBucket | RedisTokenBucket, key: str, count: int, **kw: float) -> list[TakeResult]:
    return [bucket.take(key, **kw) for _ in range(count)]


def hammer(bucket: LocalTokenBucket | RedisTokenBucket, key: str, *, threads: int, each: int, **kw: float) -> int:
    granted = 0
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def work() -> None:
        nonlocal granted
        start.wait()
        mine = sum(1 for _ in range(each) if bucket.take(key, **kw).allowed)
        with lock:
            granted += mine

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
    return granted


# ------------------------------------------------------------------- local


def test_local_bucket_grants_exactly_the_capacity_then_refuses_with_retry_after() -> None:
    bucket = LocalTokenBucket()
    results = take_many(bucket, "k", 6, rate=1.0, capacity=5.0)
    assert [r.allowed for r in results] == [True] * 5 + [False]
    assert results[0].retry_after == 0.0
    assert 0.9 < results[5].retry_after <= 1.0  # one token at 1/s


def test_local_bucket_refills_at_the_rate() -> None:
    bucket = LocalTokenBucket()
    assert bucket.take("k", rate=50.0, capacity=1.0).allowed
    refused = bucket.take("k", rate=50.0, capacity=1.0)
    assert not refused.allowed
    assert 0 < refused.retry_after <= 0.02
    threading.Event().wait(refused.retry_after + 0.005)
    assert bucket.take("k", rate=50.0, capacity=1.0).allowed


def test_local_bucket_keys_are_independent() -> None:
    bucket = LocalTokenBucket()
    assert bucket.take("a", rate=0.1, capacity=1.0).allowed
    assert not bucket.take("a", rate=0.1, capacity=1.0).allowed
    assert bucket.take("b", rate=0.1, capacity=1.0).allowed


def test_local_bucket_charges_the_cost() -> None:
    bucket = LocalTokenBucket()
    assert bucket.take("k", rate=0.1, capacity=5.0, cost=3.0).allowed
    refused = bucket.take("k", rate=1.0, capacity=5.0, cost=3.0)
    assert not refused.allowed
    assert 0.9 < refused.retry_after <= 1.0  # 2 left, needs 1 more


@pytest.mark.parametrize(("rate", "capacity", "cost"), [(0.0, 1.0, 1.0), (1.0, 0.0, 1.0), (1.0, 2.0, 3.0)])
def test_bucket_refuses_impossible_arguments(rate: float, capacity: float, cost: float) -> None:
    with pytest.raises(ValueError):
        LocalTokenBucket().take("k", rate=rate, capacity=capacity, cost=cost)


def test_local_bucket_is_exact_under_eight_threads() -> None:
    granted = hammer(LocalTokenBucket(), "k", threads=8, each=100, rate=0.001, capacity=100.0)
    assert granted == 100


def test_acquire_waits_for_the_next_token() -> None:
    bucket = LocalTokenBucket()
    assert acquire(bucket, "k", rate=20.0, capacity=1.0, timeout=0.0)
    started = time.monotonic()
    assert acquire(bucket, "k", rate=20.0, capacity=1.0, timeout=1.0)
    waited = time.monotonic() - started
    assert 0.03 <= waited < 0.5


def test_acquire_gives_up_at_once_when_the_wait_exceeds_the_timeout() -> None:
    bucket = LocalTokenBucket()
    assert acquire(bucket, "k", rate=0.1, capacity=1.0, timeout=0.0)
    started = time.monotonic()
    assert not acquire(bucket, "k", rate=0.1, capacity=1.0, timeout=0.5)
    assert time.monotonic() - started < 0.2  # the next token is 10 s away: no point waiting


# ------------------------------------------------------------------- redis


@pytest.fixture
def redis_bucket() -> Iterator[tuple[RedisTokenBucket, str]]:
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL)
    prefix = f"test:bucket:{uuid.uuid4().hex}:"
    yield RedisTokenBucket(client, prefix=prefix), prefix
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.mark.redis
def test_redis_bucket_grants_exactly_the_capacity_then_refuses_with_retry_after(
    redis_bucket: tuple[RedisTokenBucket, str],
) -> None:
    bucket, _ = redis_bucket
    results = take_many(bucket, "smpp:main", 6, rate=1.0, capacity=5.0)
    assert [r.allowed for r in results] == [True] * 5 + [False]
    assert 0.9 < results[5].retry_after <= 1.0


@pytest.mark.redis
def test_redis_bucket_refills_by_the_servers_clock(redis_bucket: tuple[RedisTokenBucket, str]) -> None:
    bucket, prefix = redis_bucket
    assert bucket.take("k", rate=20.0, capacity=1.0).allowed
    refused = bucket.take("k", rate=20.0, capacity=1.0)
    assert not refused.allowed
    assert 0 < refused.retry_after <= 0.05
    threading.Event().wait(refused.retry_after + 0.01)
    assert bucket.take("k", rate=20.0, capacity=1.0).allowed
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL)
    state = client.hgetall(f"{prefix}k")
    ttl_ms = client.pttl(f"{prefix}k")
    client.close()
    assert set(state) == {b"tokens", b"ts"}
    assert 0 < ttl_ms <= 1050  # forgotten once it would be full again (+1 s)


@pytest.mark.redis
def test_redis_bucket_is_atomic_under_eight_threads(redis_bucket: tuple[RedisTokenBucket, str]) -> None:
    bucket, _ = redis_bucket
    granted = hammer(bucket, "shared", threads=8, each=40, rate=0.001, capacity=100.0)
    assert granted == 100


@pytest.mark.redis
def test_acquire_works_with_the_redis_bucket(redis_bucket: tuple[RedisTokenBucket, str]) -> None:
    bucket, _ = redis_bucket
    assert acquire(bucket, "k", rate=20.0, capacity=1.0, timeout=0.0)
    assert acquire(bucket, "k", rate=20.0, capacity=1.0, timeout=1.0)
    assert not acquire(bucket, "k", rate=0.5, capacity=1.0, timeout=0.1)
