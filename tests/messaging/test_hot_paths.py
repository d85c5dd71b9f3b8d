"""Issue 11: what the send path no longer reads on every request, and the
guarantees that must survive it.

* The hot caches (``otpportal.hotcache``): a revoked key, a suspended
  customer, an edited template and a suspended sender ID take effect at once
  in the process that made the change and within ``HOT_CACHE_SECONDS`` in
  any other (simulated by a change that sends no signal, and the cache's
  clock moved on).
* The SMS-pumping window counted in Redis (``messaging.pumping``): the same
  answers as the database count, approvals counted when a code is checked,
  and the database count again while Redis does not answer.
"""

from __future__ import annotations

import os

import pytest
import time_machine

from accounts import services as accounts
from accounts.models import ApiKey, Customer
from billing import services as billing
from messaging.models import MessageTemplate, Verification
from otpportal import hotcache
from tests.conftest import Cast, api_client
from tests.messaging.helpers import assert_error, post, sandbox_code

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager")]


@pytest.fixture(autouse=True)
def redis_taken_for_up():  # type: ignore[no-untyped-def]
    """Each test starts with Redis not marked down by an earlier test's failure."""
    from messaging import pumping

    pumping._down_until = 0.0
    yield
    pumping._down_until = 0.0


@pytest.fixture
def funded(cast: Cast) -> Cast:
    billing.lot_create(customer=cast.acme, amount=1_000_000, reference="bank-1")
    return cast


@pytest.fixture
def cached(settings, monkeypatch):  # type: ignore[no-untyped-def]
    """Hot caches on (60 s) with a clock the test moves."""
    settings.HOT_CACHE_SECONDS = 60
    clock = {"now": 1000.0}
    monkeypatch.setattr(hotcache, "clock", lambda: clock["now"])
    hotcache.clear_all()
    yield clock
    hotcache.clear_all()


def test_a_revoked_key_is_refused_at_once_in_the_process_that_revoked_it(funded: Cast, cached) -> None:  # type: ignore[no-untyped-def]
    client = api_client(funded.acme_live_key)
    assert client.get("/api/v1/me").status_code == 200  # now cached
    accounts.api_key_revoke(api_key=ApiKey.objects.get(customer=funded.acme, mode="live"))
    assert_error(client.get("/api/v1/me"), 401, "unauthenticated")


def test_a_key_revoked_elsewhere_is_refused_within_the_cache_time(funded: Cast, cached, settings) -> None:  # type: ignore[no-untyped-def]
    from django.utils import timezone

    client = api_client(funded.acme_live_key)
    assert client.get("/api/v1/me").status_code == 200
    # Another process revoked it: this one got no signal.
    ApiKey.objects.filter(customer=funded.acme, mode="live").update(revoked_at=timezone.now())
    assert client.get("/api/v1/me").status_code == 200  # still cached here...
    cached["now"] += settings.HOT_CACHE_SECONDS + 0.1
    assert_error(client.get("/api/v1/me"), 401, "unauthenticated")  # ...for at most HOT_CACHE_SECONDS


def test_a_suspended_customer_cannot_send_with_a_cached_key(funded: Cast, cached) -> None:  # type: ignore[no-untyped-def]
    client = api_client(funded.acme_live_key)
    assert post(client, "/api/v1/verifications", {"to": "0812-3456-7890"}).status_code == 201
    accounts.customer_set_status(customer=funded.acme, status=Customer.Status.SUSPENDED, reason="test")
    assert_error(post(client, "/api/v1/verifications", {"to": "0812-3456-7891"}), 403, "account_suspended")


def test_an_edited_template_is_used_for_the_next_send(funded: Cast, cached, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    client = api_client(funded.acme_live_key)
    assert post(client, "/api/v1/verifications", {"to": "0812-3456-7890"}).status_code == 201
    MessageTemplate.objects.create(customer=funded.acme, locale="id", body="Kode Acme: {code}")
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, "/api/v1/verifications", {"to": "0812-3456-7891"}).status_code == 201
    assert sandbox_code("+6281234567891")
    from messaging.models import SandboxMessage

    assert SandboxMessage.objects.filter(to="+6281234567891").first().text.startswith("Kode Acme: ")


def test_each_request_gets_its_own_copy_of_the_cached_key(funded: Cast, cached) -> None:  # type: ignore[no-untyped-def]
    from accounts.selectors import api_key_for_secret

    first = api_key_for_secret(funded.acme_live_key)
    first.customer.status = "changed by a request"
    second = api_key_for_secret(funded.acme_live_key)
    assert second is not first and second.customer.status == Customer.Status.ACTIVE


# --- the pumping window in Redis --------------------------------------------------------------


@pytest.fixture
def in_redis(settings):  # type: ignore[no-untyped-def]
    settings.REDIS_URL = os.environ["REDIS_URL"]
    settings.LIMIT_NUMBER_PER_HOUR = 100_000
    return settings


@pytest.mark.redis
def test_the_redis_window_refuses_a_pumped_range_as_the_database_count_did(funded: Cast, in_redis) -> None:  # type: ignore[no-untyped-def]
    in_redis.PUMPING_MIN_NUMBERS = 5
    in_redis.PUMPING_MIN_APPROVAL_RATE = 0.2
    client = api_client(funded.acme_live_key)
    with time_machine.travel("2026-03-01 10:00:00 +0700", tick=False):
        for i in range(5):
            assert post(client, "/api/v1/verifications", {"to": f"0812-3456-00{i:02d}"}).status_code == 201
        refused = post(client, "/api/v1/verifications", {"to": "0812-3456-0099"})
        details = assert_error(refused, 429, "rate_limited")["details"]
        assert details["limit"] == "sms_pumping" and details["numbers_in_window"] == 5
        assert details["verifications_in_window"] == 5 and details["approval_rate"] == 0.0
        assert post(client, "/api/v1/verifications", {"to": "0817-1234-5678"}).status_code == 201  # other range
        # WhatsApp is counted, never refused.
        assert post(client, "/api/v1/verifications", {"to": "0812-3456-0099", "channel": "wa"}).status_code == 201
    with time_machine.travel("2026-03-01 10:10:01 +0700", tick=False):  # the window has passed
        assert post(client, "/api/v1/verifications", {"to": "0812-3456-0099"}).status_code == 201
    assert Verification.objects.count() == 8


@pytest.mark.redis
def test_codes_checked_in_the_range_keep_it_open(funded: Cast, in_redis, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    in_redis.PUMPING_MIN_NUMBERS = 3
    in_redis.PUMPING_MIN_APPROVAL_RATE = 0.5
    client = api_client(funded.acme_live_key)
    with time_machine.travel("2026-03-01 10:00:00 +0700", tick=False):
        for i in range(3):
            number = f"0812-3456-00{i:02d}"
            with django_capture_on_commit_callbacks(execute=True):
                body = post(client, "/api/v1/verifications", {"to": number}).json()
            code = sandbox_code(f"+628123456{i:04d}")
            with django_capture_on_commit_callbacks(execute=True):  # the approval counts after commit
                checked = post(client, f"/api/v1/verifications/{body['id']}/check", {"code": code}).json()
            assert checked["valid"] is True
        assert post(client, "/api/v1/verifications", {"to": "0812-3456-0099"}).status_code == 201


@pytest.mark.redis
def test_without_redis_the_database_counts(funded: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    settings.PUMPING_MIN_NUMBERS = 3
    client = api_client(funded.acme_live_key)
    with time_machine.travel("2026-03-01 10:00:00 +0700", tick=False):
        for i in range(3):
            assert post(client, "/api/v1/verifications", {"to": f"0812-3456-00{i:02d}"}).status_code == 201
        details = assert_error(post(client, "/api/v1/verifications", {"to": "0812-3456-0099"}), 429, "rate_limited")[
            "details"
        ]
    assert details["limit"] == "sms_pumping" and details["numbers_in_window"] == 3


@pytest.mark.redis
def test_after_a_redis_failure_the_window_is_not_tried_again_for_a_while(funded: Cast, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A hung Redis must not cost every send its timeout: after one failure the database
    counts alone for FALLBACK_PAUSE seconds."""
    from messaging import pumping

    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    client = api_client(funded.acme_live_key)
    assert post(client, "/api/v1/verifications", {"to": "0812-3456-0001"}).status_code == 201
    assert pumping._down_until > 0
    tried = []
    monkeypatch.setattr(pumping, "redis_client", lambda: tried.append(1))
    assert post(client, "/api/v1/verifications", {"to": "0812-3456-0002"}).status_code == 201
    assert tried == []


# --- webhook endpoints (issue 11: read once per process, not on every status change) --------


def _verification(cast: Cast) -> Verification:
    from datetime import timedelta

    from django.utils import timezone

    return Verification(
        customer=cast.acme,
        to="+6281234567890",
        channel="sms",
        status="approved",
        expires_at=timezone.now() + timedelta(minutes=5),
    )


def test_webhook_endpoints_are_read_once_and_a_change_here_is_seen_at_once(funded: Cast, cached) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from messaging import services
    from messaging.models import WebhookEndpoint, WebhookEvent
    from messaging.services.events import verification_event

    verification_event(_verification(funded))  # reads "no endpoints" and keeps it
    with CaptureQueriesContext(connection) as queries:
        verification_event(_verification(funded))
    assert len(queries) == 0 and not WebhookEvent.objects.exists()

    endpoint = services.endpoint_create(customer=funded.acme, url="https://x.test/h")
    verification_event(_verification(funded))  # created in this process: seen at once
    assert WebhookEvent.objects.count() == 1

    services.endpoint_delete(customer=funded.acme, endpoint_id=endpoint.id)  # an update: no signal
    verification_event(_verification(funded))
    assert WebhookEvent.objects.count() == 1
    assert WebhookEndpoint.objects.get(pk=endpoint.id).deleted_at is not None


def test_a_webhook_endpoint_added_elsewhere_gets_events_within_the_cache_time(funded: Cast, cached, settings) -> None:  # type: ignore[no-untyped-def]
    from messaging.models import WebhookEndpoint, WebhookEvent
    from messaging.services.events import verification_event

    verification_event(_verification(funded))
    # Another process added one: this process got no signal.
    WebhookEndpoint.objects.bulk_create(
        [WebhookEndpoint(customer=funded.acme, url="https://x.test/h", events=["verification.status"], secret="s")]
    )
    verification_event(_verification(funded))
    assert not WebhookEvent.objects.exists()  # still the cached "none"...
    cached["now"] += settings.HOT_CACHE_SECONDS + 0.1
    verification_event(_verification(funded))
    assert WebhookEvent.objects.count() == 1  # ...for at most HOT_CACHE_SECONDS


# --- the check's row lock by SQL compiled once (issue 11) ------------------------------------


def test_the_check_reads_the_same_row_the_orm_reads(funded: Cast, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from messaging.services.checking import _locked_by_id

    client = api_client(funded.acme_live_key)
    with django_capture_on_commit_callbacks(execute=True):
        created = post(client, "/api/v1/verifications", {"to": "0812-3456-7890"}).json()
    expected = Verification.objects.get(pk=created["id"])
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        locked = _locked_by_id.get(customer_id=funded.acme.pk, verification_id=created["id"])
        assert _locked_by_id.get(customer_id=funded.globex.pk, verification_id=created["id"]) is None
        assert _locked_by_id.get(customer_id=funded.acme.pk, verification_id="ver_nosuch") is None
    assert len(queries) == 3
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in queries[0]["sql"]
    for field in Verification._meta.concrete_fields:
        assert getattr(locked, field.attname) == getattr(expected, field.attname), field.name
    assert locked.expires_at.tzinfo is not None and isinstance(locked.code_hmacs, type(expected.code_hmacs))
    assert locked._state.adding is False
    # The check answers through it.
    response = post(client, f"/api/v1/verifications/{created['id']}/check", {"code": sandbox_code()})
    assert response.json()["valid"] is True and response.json()["status"] == "approved"
