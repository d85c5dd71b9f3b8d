from __future__ import annotations

from collections.abc import Iterator

import pytest

from billing.pricing import clear_cache


@pytest.fixture(autouse=True)
def _fresh_price_cache() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def eager_celery() -> Iterator[None]:
    from otpportal.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = old
