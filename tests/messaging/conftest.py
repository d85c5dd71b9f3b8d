from __future__ import annotations

from collections.abc import Iterator

import pytest

from billing.pricing import clear_cache


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def eager(settings, django_capture_on_commit_callbacks) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Celery tasks run inline when enqueued (after commit)."""
    from otpportal.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    settings.REDIS_URL = ""  # limits in the database: tests stay independent of each other
    yield
    app.conf.task_always_eager = old


@pytest.fixture
def local_webhooks(settings) -> None:  # type: ignore[no-untyped-def]
    """Let webhook deliveries reach receivers on 127.0.0.1. Review 8.7: off by
    default (SSRF), so turned on only by the tests that use a local receiver."""
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
