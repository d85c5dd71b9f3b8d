"""Issue 11: the code check's write (and a message's move, a receipt's reference) and the
webhook endpoints' read on a cache miss, by statements written or compiled once
(``otpportal.rowsql.update_row`` and ``Instances``):
the same rows as through the ORM, each call one statement with its own values."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messaging.models import Verification, WebhookEndpoint
from messaging.services import events
from otpportal.rowsql import Instances, update_row
from tests.conftest import Cast

pytestmark = pytest.mark.django_db


def _verification(cast: Cast, to: str = "+6281234567890") -> Verification:
    now = timezone.now()
    return Verification.objects.create(
        customer=cast.acme, to=to, channel="sms", expires_at=now + timedelta(minutes=5), reference="order-1"
    )


def test_update_row_writes_its_columns_and_nothing_else(cast: Cast) -> None:
    verification = _verification(cast)
    other = _verification(cast, to="+6281234567891")
    now = timezone.now()
    values = {"checks": 2, "status": "approved", "approved_at": now, "updated_at": now}
    with CaptureQueriesContext(connection) as queries:
        assert update_row(Verification, verification.pk, values) == 1
        assert update_row(Verification, other.pk, {**values, "checks": 3}) == 1  # the same statement, its values
    assert len(queries) == 2 and queries[0]["sql"].startswith("UPDATE")
    stored = Verification.objects.get(pk=verification.pk)
    assert (stored.checks, stored.status, stored.approved_at, stored.updated_at) == (2, "approved", now, now)
    assert stored.reference == "order-1"  # not one of its columns
    assert Verification.objects.get(pk=other.pk).checks == 3
    assert update_row(Verification, "ver_missing", {"checks": 1}) == 0


def test_update_row_with_a_condition_moves_only_from_the_named_state(cast: Cast) -> None:
    """As ``filter(pk=…, status=old).update(…)``: the message's move (lifecycle.transition)."""
    verification = _verification(cast)
    assert update_row(Verification, verification.pk, {"status": "canceled"}, where={"status": "approved"}) == 0
    assert update_row(Verification, verification.pk, {"status": "canceled"}, where={"status": "pending"}) == 1
    assert Verification.objects.get(pk=verification.pk).status == "canceled"
    with pytest.raises(ValueError, match="None"):
        update_row(Verification, verification.pk, {"checks": 1}, where={"approved_at": None})
    with pytest.raises(TypeError, match="expression"):
        update_row(Verification, verification.pk, {"checks": F("checks") + 1})


def test_a_check_by_id_is_a_lock_and_an_update(cast: Cast) -> None:
    from messaging.services.checking import verification_check

    verification = _verification(cast)
    with CaptureQueriesContext(connection) as queries:
        checked, valid = verification_check(customer=cast.acme, verification_id=verification.pk, code="000000")
    assert (valid, checked.checks) == (False, 1)
    statements = [q["sql"].split()[0] for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    assert statements == ["SELECT", "UPDATE"]
    assert Verification.objects.get(pk=verification.pk).checks == 1


def test_the_endpoints_read_is_the_orms(cast: Cast) -> None:
    active = WebhookEndpoint.objects.create(
        customer=cast.acme, url="https://hooks.example.com/a", secret="s", events=["verification.approved"]
    )
    WebhookEndpoint.objects.create(customer=cast.acme, url="https://hooks.example.com/b", secret="s", is_active=False)
    WebhookEndpoint.objects.create(
        customer=cast.acme, url="https://hooks.example.com/c", secret="s", deleted_at=timezone.now()
    )
    WebhookEndpoint.objects.create(customer=cast.globex, url="https://hooks.example.com/d", secret="s")
    read = events._endpoint_rows.get(customer_id=cast.acme.pk)
    assert [e.pk for e in read] == [active.pk]
    assert read[0].events == ["verification.approved"] and read[0].url == active.url
    assert not read[0]._state.adding
    assert events._endpoint_rows.get(customer_id=-1) == []
    by_orm = list(WebhookEndpoint.objects.filter(customer=cast.globex, is_active=True, deleted_at__isnull=True))
    assert [(e.pk, e.events) for e in events._endpoint_rows.get(customer_id=cast.globex.pk)] == [
        (e.pk, e.events) for e in by_orm
    ]


def test_instances_refuses_a_sentinel_the_query_does_not_use() -> None:
    lookup = Instances(lambda customer_id: WebhookEndpoint.objects.filter(is_active=True), customer_id=-99)
    with pytest.raises(ValueError, match="customer_id"):
        lookup.get(customer_id=1)


@pytest.mark.postgres
def test_the_statements_are_prepared_once_per_connection(cast: Cast) -> None:
    """On PostgreSQL these statements run prepared (``rowsql.prepared_cursor``): parsed and
    planned once per connection, then run from the saved plan, still counted as queries."""
    from accounts.selectors import api_key_for_secret

    def prepared(like: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", [like])
            return cursor.fetchone()[0]

    verification, other = _verification(cast), _verification(cast, to="+6281234567891")
    now = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        update_row(Verification, verification.pk, {"checks": 1, "updated_at": now})
        update_row(Verification, other.pk, {"checks": 1, "updated_at": now})
        assert api_key_for_secret(cast.acme_live_key).customer_id == cast.acme.pk
    # Still logged and counted as Django's own, with their values.
    updates = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "messaging_verification"')]
    assert len(updates) == 2 and str(verification.pk) in updates[0] and str(other.pk) in updates[1]
    assert any('"accounts_apikey"' in q["sql"] for q in queries)
    assert prepared('UPDATE "messaging_verification" SET "checks" = $1%') == 1  # two calls, one statement
    assert prepared('SELECT%"accounts_apikey"%') >= 1


def test_a_prepared_cursor_binds_on_the_server_on_postgresql_and_is_djangos_own_elsewhere() -> None:
    import psycopg

    from otpportal.rowsql import prepared_cursor

    with prepared_cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone()[0] == 1
        raw = cursor.cursor
    if connection.vendor == "postgresql":
        assert isinstance(raw, psycopg.Cursor) and not isinstance(raw, psycopg.ClientCursor)
    else:
        assert type(raw).__module__ == "django.db.backends.sqlite3.base"
