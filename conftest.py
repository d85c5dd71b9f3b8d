"""Suite-wide rules: which tests need PostgreSQL or Redis, and what CI demands.

Without those servers the tests marked ``postgres`` / ``redis`` are skipped,
with the reason shown in the summary. Under ``CI=true`` a missing server or
any skipped test fails the run.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

CI = os.environ.get("CI") == "true"


def _redis_url() -> str:
    return os.environ.get("REDIS_URL", "")


def _redis_up() -> bool:
    url = _redis_url()
    if not url:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from django.db import connection

    on_postgres = connection.vendor == "postgresql"
    redis_up = _redis_up()
    if CI and not on_postgres:
        raise pytest.UsageError("CI=true but the suite is not on PostgreSQL (set DATABASE_URL).")
    if CI and not redis_up:
        raise pytest.UsageError(f"CI=true but Redis does not answer at {_redis_url() or '(REDIS_URL unset)'}.")
    needs_postgres = pytest.mark.skipif(not on_postgres, reason="needs PostgreSQL (row locks); running on SQLite")
    needs_redis = pytest.mark.skipif(not redis_up, reason="needs Redis; none answers at REDIS_URL")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(needs_postgres)
        if "redis" in item.keywords:
            item.add_marker(needs_redis)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter: Any = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if CI and skipped:
        reporter.write_line(f"CI=true: {len(skipped)} test(s) were skipped; CI requires every test to run.", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session", autouse=True)
def _redis_keys_per_worker() -> None:
    """Each xdist worker counts its limits under keys of its own: the workers' databases
    give their rows the same ids, so two files counting one customer's pumping window or
    buckets at once would otherwise share the counts (a flaky 429). Processes a test starts
    inherit it through the environment."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker:
        return
    from django.conf import settings

    prefix = f"{settings.RATE_LIMIT_KEY_PREFIX}{worker}:"
    settings.RATE_LIMIT_KEY_PREFIX = os.environ["RATE_LIMIT_KEY_PREFIX"] = prefix


@pytest.fixture(autouse=True)
def _redis_counts_forgotten_on_sqlite() -> Any:
    """On SQLite a rolled-back test gives its ids back, so the next test's customer has the
    same id as the last one's and would inherit its counts in Redis (pumping window,
    buckets): a test that counts passed alone and failed after another. There, the keys
    under this run's prefix are dropped after each test (PostgreSQL's ids never repeat)."""
    yield
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "sqlite" or not _redis_url():
        return
    import redis

    try:
        client = redis.Redis.from_url(_redis_url(), socket_connect_timeout=1)
        keys = list(client.scan_iter(match=f"{settings.RATE_LIMIT_KEY_PREFIX}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
    except redis.RedisError:
        return
