from __future__ import annotations

from collections.abc import Iterator

import pytest

from billing.pricing import clear_cache
from messaging.providers import registry
from tests.messaging.helpers import Scripted


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def funded(cast):  # type: ignore[no-untyped-def]
    """Acme with a deposit of Rp 100.000 (tier 1); modules that need another amount define
    their own."""
    from billing import services as billing

    billing.lot_create(customer=cast.acme, amount=100_000, reference="bank-1")
    return cast


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


@pytest.fixture
def funded_smsc(settings, cast) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """Acme funded, SMS over SMPP to a local SMSC (fast receipts), pumping checks out of the
    way of tests that send to many numbers of one range on purpose."""
    from billing import services as billing
    from devservers.smsc import SmscServer

    billing.lot_create(customer=cast.acme, amount=100_000, reference="bank-1")
    with SmscServer(receipt_delay=0.05) as server:
        settings.SMPP_ACCOUNTS = [f"smpp://otp:secret@127.0.0.1:{server.port}/?name=main&tps=1000"]
        settings.PROVIDER_SMS = "smpp"
        settings.PUMPING_MIN_NUMBERS = 1000
        yield server


@pytest.fixture
def scripted(settings) -> Iterator[Scripted]:  # type: ignore[no-untyped-def]
    provider = Scripted()
    registry.register("scripted", provider)
    settings.PROVIDER_SMS = "scripted"
    yield provider
    registry.reset()
