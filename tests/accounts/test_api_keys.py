from __future__ import annotations

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import selectors, services
from accounts.models import ApiKey
from tests.conftest import Cast, api_client

pytestmark = pytest.mark.django_db


def test_live_key_has_prefix_and_at_least_32_random_bytes(cast: Cast) -> None:
    created = services.api_key_create(customer=cast.acme, name="backend")
    assert created.secret.startswith("otp_live_")
    random_part = created.secret.removeprefix("otp_live_")
    assert len(random_part) >= 43  # 32 bytes in url-safe base64
    assert created.api_key.prefix == created.secret[:17]
    assert created.api_key.mode == ApiKey.Mode.LIVE


def test_test_key_starts_with_otp_test(cast: Cast) -> None:
    created = services.api_key_create(customer=cast.acme, mode=ApiKey.Mode.TEST)
    assert created.secret.startswith("otp_test_")
    assert created.api_key.is_test


def test_only_the_hash_is_stored(cast: Cast) -> None:
    created = services.api_key_create(customer=cast.acme)
    row = ApiKey.objects.get(pk=created.api_key.pk)
    stored = " ".join(str(v) for v in row.__dict__.values())
    assert created.secret not in stored
    assert row.key_hash == selectors.hash_secret(created.secret)
    assert len(row.key_hash) == 64


def test_two_keys_never_collide(cast: Cast) -> None:
    secrets = {services.api_key_create(customer=cast.acme).secret for _ in range(20)}
    assert len(secrets) == 20


def test_unknown_mode_is_refused(cast: Cast) -> None:
    from otpportal.errors import ServiceError

    with pytest.raises(ServiceError) as exc:
        services.api_key_create(customer=cast.acme, mode="prod")
    assert exc.value.code == "invalid_request"


def test_revoked_key_no_longer_authenticates(cast: Cast) -> None:
    client = api_client(cast.acme_live_key)
    assert client.get("/api/v1/me").status_code == 200
    api_key = selectors.api_key_for_secret(cast.acme_live_key)
    assert api_key is not None
    services.api_key_revoke(api_key=api_key)
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_revoking_twice_keeps_the_first_time(cast: Cast) -> None:
    api_key = selectors.api_key_for_secret(cast.acme_live_key)
    assert api_key is not None
    first = services.api_key_revoke(api_key=api_key).revoked_at
    again = services.api_key_revoke(api_key=ApiKey.objects.get(pk=api_key.pk)).revoked_at
    assert first == again


def test_last_used_is_recorded_at_most_once_a_minute(cast: Cast) -> None:
    with time_machine.travel("2026-03-02 10:00:00+07:00", tick=False):
        api_client(cast.acme_live_key).get("/api/v1/me")
        first = ApiKey.objects.get(prefix=cast.acme_live_key[:17]).last_used_at
        assert first == timezone.now()
    with time_machine.travel("2026-03-02 10:00:30+07:00", tick=False):
        api_client(cast.acme_live_key).get("/api/v1/me")
        assert ApiKey.objects.get(prefix=cast.acme_live_key[:17]).last_used_at == first
    with time_machine.travel("2026-03-02 10:01:31+07:00", tick=False):
        api_client(cast.acme_live_key).get("/api/v1/me")
        assert ApiKey.objects.get(prefix=cast.acme_live_key[:17]).last_used_at == timezone.now()


def test_key_uses_are_written_together_off_the_request_path(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    """Issue 11: a request notes its key's use; the noted uses of many keys are written in one
    UPDATE once KEY_USE_FLUSH_SECONDS have passed, not one UPDATE and commit per request."""
    selectors.key_uses_write()
    settings.KEY_USE_FLUSH_SECONDS = 3600
    with time_machine.travel("2026-03-02 10:00:00+07:00", tick=False):
        assert api_client(cast.acme_live_key).get("/api/v1/me").status_code == 200
        assert api_client(cast.acme_test_key).get("/api/v1/me").status_code == 200
        keys = ApiKey.objects.filter(prefix__in=[cast.acme_live_key[:17], cast.acme_test_key[:17]])
        assert [k.last_used_at for k in keys] == [None, None]  # noted, not yet written
        with CaptureQueriesContext(connection) as queries:
            assert selectors.key_uses_write() == 2
        assert len([q for q in queries if q["sql"].startswith("UPDATE")]) == 1
        assert {k.last_used_at for k in keys.all()} == {timezone.now()}
        assert selectors.key_uses_write() == 0  # nothing left


def test_uses_noted_while_the_flush_interval_runs_are_written_by_a_later_request(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    selectors.key_uses_write()
    settings.KEY_USE_FLUSH_SECONDS = 3600
    api_client(cast.acme_live_key).get("/api/v1/me")
    assert ApiKey.objects.get(prefix=cast.acme_live_key[:17]).last_used_at is None
    settings.KEY_USE_FLUSH_SECONDS = 0
    api_client(cast.acme_test_key).get("/api/v1/me")  # its request writes both
    assert ApiKey.objects.filter(last_used_at__isnull=False).count() >= 2


def test_key_lookup_by_written_sql_gives_the_orm_rows(cast: Cast) -> None:
    """Issue 11: the key behind a request is read by a statement written once
    (otpportal.rowsql), not compiled per call; its instances carry every field
    the ORM's select_related gives, converted alike (dates, booleans)."""
    created = services.api_key_create(customer=cast.acme, name="backend")
    expected = ApiKey.objects.select_related("customer").get(pk=created.api_key.pk)

    with CaptureQueriesContext(connection) as queries:
        loaded = selectors._load_key(selectors.hash_secret(created.secret))
        customer = loaded.customer  # attached: no second query
    assert len(queries) == 1
    assert loaded is not None and loaded._state.adding is False
    for field in ApiKey._meta.concrete_fields:
        assert getattr(loaded, field.attname) == getattr(expected, field.attname), field.name
    for field in type(customer)._meta.concrete_fields:
        assert getattr(customer, field.attname) == getattr(expected.customer, field.attname), field.name
    assert loaded.created_at.tzinfo is not None
    assert isinstance(customer.require_two_factor, bool)


def test_key_lookup_by_written_sql_skips_revoked_and_unknown_keys(cast: Cast) -> None:
    created = services.api_key_create(customer=cast.acme)
    key_hash = selectors.hash_secret(created.secret)
    assert selectors._load_key(key_hash) is not None
    services.api_key_revoke(api_key=created.api_key)
    assert selectors._load_key(key_hash) is None
    assert selectors._load_key("0" * 64) is None


def test_each_key_gets_its_own_noted_time_in_the_one_update(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    """otpportal.rowsql.set_column: one statement, each row its own value (unnest on PostgreSQL)."""
    from datetime import timedelta

    live = ApiKey.objects.get(prefix=cast.acme_live_key[:17])
    test = ApiKey.objects.get(prefix=cast.acme_test_key[:17])
    at = timezone.now().replace(microsecond=0)
    selectors.key_uses_write()
    settings.KEY_USE_FLUSH_SECONDS = 3600  # noted now, written below
    selectors.note_key_use(live, now=at)
    selectors.note_key_use(test, now=at - timedelta(minutes=5))
    with CaptureQueriesContext(connection) as queries:
        assert selectors.key_uses_write() == 2
    assert len([q for q in queries if q["sql"].startswith("UPDATE")]) == 1
    live.refresh_from_db()
    test.refresh_from_db()
    assert (live.last_used_at, test.last_used_at) == (at, at - timedelta(minutes=5))
