"""A database lost in the middle of a claim (issue 14, drill 3: PostgreSQL restarted under
load): the claim is rolled back with it, so the message stays ``queued`` for the outbox sweep
instead of sitting ``sending``, unsent, until DISPATCH_CLAIM_TIMEOUT (150 s in production)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import OperationalError

from billing import services as billing
from messaging import services
from messaging.models import Message, MessageStatusChange
from messaging.providers import registry
from messaging.providers.base import OutboundMessage, Outcome, ProviderResult
from tests.conftest import Cast, api_client
from tests.messaging.helpers import post

pytestmark = pytest.mark.django_db


class Recording:
    name = "recording"

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    def send(self, message: OutboundMessage) -> ProviderResult:
        self.sent.append(message)
        return ProviderResult(Outcome.ACCEPTED, provider_message_id=f"r{len(self.sent)}")


@pytest.fixture
def provider(settings) -> Iterator[Recording]:  # type: ignore[no-untyped-def]
    recording = Recording()
    registry.register("recording", recording)
    settings.PROVIDER_SMS = "recording"
    yield recording
    registry.reset()


def test_a_claim_whose_history_cannot_be_written_is_rolled_back(
    cast: Cast, provider: Recording, monkeypatch: pytest.MonkeyPatch
) -> None:
    billing.lot_create(customer=cast.acme, amount=100_000, reference="bank-1")
    response = post(api_client(cast.acme_live_key), "/api/v1/verifications", {"to": "0812-3456-7890"})
    assert response.status_code == 201, response.content
    message = Message.objects.get(pk=response.json()["message_id"])
    real_create = MessageStatusChange.objects.bulk_create

    def database_gone(rows, *args, **kwargs):  # type: ignore[no-untyped-def]
        rows = list(rows)
        if any(row.new == "sending" for row in rows):
            raise OperationalError("server closed the connection unexpectedly")
        return real_create(rows, *args, **kwargs)

    monkeypatch.setattr(MessageStatusChange.objects, "bulk_create", database_gone)
    with pytest.raises(OperationalError):
        services.message_dispatch(message_id=message.id)
    message.refresh_from_db()
    assert (message.status, message.attempts, message.claimed_at) == ("queued", 0, None)
    assert provider.sent == []

    monkeypatch.setattr(MessageStatusChange.objects, "bulk_create", real_create)
    assert services.message_dispatch(message_id=message.id) == "sent"
    assert len(provider.sent) == 1
    assert list(MessageStatusChange.objects.filter(message=message).values_list("old", "new")) == [
        ("", "queued"),
        ("queued", "sending"),
        ("sending", "sent"),
    ]
