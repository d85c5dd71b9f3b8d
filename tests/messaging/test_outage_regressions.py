"""What the fault drills (issue 14, drills 2 and 3) found, pinned by fast tests: a database or
Redis out of reach answers 503 (never a 500 page); the limits count in the database while
Redis does not answer; a receipt that cannot be recorded is deferred, not acknowledged; a
provider's answer is written again once the database is back; the broker connection takes
a closed Redis channel for a lost connection (the worker reconnects instead of exiting)."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from django.db import OperationalError
from django.test import RequestFactory

from billing import services as billing
from messaging import services
from messaging.limits import FallbackBucket, TakeResult
from messaging.models import Message
from messaging.providers import registry
from messaging.providers.base import (
    DeliveryReport,
    DeliveryState,
    OutboundMessage,
    Outcome,
    ProviderResult,
    ReportDeferred,
)
from messaging.services import dispatch
from messaging.services.delivery import receipt_record
from otpportal import outage
from tests.conftest import Cast, api_client
from tests.messaging.helpers import post


def _database_gone(*args: Any, **kwargs: Any) -> Any:
    raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")


def _redis_gone(*args: Any, **kwargs: Any) -> Any:
    raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


# --- 503, never a 500 page --------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("gone", [_database_gone, _redis_gone], ids=["database", "redis"])
def test_an_api_request_during_an_outage_is_503_in_the_contracts_shape(
    cast: Cast, monkeypatch: pytest.MonkeyPatch, gone: Any
) -> None:
    monkeypatch.setattr("accounts.selectors.api_key_for_secret", gone)
    response = api_client(cast.acme_live_key).get("/api/v1/balance")
    assert response.status_code == 503
    assert response["Retry-After"] == str(outage.RETRY_AFTER)
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == "service_unavailable"
    assert {"message", "details"} <= set(body["error"])


@pytest.mark.django_db
def test_a_dashboard_page_during_an_outage_is_a_503_page(cast: Cast, client, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    client.force_login(cast.owner)
    monkeypatch.setattr("accounts.selectors.customers_for_user", _database_gone)
    response = client.get("/")
    assert response.status_code == 503 and response["Content-Type"].startswith("text/html")
    assert b"503" in response.content


def test_an_outage_raised_outside_a_view_is_a_503_too() -> None:
    """handler500: an error in a middleware (the session read) never reaches process_exception."""
    request = RequestFactory().get("/billing/")
    try:
        _database_gone()
    except OperationalError:
        response = outage.handler500(request)
    assert response.status_code == 503 and response["Retry-After"] == str(outage.RETRY_AFTER)
    try:
        raise ValueError("a real bug")
    except ValueError:
        assert outage.handler500(request).status_code == 500


# --- the limits while Redis does not answer ---------------------------------------------------


class Bucket:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls = 0

    def take(self, key: str, *, rate: float, capacity: float, cost: float = 1.0) -> TakeResult:
        self.calls += 1
        if self.fail:
            _redis_gone()
        return TakeResult(allowed=True)


def test_limits_count_in_the_fallback_while_redis_does_not_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    primary, fallback = Bucket(fail=True), Bucket()
    clock = [1000.0]
    monkeypatch.setattr("messaging.limits.time.monotonic", lambda: clock[0])
    bucket = FallbackBucket(primary, fallback, pause=5.0)
    assert bucket.take("k", rate=1, capacity=1).allowed
    assert bucket.take("k", rate=1, capacity=1).allowed
    assert (primary.calls, fallback.calls) == (1, 2)  # Redis is not asked again within the pause
    primary.fail = False
    clock[0] += 5.0
    assert bucket.take("k", rate=1, capacity=1).allowed
    assert (primary.calls, fallback.calls) == (2, 2)  # Redis answers again: it counts again


# --- receipts and answers kept through a database outage ---------------------------------------


def test_a_receipt_that_cannot_be_recorded_is_deferred(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("messaging.services.delivery.delivery_record", _database_gone)
    report = DeliveryReport(provider="smpp:main", provider_message_id="abc", state=DeliveryState.DELIVERED)
    with pytest.raises(ReportDeferred):
        receipt_record(report)


class Accepting:
    name = "accepting"

    def send(self, message: OutboundMessage) -> ProviderResult:
        return ProviderResult(Outcome.ACCEPTED, provider_message_id="a1")


@pytest.mark.django_db(transaction=True)  # the worker closes the broken connection and opens a new one
def test_a_providers_answer_is_written_once_the_database_is_back(
    cast: Cast,
    settings,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    registry.register("accepting", Accepting())
    settings.PROVIDER_SMS = "accepting"
    try:
        billing.lot_create(customer=cast.acme, amount=100_000, reference="bank-1")
        response = post(api_client(cast.acme_live_key), "/api/v1/verifications", {"to": "0812-3456-7890"})
        message_id = response.json()["message_id"]
        real = dispatch._record_result
        failures = [1, 1]

        def flaky(*args: Any, **kwargs: Any) -> str:
            if failures:
                failures.pop()
                _database_gone()
            return real(*args, **kwargs)

        monkeypatch.setattr(dispatch, "_record_result", flaky)
        monkeypatch.setattr(dispatch.threading.Event, "wait", lambda self, timeout=None: True)  # no real pause
        assert services.message_dispatch(message_id=message_id) == "sent"
        message = Message.objects.get(pk=message_id)
        assert (message.status, message.provider_message_id, message.submits) == ("sent", "a1", 1)
    finally:
        registry.reset()


def test_a_closed_redis_channel_is_a_lost_connection_for_the_broker() -> None:
    """kombu raises AttributeError from a Redis channel whose connection is gone; taken for a
    connection error, the worker reconnects instead of exiting for good."""
    from otpportal.celery import app

    with app.connection_for_write() as connection:
        assert AttributeError in connection.connection_errors
