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
