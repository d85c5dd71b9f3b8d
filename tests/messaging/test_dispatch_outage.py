"""A database lost in the middle of a claim (issue 14, drill 3: PostgreSQL restarted under
load): the claim is rolled back with it, so the message stays ``queued`` for the outbox sweep
instead of sitting ``sending``, unsent, until DISPATCH_CLAIM_TIMEOUT (150 s in production)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import OperationalError, connection

from billing import services as billing
from messaging import services
from messaging.models import Message, MessageStatusChange
from tests.conftest import Cast, api_client
from tests.messaging.helpers import Scripted, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def history_fails() -> Iterator[None]:
    """The database refuses the claim's history row as a dropped connection would (SQLSTATE
    08006, which psycopg raises as OperationalError), at the server: the claim is one statement
    on PostgreSQL (issue 11), so nothing in Python stands between its parts to patch."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_history_gone() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.new = 'sending' THEN RAISE EXCEPTION 'server closed the connection' USING ERRCODE = '08006'; "
            "END IF; RETURN NEW; END $$"
        )
        cursor.execute(
            f"CREATE TRIGGER test_history_gone BEFORE INSERT ON {MessageStatusChange._meta.db_table} "
            "FOR EACH ROW EXECUTE FUNCTION test_history_gone()"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER test_history_gone ON {MessageStatusChange._meta.db_table}")
        cursor.execute("DROP FUNCTION test_history_gone()")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_claim_whose_history_cannot_be_written_is_rolled_back(
    cast: Cast, scripted: Scripted, request: pytest.FixtureRequest
) -> None:
    billing.lot_create(customer=cast.acme, amount=100_000, reference="bank-1")
    response = post(api_client(cast.acme_live_key), "/api/v1/verifications", {"to": "0812-3456-7890"})
    assert response.status_code == 201, response.content
    message = Message.objects.get(pk=response.json()["message_id"])
    request.getfixturevalue("history_fails")
    with pytest.raises(OperationalError):
        services.message_dispatch(message_id=message.id)
    message.refresh_from_db()
    assert (message.status, message.attempts, message.claimed_at) == ("queued", 0, None)
    assert scripted.sent == []
    assert not MessageStatusChange.objects.filter(message=message, new="sending").exists()

    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {MessageStatusChange._meta.db_table} DISABLE TRIGGER test_history_gone")
    assert services.message_dispatch(message_id=message.id) == "sent"
    assert len(scripted.sent) == 1
    assert list(MessageStatusChange.objects.filter(message=message).values_list("old", "new")) == [
        ("", "queued"),
        ("queued", "sending"),
        ("sending", "sent"),
    ]
