"""Issue 11: first attempts of live SMS publish no Celery task each. A send makes sure its
slot's drainer is awake (one ``SET NX`` in Redis); the drainer claims batches from the outbox
until none is ready, over a real socket to the local SMSC.

What must hold: a message queued while its slot's drainer is awake is sent by that drainer,
including one queued in the instant between the drainer's last empty claim and its going to
sleep; without Redis (or with drainers off) a message gets a task of its own as before; a
drainer hands over to a fresh task after DRAIN_SECONDS instead of running forever.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from devservers.smsc import SmscServer
from messaging import queueing, services
from messaging.limits import redis_client
from messaging.models import Message
from messaging.services import dispatch
from tests.conftest import Cast, api_client
from tests.messaging.helpers import post

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_price_list", "fresh_providers"),
    pytest.mark.postgres,
    pytest.mark.redis,
]


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    """The tasks that would have gone to the broker (nobody consumes them in these tests)."""
    calls: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(queueing, "_apply", lambda task, args, **options: calls.append((task, args)))
    return calls


@pytest.fixture
def smsc(settings, funded_smsc: SmscServer) -> Iterator[SmscServer]:  # type: ignore[no-untyped-def]
    settings.DISPATCH_BATCH = 8
    settings.DISPATCH_DRAINERS = 1  # one slot: every message wakes the same drainer
    client, key = redis_client(), queueing.wake_key(0)
    client.delete(key)
    yield funded_smsc
    client.delete(key)


def send(cast: Cast, i: int, key: str | None = None) -> str:
    response = post(api_client(key or cast.acme_live_key), "/api/v1/verifications", {"to": f"0812-3456-{7000 + i}"})
    assert response.status_code == 201, response.content
    return response.json()["message_id"]


def test_sends_wake_the_drainer_once_and_it_sends_them_all(
    cast: Cast, smsc: SmscServer, published: list, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def,type-arg]
    with django_capture_on_commit_callbacks(execute=True):
        ids = [send(cast, i) for i in range(20)]
    # one drainer published for twenty messages, and no task of their own
    assert published == [(queueing.DRAIN, (0,))]
    assert redis_client().exists(queueing.wake_key(0))
    assert services.messages_drain(slot=0) == 20
    assert Message.objects.filter(pk__in=ids, status__in=["sent", "delivered"]).count() == 20
    assert len(smsc.wait_for_submits(20)) == 20 and len(smsc.submits) == 20
    assert not redis_client().exists(queueing.wake_key(0))  # asleep: the next send wakes it again
    with django_capture_on_commit_callbacks(execute=True):
        send(cast, 99)
    assert published == [(queueing.DRAIN, (0,))] * 2


def test_a_message_queued_as_the_drainer_goes_to_sleep_is_sent_by_it(
    cast: Cast, smsc: SmscServer, published: list, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def,type-arg]
    with django_capture_on_commit_callbacks(execute=True):
        first = send(cast, 0)
    real = redis_client()
    late: list[str] = []

    class Racing:
        """Redis, but a send lands (and sees the mark still set) just before the drainer's DELETE."""

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def delete(self, *keys: str) -> int:
            if not late:
                with django_capture_on_commit_callbacks(execute=True):
                    late.append(send(cast, 1))
            return real.delete(*keys)

    monkeypatch.setattr("messaging.limits.redis_client", lambda: Racing())
    assert services.messages_drain(slot=0) == 2
    assert published == [(queueing.DRAIN, (0,))]  # the late send woke nobody: the mark was set
    assert set(Message.objects.filter(pk__in=[first, *late]).values_list("status", flat=True)) <= {"sent", "delivered"}


def test_test_keys_and_whatsapp_keep_a_task_of_their_own(
    cast: Cast, smsc: SmscServer, published: list, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def,type-arg]
    with django_capture_on_commit_callbacks(execute=True):
        test_id = send(cast, 0, key=cast.acme_test_key)
        wa = post(api_client(cast.acme_live_key), "/api/v1/verifications", {"to": "0812-3456-7100", "channel": "wa"})
    assert wa.status_code == 201, wa.content
    assert published == [(queueing.DISPATCH, (test_id,)), (queueing.DISPATCH, (wa.json()["message_id"],))]


def test_without_redis_or_drainers_each_message_gets_its_task(
    cast: Cast, smsc: SmscServer, published: list, settings, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def,type-arg]
    settings.DISPATCH_DRAINERS = 0
    with django_capture_on_commit_callbacks(execute=True):
        one = send(cast, 0)
    settings.DISPATCH_DRAINERS = 1
    settings.REDIS_URL = ""
    with django_capture_on_commit_callbacks(execute=True):
        two = send(cast, 1)
    assert published == [(queueing.DISPATCH, (one,)), (queueing.DISPATCH, (two,))]


def test_a_drainer_hands_over_to_a_fresh_task(
    cast: Cast, smsc: SmscServer, published: list, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def,type-arg]
    monkeypatch.setattr(dispatch, "DRAIN_SECONDS", 0.0)
    with django_capture_on_commit_callbacks(execute=True):
        ids = [send(cast, i) for i in range(12)]
    del published[:]
    assert services.messages_drain(slot=0) == 8  # one batch (DISPATCH_BATCH), then a handover
    assert published == [(queueing.DRAIN, (0,))]
    assert redis_client().exists(queueing.wake_key(0))  # still awake: the next task carries on
    assert Message.objects.filter(pk__in=ids, status="queued").count() == 4
    assert services.messages_drain(slot=0) == 4


def test_no_drainers_where_the_database_cannot_skip_locked_rows(
    smsc: SmscServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite (``make run``) with SMPP: a drainer could claim nothing there, so each message
    keeps a task of its own rather than wait for the outbox sweep."""
    assert queueing.drainers() == 1
    monkeypatch.setattr(connection.features, "has_select_for_update_skip_locked", False)
    assert queueing.drainers() == 0
    assert queueing.wake_drainer("msg_x") is False
