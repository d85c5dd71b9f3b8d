"""Fixtures of the sender-ID tests: an eligible customer (R-SID-3), uploads
in the test's own media folder, emails sent inline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings

from billing import services as billing
from billing.pricing import clear_cache
from tests.conftest import Cast


@pytest.fixture(autouse=True)
def _fresh_price_cache() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


@pytest.fixture(autouse=True)
def media_root(settings: Settings, tmp_path: Path) -> Path:
    """Uploads land in the test's own folder (and can be counted there)."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def eager() -> Iterator[None]:
    """Celery tasks (the emails) run inline when enqueued."""
    from otpportal.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = old


@pytest.fixture
def eligible(cast: Cast) -> Cast:
    """Acme made one top-up of Rp 2.500.000 (R-SID-3 met)."""
    billing.lot_create(customer=cast.acme, amount=2_500_000, reference="ACME-BCA-SID")
    return cast
