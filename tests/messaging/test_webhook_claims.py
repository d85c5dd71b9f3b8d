"""A webhook delivery is claimed alone (issue 14, fault drills): while another delivery to
the same endpoint is being claimed, this one is still delivered at once.

The claim used to lock the joined endpoint and event rows too (``select_for_update`` with
``select_related``), so with two webhook workers a claim in progress made every other
delivery to the same endpoint skip (``skip_locked``) and wait for the sweep: 35 of 240
webhooks of a drill came 40 s to 2.5 min late. Real threads, real transactions.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime

import pytest
from django.db import connections
from django.utils import timezone

from devservers.wa_cloud import CallbackReceiver
from messaging import services
from messaging.models import WebhookDelivery
from tests.conftest import Cast

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receiver(local_webhooks: None) -> Iterator[CallbackReceiver]:
    with CallbackReceiver() as server:
        yield server


def test_a_claim_in_progress_does_not_hold_back_other_deliveries_to_the_endpoint(
    cast: Cast, receiver: CallbackReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = services.endpoint_create(customer=cast.acme, url=receiver.url)
    first = services.test_event_send(customer=cast.acme, endpoint_id=endpoint.id)
    second = services.test_event_send(customer=cast.acme, endpoint_id=endpoint.id)

    # The first delivery's claim is held open: its worker is inside the claim's transaction
    # (the row selected for update, the clock read next) until ``release``.
    claiming = threading.Event()
    release = threading.Event()
    real_now = timezone.now

    def now() -> datetime:
        if threading.current_thread().name == "first-claim" and not claiming.is_set():
            claiming.set()
            release.wait(30)
        return real_now()

    monkeypatch.setattr("messaging.services.events.timezone.now", now)

    def claim_first() -> None:
        try:
            services.delivery_attempt(delivery_id=first.pk)
        finally:
            connections.close_all()

    worker = threading.Thread(target=claim_first, name="first-claim")
    worker.start()
    try:
        assert claiming.wait(30), "the first claim did not start"
        result = services.delivery_attempt(delivery_id=second.pk)
    finally:
        release.set()
        worker.join(30)

    assert result is not None, "the second delivery was skipped while the first was being claimed"
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.status == first.status == WebhookDelivery.Status.SUCCEEDED
    assert second.attempts == first.attempts == 1
    assert receiver.wait_for_requests(2, timeout=10)
