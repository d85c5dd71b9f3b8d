"""A sandbox delivery report held by a worker that was killed is applied by
the sweep once overdue (what an SMSC does for an unacknowledged receipt)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from messaging import services
from messaging.models import Message
from tests.conftest import Cast, api_client
from tests.helpers import money_fixture  # noqa: F401 - registers ``money``

pytestmark = pytest.mark.django_db


def test_the_sweep_applies_an_overdue_sandbox_report_once(cast: Cast, money: None, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SANDBOX_DELIVERY_DELAY = 2.0
    settings.OUTBOX_SWEEP_AFTER = 30
    body = api_client(cast.acme_test_key).post(
        "/api/v1/messages", {"to": "081234567890", "text": "Kode OTP Anda 123456"}, format="json"
    )
    message_id = body.json()["id"]
    # The worker sends it; its delayed report task is then lost with the worker (never run here).
    assert services.message_dispatch(message_id=message_id) == "sent"
    assert Message.objects.get(pk=message_id).status == "sent"
    assert services.outbox_sweep()["sandbox_receipts"] == 0  # not overdue yet
    with time_machine.travel(timezone.now() + timedelta(seconds=33)):
        assert services.outbox_sweep()["sandbox_receipts"] == 1
        assert services.outbox_sweep()["sandbox_receipts"] == 0
    message = Message.objects.get(pk=message_id)
    assert message.status == "delivered"
    assert list(message.history.values_list("new", flat=True)) == ["queued", "sending", "sent", "delivered"]
