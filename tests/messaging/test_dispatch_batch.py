"""Issue 11: one dispatch task claims a batch of ready SMS and submits them with several
``submit_sm`` outstanding on one bind, over a real socket to the local SMSC.

What a batch must keep of the one-message pipeline: each message claimed once (two workers
never take the same row: ``SKIP LOCKED``), exactly one ``submit_sm`` per message, the
history queued → sending → sent and the customer's event for each, a refusal or an expired
code handled per message (R-PRE-4: not charged), nothing that is not ready, not SMS or a test
message taken along. Needs PostgreSQL (``SKIP LOCKED``); on SQLite a claim is one message.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from billing import services as billing
from billing.models import Charge
from devservers.smsc import SmscServer
from messaging import services
from messaging.models import Message, MessageStatusChange, ProviderReference, Verification, WebhookEvent
from tests.conftest import Cast, api_client
from tests.helpers import wait_for
from tests.messaging.helpers import post

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_price_list", "fresh_providers", "without_redis"),
    pytest.mark.postgres,
]


@pytest.fixture
def smsc(settings, funded_smsc: SmscServer) -> SmscServer:  # type: ignore[no-untyped-def]
    settings.DISPATCH_BATCH = 32
    settings.SMPP_WINDOW = 4
    return funded_smsc


def number(i: int) -> str:
    return f"0812-3456-{7000 + i:04d}"


def queue_verifications(cast: Cast, count: int, key: str | None = None) -> list[str]:
    client = api_client(key or cast.acme_live_key)
    ids = []
    for i in range(count):
        response = post(client, "/api/v1/verifications", {"to": number(i)})
        assert response.status_code == 201, response.content
        ids.append(response.json()["message_id"])
    return ids


def test_one_task_sends_the_ready_sms_of_others_once_each_with_history_and_receipts(
    cast: Cast, smsc: SmscServer
) -> None:
    ids = queue_verifications(cast, 12)
    assert services.message_dispatch(message_id=ids[5]) == "sent"
    assert {m.status for m in Message.objects.filter(pk__in=ids)} <= {"sent", "delivered"}
    submits = smsc.wait_for_submits(12)
    assert len(smsc.submits) == 12 and len({s.destination_addr for s in submits}) == 12
    # their own tasks come later and find nothing to do
    assert [services.message_dispatch(message_id=i) for i in ids] == ["not-claimed"] * 12
    assert len(smsc.submits) == 12
    for message in Message.objects.filter(pk__in=ids):
        moves = list(MessageStatusChange.objects.filter(message=message).values_list("old", "new"))
        assert moves[:3] == [("", "queued"), ("queued", "sending"), ("sending", "sent")], moves
        reference = ProviderReference.objects.get(message=message)
        assert reference.provider_message_id == message.provider_message_id != ""
        assert message.attempts == 1 and message.submits == 1 and message.sent_at is not None
    wait_for(lambda: Message.objects.filter(pk__in=ids, status="delivered").count() == 12, timeout=10)
    assert Charge.objects.filter(reference__in=ids, reversed_at__isnull=True).count() == 12


def test_a_batch_takes_at_most_dispatch_batch_messages(cast: Cast, smsc: SmscServer, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DISPATCH_BATCH = 4
    ids = queue_verifications(cast, 10)
    assert services.message_dispatch(message_id=ids[9]) == "sent"
    statuses = dict(Message.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert list(statuses.values()).count("queued") == 6
    # the oldest ready ones went with it
    assert {statuses[i] for i in [ids[9], *ids[:3]]} <= {"sent", "delivered"}


def test_batching_off_sends_only_its_own_message(cast: Cast, smsc: SmscServer, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DISPATCH_BATCH = 1
    ids = queue_verifications(cast, 3)
    assert services.message_dispatch(message_id=ids[1]) == "sent"
    statuses = dict(Message.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert statuses[ids[0]] == statuses[ids[2]] == "queued" and statuses[ids[1]] in ("sent", "delivered")


def test_what_is_not_ready_not_sms_or_a_test_is_left_alone(cast: Cast, smsc: SmscServer) -> None:
    ids = queue_verifications(cast, 3)
    later = timezone.now() + timedelta(minutes=1)
    Message.objects.filter(pk=ids[0]).update(next_attempt_at=later)  # a retry not due yet
    billing.lot_create(customer=cast.acme, amount=100_000, reference="bank-2")
    test_ids = queue_verifications(cast, 1, key=cast.acme_test_key)
    wa = post(api_client(cast.acme_live_key), "/api/v1/verifications", {"to": number(50), "channel": "wa"})
    assert wa.status_code == 201, wa.content
    wa_id = wa.json()["message_id"]
    assert services.message_dispatch(message_id=ids[2]) == "sent"
    statuses = dict(Message.objects.values_list("pk", "status"))
    assert {statuses[ids[1]], statuses[ids[2]]} <= {"sent", "delivered"}
    assert statuses[ids[0]] == "queued" and statuses[test_ids[0]] == "queued" and statuses[wa_id] == "queued"
    assert Message.objects.get(pk=ids[0]).next_attempt_at == later
    assert len(smsc.wait_for_submits(2)) == 2


def test_two_workers_racing_never_claim_one_message_twice(cast: Cast, smsc: SmscServer, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DISPATCH_BATCH = 8
    ids = queue_verifications(cast, 40)
    results: list[str] = []
    barrier = threading.Barrier(4)

    def worker(offset: int) -> None:
        barrier.wait()
        try:
            for message_id in ids[offset::4]:
                results.append(services.message_dispatch(message_id=message_id))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 40
    assert Message.objects.filter(pk__in=ids, status__in=["sent", "delivered"]).count() == 40
    assert len(smsc.wait_for_submits(40)) == 40
    assert len(smsc.submits) == 40
    assert sorted(Message.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == [1] * 40
    assert MessageStatusChange.objects.filter(message_id__in=ids, new="sending").count() == 40
    assert results.count("sent") + results.count("not-claimed") == 40 and results.count("sent") >= 5


def test_a_refusal_and_an_expired_code_in_a_batch_are_handled_each_on_its_own(cast: Cast, smsc: SmscServer) -> None:
    ids = queue_verifications(cast, 6)
    refused = Message.objects.get(pk=ids[2])
    smsc.refuse(refused.to.removeprefix("+"), 0x0000000B)  # ESME_RINVDSTADR: permanent
    expired = Message.objects.get(pk=ids[3])
    Verification.objects.filter(pk=expired.verification_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.message_dispatch(message_id=ids[0]) == "sent"
    statuses = dict(Message.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert statuses[ids[2]] == "rejected" and statuses[ids[3]] == "failed"
    assert {statuses[i] for i in (ids[0], ids[1], ids[4], ids[5])} <= {"sent", "delivered"}  # receipts are quick
    # R-PRE-4: neither is charged; the expired code never reached the SMSC
    assert Charge.objects.filter(reference__in=[ids[2], ids[3]], reversed_at__isnull=False).count() == 2
    assert Charge.objects.filter(reference__in=ids, reversed_at__isnull=True).count() == 4
    destinations = {s.destination_addr for s in smsc.wait_for_submits(5)}
    assert expired.to.removeprefix("+") not in destinations


def test_each_message_of_a_batch_gets_its_status_event(cast: Cast, smsc: SmscServer) -> None:
    services.endpoint_create(customer=cast.acme, url="https://example.test/hooks", events=["message.status"])
    ids = queue_verifications(cast, 5)
    assert services.message_dispatch(message_id=ids[0]) == "sent"
    events = WebhookEvent.objects.filter(customer=cast.acme, type="message.status")
    sent = [e.payload["data"] for e in events if e.payload["data"]["status"] == "sent"]
    assert sorted(d["id"] for d in sent) == sorted(ids)
