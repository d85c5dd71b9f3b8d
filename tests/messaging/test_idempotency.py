"""Idempotency-Key: the same key and body replay; another body is a 409."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from billing import selectors as billing_selectors
from billing import services as billing
from billing.models import Charge
from messaging.models import Message
from tests.conftest import Cast, api_client
from tests.messaging.helpers import assert_error, post

BODY = {"to": "0812-3456-7890", "text": "Kode OTP Anda 482913"}


@pytest.mark.django_db
@pytest.mark.usefixtures("eager")
def test_same_key_same_body_replays_without_a_second_charge(cast: Cast, django_capture_on_commit_callbacks) -> None:
    billing.lot_create(customer=cast.acme, amount=10_000, reference="a")
    client = api_client(cast.acme_live_key)
    with django_capture_on_commit_callbacks(execute=True):
        first = post(client, "/api/v1/messages", BODY, HTTP_IDEMPOTENCY_KEY="order-1")
        again = post(client, "/api/v1/messages", BODY, HTTP_IDEMPOTENCY_KEY="order-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Charge.objects.count() == 1 and Message.objects.count() == 1
    conflict = post(
        client, "/api/v1/messages", {**BODY, "text": "Kode OTP Anda 999111"}, HTTP_IDEMPOTENCY_KEY="order-1"
    )
    assert_error(conflict, 409, "idempotency_conflict")
    assert Charge.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("eager")
def test_keys_are_per_customer_and_bounded(cast: Cast, django_capture_on_commit_callbacks) -> None:
    billing.lot_create(customer=cast.acme, amount=10_000, reference="a")
    billing.lot_create(customer=cast.globex, amount=10_000, reference="a")
    with django_capture_on_commit_callbacks(execute=True):
        a = post(api_client(cast.acme_live_key), "/api/v1/messages", BODY, HTTP_IDEMPOTENCY_KEY="k")
        b = post(api_client(cast.globex_live_key), "/api/v1/messages", BODY, HTTP_IDEMPOTENCY_KEY="k")
    assert a.json()["id"] != b.json()["id"]
    assert_error(
        post(api_client(cast.acme_live_key), "/api/v1/messages", BODY, HTTP_IDEMPOTENCY_KEY="x" * 65),
        400,
        "invalid_request",
        "Idempotency-Key",
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("eager")
def test_a_refused_request_may_be_retried_with_the_same_key(cast: Cast, django_capture_on_commit_callbacks) -> None:
    client = api_client(cast.acme_live_key)
    assert_error(post(client, "/api/v1/messages", BODY, HTTP_IDEMPOTENCY_KEY="k1"), 402, "insufficient_balance")
    billing.lot_create(customer=cast.acme, amount=10_000, reference="a")
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, "/api/v1/messages", BODY, HTTP_IDEMPOTENCY_KEY="k1").status_code == 201


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("shipped_price_list", "eager")
def test_concurrent_requests_with_one_key_charge_once(cast: Cast) -> None:
    billing.lot_create(customer=cast.acme, amount=100_000, reference="a")
    barrier = threading.Barrier(8)
    statuses: list[int] = []
    ids: list[str] = []
    lock = threading.Lock()

    def one(_: int) -> None:
        try:
            client = api_client(cast.acme_live_key)
            barrier.wait(timeout=30)
            response = post(client, "/api/v1/messages", BODY, HTTP_IDEMPOTENCY_KEY="same")
            with lock:
                statuses.append(response.status_code)
                ids.append(response.json().get("id", ""))
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, range(8)))
    assert statuses == [201] * 8
    assert len(set(ids)) == 1
    assert Charge.objects.count() == 1
    assert billing_selectors.balance(customer=cast.acme) == 100_000 - 650


@pytest.mark.django_db
@pytest.mark.usefixtures("eager")
def test_keys_expire_after_24_hours(cast: Cast, django_capture_on_commit_callbacks) -> None:
    import time_machine

    from accounts.idempotency import records_purge
    from accounts.models import IdempotencyRecord

    billing.lot_create(customer=cast.acme, amount=10_000, reference="a")
    client = api_client(cast.acme_live_key)
    with time_machine.travel("2026-03-01 10:00 +0700", tick=False), django_capture_on_commit_callbacks(execute=True):
        first = post(client, "/api/v1/messages", BODY, HTTP_IDEMPOTENCY_KEY="day-1")
    with time_machine.travel("2026-03-02 10:00:01 +0700", tick=False), django_capture_on_commit_callbacks(execute=True):
        again = post(client, "/api/v1/messages", BODY, HTTP_IDEMPOTENCY_KEY="day-1")  # a new request now
        assert again.status_code == 201 and again.json()["id"] != first.json()["id"]
    with time_machine.travel("2026-03-03 10:00:02 +0700", tick=False):
        assert records_purge() == 1
    assert not IdempotencyRecord.objects.exists()
