"""POST /api/v1/verifications and friends: the platform makes and checks the code."""

from __future__ import annotations

import pytest
import time_machine
from django.test import override_settings

from billing import selectors as billing_selectors
from billing.models import Charge
from messaging.models import Message, SandboxMessage, Verification
from tests.conftest import Cast, api_client
from tests.messaging.helpers import assert_error, post, sandbox_code

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager")]
TO = "0812-3456-7890"
E164 = "+6281234567890"


def start(cast: Cast, capture, **data):  # type: ignore[no-untyped-def]
    with capture(execute=True):
        return post(api_client(cast.acme_live_key), "/api/v1/verifications", {"to": TO, **data})


def check(cast: Cast, verification_id: str, code: str):  # type: ignore[no-untyped-def]
    return post(api_client(cast.acme_live_key), f"/api/v1/verifications/{verification_id}/check", {"code": code})


def test_start_answers_the_contract_and_charges_once(funded: Cast, django_capture_on_commit_callbacks) -> None:
    response = start(funded, django_capture_on_commit_callbacks, reference="order-991")
    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("ver_") and body["message_id"].startswith("msg_")
    assert {
        k: body[k]
        for k in ("to", "channel", "operator", "status", "attempts_left", "sends", "units", "price", "reference")
    } == {
        "to": E164,
        "channel": "sms",
        "operator": "telkomsel",
        "status": "pending",
        "attempts_left": 5,
        "sends": 1,
        "units": 1,
        "price": 650,
        "reference": "order-991",
    }
    assert body["expires_at"].endswith("+07:00")
    assert Charge.objects.get().reference == body["message_id"]
    assert billing_selectors.balance(customer=funded.acme) == 100_000 - 650


def test_the_code_is_never_stored_in_clear(funded: Cast, django_capture_on_commit_callbacks) -> None:
    body = start(funded, django_capture_on_commit_callbacks).json()
    code = sandbox_code()
    verification = Verification.objects.get(pk=body["id"])
    message = Message.objects.get(pk=body["message_id"])
    assert code not in str(verification.__dict__)
    assert code not in message.body and "••••" in message.body
    assert len(verification.code_hmacs[0]) == 64
    assert message.status == "delivered" and message.sealed == ""


def test_wrong_then_right_then_reused(funded: Cast, django_capture_on_commit_callbacks) -> None:
    verification_id = start(funded, django_capture_on_commit_callbacks).json()["id"]
    code = sandbox_code()
    wrong = "000000" if code != "000000" else "111111"
    assert check(funded, verification_id, wrong).json() == {
        "id": verification_id,
        "valid": False,
        "status": "pending",
        "attempts_left": 4,
    }
    assert check(funded, verification_id, code).json() == {
        "id": verification_id,
        "valid": True,
        "status": "approved",
        "attempts_left": 3,
    }
    assert check(funded, verification_id, code).json()["valid"] is False  # usable once


def test_expired_code_is_not_valid(funded: Cast, django_capture_on_commit_callbacks) -> None:
    with time_machine.travel("2026-03-01 10:00:00 +0700", tick=False):
        verification_id = start(funded, django_capture_on_commit_callbacks, ttl=60).json()["id"]
        code = sandbox_code()
    with time_machine.travel("2026-03-01 10:01:00 +0700", tick=False):
        body = check(funded, verification_id, code).json()
    assert body["valid"] is False and body["status"] == "expired"


def test_five_wrong_checks_close_the_verification(funded: Cast, django_capture_on_commit_callbacks) -> None:
    verification_id = start(funded, django_capture_on_commit_callbacks).json()["id"]
    code = sandbox_code()
    wrong = "999999" if code != "999999" else "888888"
    statuses = [check(funded, verification_id, wrong).json()["status"] for _ in range(5)]
    assert statuses == ["pending"] * 4 + ["max_attempts_reached"]
    sixth = check(funded, verification_id, code).json()
    assert sixth == {"id": verification_id, "valid": False, "status": "max_attempts_reached", "attempts_left": 0}


def test_check_by_number_uses_the_latest_pending(funded: Cast, django_capture_on_commit_callbacks) -> None:
    start(funded, django_capture_on_commit_callbacks)
    code = sandbox_code()
    response = post(
        api_client(funded.acme_live_key), "/api/v1/verifications/check", {"to": "+62 812 3456 7890", "code": code}
    )
    assert response.json()["valid"] is True


def test_resend_cooldown_new_code_and_limit(funded: Cast, django_capture_on_commit_callbacks) -> None:
    client = api_client(funded.acme_live_key)
    with time_machine.travel("2026-03-01 10:00:00 +0700", tick=False):
        verification_id = start(funded, django_capture_on_commit_callbacks).json()["id"]
        first_code = sandbox_code()
        too_soon = post(client, f"/api/v1/verifications/{verification_id}/resend")
        error = assert_error(too_soon, 429, "resend_too_soon")
        assert too_soon["Retry-After"] == "30" and error["details"]["retry_after"] == 30
    for i in range(1, 5):
        with (
            time_machine.travel(f"2026-03-01 10:0{i}:00 +0700", tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            body = post(client, f"/api/v1/verifications/{verification_id}/resend").json()
        assert body["sends"] == i + 1
    with time_machine.travel("2026-03-01 10:06:00 +0700", tick=False):
        assert_error(post(client, f"/api/v1/verifications/{verification_id}/resend"), 429, "max_sends_reached")
        assert Charge.objects.count() == 5  # each send charged like a send
        assert check(funded, verification_id, first_code).json()["valid"] is True  # earlier codes stay valid


def test_resend_on_another_channel(funded: Cast, django_capture_on_commit_callbacks) -> None:
    with time_machine.travel("2026-03-01 10:00:00 +0700", tick=False):
        verification_id = start(funded, django_capture_on_commit_callbacks).json()["id"]
    with time_machine.travel("2026-03-01 10:00:31 +0700", tick=False), django_capture_on_commit_callbacks(execute=True):
        body = post(
            api_client(funded.acme_live_key), f"/api/v1/verifications/{verification_id}/resend", {"channel": "wa"}
        ).json()
    assert body["channel"] == "wa" and body["price"] == 350
    assert SandboxMessage.objects.filter(channel="wa").count() == 1


def test_cancel(funded: Cast, django_capture_on_commit_callbacks) -> None:
    verification_id = start(funded, django_capture_on_commit_callbacks).json()["id"]
    code = sandbox_code()
    response = post(api_client(funded.acme_live_key), f"/api/v1/verifications/{verification_id}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "canceled"
    assert check(funded, verification_id, code).json()["valid"] is False


def test_get_verification_and_isolation(funded: Cast, django_capture_on_commit_callbacks) -> None:
    verification_id = start(funded, django_capture_on_commit_callbacks).json()["id"]
    assert (
        api_client(funded.acme_live_key).get(f"/api/v1/verifications/{verification_id}").json()["id"] == verification_id
    )
    other = api_client(funded.globex_live_key)
    assert_error(other.get(f"/api/v1/verifications/{verification_id}"), 404, "not_found")
    assert_error(post(other, f"/api/v1/verifications/{verification_id}/check", {"code": "123456"}), 404, "not_found")
    assert_error(post(other, f"/api/v1/verifications/{verification_id}/resend"), 404, "not_found")
    assert_error(post(other, f"/api/v1/verifications/{verification_id}/cancel"), 404, "not_found")
    assert_error(api_client(funded.acme_live_key).get("/api/v1/verifications/ver_nope"), 404, "not_found")


def test_test_keys_are_never_charged_and_land_in_the_sandbox(cast: Cast, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = post(api_client(cast.acme_test_key), "/api/v1/verifications", {"to": TO})
    assert response.status_code == 201  # no deposit needed
    assert response.json()["price"] == 650  # what it would cost
    assert not Charge.objects.exists()
    inbox = api_client(cast.acme_test_key).get("/api/v1/sandbox/messages", {"to": TO}).json()
    assert len(inbox) == 1 and inbox[0]["id"] == response.json()["message_id"]
    assert sandbox_code() in inbox[0]["text"]


def test_live_keys_read_the_sandbox_only_where_it_is_the_provider(cast: Cast) -> None:
    assert api_client(cast.acme_live_key).get("/api/v1/sandbox/messages").status_code == 200
    with override_settings(PROVIDER_SMS="smpp"):
        assert_error(api_client(cast.acme_live_key).get("/api/v1/sandbox/messages"), 403, "permission_denied")


def test_app_hash_is_appended_to_sms(funded: Cast, django_capture_on_commit_callbacks) -> None:
    start(funded, django_capture_on_commit_callbacks, app_hash="FA+9qCX9VSu")
    assert SandboxMessage.objects.get().text.endswith("\nFA+9qCX9VSu")


def test_english_template_and_brand(funded: Cast, django_capture_on_commit_callbacks) -> None:
    funded.acme.brand_name = "ACME"
    funded.acme.save()
    start(funded, django_capture_on_commit_callbacks, locale="en", code_length=8)
    text = SandboxMessage.objects.get().text
    assert text.startswith("ACME: Your verification code is ")
    assert len(sandbox_code()) == 8


def test_a_customer_template_is_used(funded: Cast, django_capture_on_commit_callbacks) -> None:
    from messaging import services

    services.template_set(customer=funded.acme, locale="id", body="Kode {brand} kamu {code}, {minutes} menit.")
    start(funded, django_capture_on_commit_callbacks)
    assert SandboxMessage.objects.get().text.startswith("Kode Acme Shop kamu ")


@pytest.mark.parametrize(
    ("data", "status", "code", "field"),
    [
        ({}, 400, "invalid_request", "to"),
        ({"to": "12345"}, 400, "invalid_phone_number", "to"),
        ({"to": "021-5551234"}, 400, "invalid_phone_number", "to"),
        ({"to": "+6591234567"}, 400, "invalid_phone_number", "to"),
        ({"to": TO, "channel": "telegram"}, 400, "invalid_request", "channel"),
        ({"to": TO, "code_length": 3}, 400, "invalid_request", "code_length"),
        ({"to": TO, "code_length": 11}, 400, "invalid_request", "code_length"),
        ({"to": TO, "ttl": 59}, 400, "invalid_request", "ttl"),
        ({"to": TO, "ttl": 3601}, 400, "invalid_request", "ttl"),
        ({"to": TO, "locale": "fr"}, 400, "invalid_request", "locale"),
        ({"to": TO, "fallback": ["sms"]}, 400, "invalid_request", "fallback"),
        ({"to": TO, "fallback": ["wa", "wa"]}, 400, "invalid_request", "fallback"),
        ({"to": TO, "fallback": "wa"}, 400, "invalid_request", "fallback"),
        ({"to": TO, "app_hash": "short"}, 400, "invalid_request", "app_hash"),
        ({"to": TO, "reference": "x" * 101}, 400, "invalid_request", "reference"),
    ],
)
def test_bad_input_is_refused_before_anything_is_charged(
    funded: Cast,
    data,
    status,
    code,
    field,  # type: ignore[no-untyped-def]
    django_capture_on_commit_callbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = post(api_client(funded.acme_live_key), "/api/v1/verifications", data)
    assert_error(response, status, code, field)
    assert not Charge.objects.exists() and not Message.objects.exists() and not Verification.objects.exists()


def test_malformed_json_is_a_400(funded: Cast) -> None:
    response = api_client(funded.acme_live_key).post(
        "/api/v1/verifications", "{not json", content_type="application/json"
    )
    assert_error(response, 400, "invalid_request")


def test_insufficient_balance_writes_nothing(cast: Cast, django_capture_on_commit_callbacks) -> None:
    response = start(cast, django_capture_on_commit_callbacks)
    error = assert_error(response, 402, "insufficient_balance")
    assert error["details"]["balance"] == 0
    assert not Message.objects.exists() and not Verification.objects.exists()


def test_suspended_customer_cannot_send(funded: Cast, django_capture_on_commit_callbacks) -> None:
    from accounts.models import Customer

    Customer.objects.filter(pk=funded.acme.pk).update(status=Customer.Status.SUSPENDED)
    assert_error(start(funded, django_capture_on_commit_callbacks), 403, "account_suspended")
    assert not Charge.objects.exists()


def test_verification_list_filters(funded: Cast, django_capture_on_commit_callbacks) -> None:
    start(funded, django_capture_on_commit_callbacks)
    start(funded, django_capture_on_commit_callbacks, to="0817-1234-5678")
    client = api_client(funded.acme_live_key)
    body = client.get("/api/v1/verifications", {"to": "0817-1234-5678"}).json()
    assert [v["operator"] for v in body["results"]] == ["xl"]
    assert len(client.get("/api/v1/verifications").json()["results"]) == 2
    assert client.get("/api/v1/verifications", {"status": "approved"}).json()["results"] == []


@pytest.mark.redis
def test_the_send_path_query_count_is_pinned(funded: Cast, django_assert_max_num_queries, settings) -> None:  # type: ignore[no-untyped-def]
    """style.md #18 and issue 11: with the hot caches warm (key, template,
    sender ID) and the limits and the pumping window in Redis, a send is the
    verification, the charge (lot locks, charge, lot update, ledger, alert
    threshold), the message and its history: no idempotency read and no
    savepoint for a charge whose reference is a new message id, no aggregate
    over the customer's verifications."""
    import os

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.REDIS_URL = os.environ["REDIS_URL"]
    settings.HOT_CACHE_SECONDS = 60
    settings.LIMIT_NUMBER_PER_HOUR = 100_000  # Redis outlives the test database: never trip on old counts
    client = api_client(funded.acme_live_key)
    post(client, "/api/v1/verifications", {"to": "0812-3456-7891"})  # warm the price list and the hot caches
    with django_assert_max_num_queries(11), CaptureQueriesContext(connection) as queries:
        assert post(client, "/api/v1/verifications", {"to": "0812-3456-7890"}).status_code == 201
    statements = [q["sql"] for q in queries.captured_queries]
    # The first and last statements are the request's transaction (a savepoint inside the test's own).
    assert not [sql for sql in statements[1:-1] if "SAVEPOINT" in sql], "\n".join(s[:120] for s in statements)
    assert not [sql for sql in statements if "COUNT(" in sql]
    assert not [sql for sql in statements if "accounts_apikey" in sql or "messaging_messagetemplate" in sql]
