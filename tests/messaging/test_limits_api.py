"""Abuse limits through the API: per number, per key, per IP on auth
failures, SMS pumping. Each refusal is 429 rate_limited with Retry-After."""

from __future__ import annotations

import pytest
import time_machine

from billing import services as billing
from billing.models import Charge
from messaging.models import Verification
from tests.conftest import Cast, api_client
from tests.messaging.helpers import assert_error, post

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager")]


@pytest.fixture
def funded(cast: Cast) -> Cast:
    billing.lot_create(customer=cast.acme, amount=1_000_000, reference="bank-1")
    return cast


def test_per_number_limit(funded: Cast, settings, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    settings.LIMIT_NUMBER_PER_HOUR = 3
    client = api_client(funded.acme_live_key)
    with time_machine.travel("2026-03-01 10:00:00 +0700", tick=False):
        for _ in range(3):
            assert post(client, "/api/v1/verifications", {"to": "0812-3456-7890"}).status_code == 201
        refused = post(client, "/api/v1/verifications", {"to": "+6281234567890"})
        error = assert_error(refused, 429, "rate_limited")
        assert error["details"]["limit"] == "per_number"
        assert int(refused["Retry-After"]) == 1200  # one token per 20 minutes
        assert post(client, "/api/v1/verifications", {"to": "0812-3456-7891"}).status_code == 201  # other number
    assert Charge.objects.count() == 4
    assert (
        post(api_client(funded.globex_live_key), "/api/v1/verifications", {"to": "0812-3456-7890"}).status_code != 429
    )  # per customer
    with time_machine.travel("2026-03-01 10:20:01 +0700", tick=False):
        assert post(client, "/api/v1/verifications", {"to": "0812-3456-7890"}).status_code == 201


def test_per_key_request_rate(funded: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    settings.LIMIT_KEY_RATE = 1.0
    settings.LIMIT_KEY_BURST = 3.0
    client = api_client(funded.acme_live_key)
    with time_machine.travel("2026-03-01 10:00:00 +0700", tick=False):
        assert [client.get("/api/v1/me").status_code for _ in range(3)] == [200, 200, 200]
        refused = client.get("/api/v1/me")
        assert_error(refused, 429, "rate_limited")
        assert refused["Retry-After"] == "1"
        assert api_client(funded.acme_test_key).get("/api/v1/me").status_code == 200  # per key


def test_auth_failures_per_ip(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    settings.LIMIT_AUTH_FAILURES_PER_MINUTE = 3
    bad = api_client("otp_live_" + "x" * 43)
    with time_machine.travel("2026-03-01 10:00:00 +0700", tick=False):
        assert [bad.get("/api/v1/me").status_code for _ in range(3)] == [401, 401, 401]
        refused = bad.get("/api/v1/me")
        assert_error(refused, 429, "rate_limited")
        assert int(refused["Retry-After"]) >= 1
        assert api_client(cast.acme_live_key).get("/api/v1/me").status_code == 200  # a valid key still works


def test_sms_pumping_guard_explains_itself(funded: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PUMPING_MIN_NUMBERS = 5
    settings.PUMPING_MIN_APPROVAL_RATE = 0.2
    client = api_client(funded.acme_live_key)
    with time_machine.travel("2026-03-01 10:00:00 +0700", tick=False):
        for i in range(5):
            assert post(client, "/api/v1/verifications", {"to": f"0812-3456-00{i:02d}"}).status_code == 201
        refused = post(client, "/api/v1/verifications", {"to": "0812-3456-0099"})
        error = assert_error(refused, 429, "rate_limited")
        details = error["details"]
        assert details["limit"] == "sms_pumping" and details["prefix"] == "+62812345"
        assert details["numbers_in_window"] == 5 and details["approval_rate"] == 0.0
        assert refused["Retry-After"] == "600"
        assert post(client, "/api/v1/verifications", {"to": "0817-1234-5678"}).status_code == 201  # other range
        assert post(client, "/api/v1/verifications", {"to": "0812-3456-0099", "channel": "wa"}).status_code == 201
    assert Verification.objects.count() == 7


def test_a_range_with_healthy_approvals_is_not_refused(funded: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PUMPING_MIN_NUMBERS = 3
    client = api_client(funded.acme_live_key)
    for i in range(3):
        post(client, "/api/v1/verifications", {"to": f"0812-3456-00{i:02d}"})
    Verification.objects.update(status="approved")
    assert post(client, "/api/v1/verifications", {"to": "0812-3456-0099"}).status_code == 201
