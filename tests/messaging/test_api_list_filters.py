"""GET /api/v1/messages and /api/v1/verifications: each row says its mode
(Review 8.21), a list shows the calling key's mode unless ``?mode=`` says
otherwise, and the filters are django-filter FilterSets whose refusals are
400 ``invalid_request`` naming the field (Review 8.26)."""

from __future__ import annotations

from typing import Any

import pytest

from messaging import services
from messaging.models import Message, Verification
from tests.conftest import Cast, api_client
from tests.helpers import api_key_for, money_fixture  # noqa: F401 - the money fixture
from tests.messaging.helpers import assert_error, post

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager", "money")]

NUMBER = "+6281234567890"


def send(secret: str, to: str = NUMBER, channel: str = "sms") -> Message:
    return services.message_send(api_key=api_key_for(secret), to=to, text="Kode OTP Anda 482913", channel=channel)


def start(secret: str, to: str = NUMBER) -> Verification:
    verification, _message = services.verification_start(api_key=api_key_for(secret), to=to)
    return verification


def ids(response: Any) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_review_8_21_every_message_and_verification_says_its_mode(cast: Cast) -> None:
    live, test = api_client(cast.acme_live_key), api_client(cast.acme_test_key)
    created = post(live, "/api/v1/messages", {"to": "0812-3456-7890", "text": "Kode OTP Anda 482913"}).json()
    assert created["mode"] == "live"
    created_test = post(test, "/api/v1/messages", {"to": "0812-3456-7890", "text": "Kode OTP Anda 482913"}).json()
    assert created_test["mode"] == "test"
    assert live.get(f"/api/v1/messages/{created_test['id']}").json()["mode"] == "test"
    verification = post(test, "/api/v1/verifications", {"to": "0812-3456-7891"}).json()
    assert verification["mode"] == "test"
    assert test.get(f"/api/v1/verifications/{verification['id']}").json()["mode"] == "test"
    assert post(test, f"/api/v1/verifications/{verification['id']}/cancel").json()["mode"] == "test"
    live_verification = post(live, "/api/v1/verifications", {"to": "0812-3456-7892"}).json()
    assert live_verification["mode"] == "live"
    rows = live.get("/api/v1/messages", {"mode": "all"}).json()["results"]
    assert {row["id"]: row["mode"] for row in rows if row["id"] in (created["id"], created_test["id"])} == {
        created["id"]: "live",
        created_test["id"]: "test",
    }
    rows = live.get("/api/v1/verifications", {"mode": "all"}).json()["results"]
    assert {row["id"]: row["mode"] for row in rows} == {verification["id"]: "test", live_verification["id"]: "live"}


def test_review_8_21_lists_show_the_calling_keys_mode_by_default(cast: Cast) -> None:
    live_message, test_message = send(cast.acme_live_key), send(cast.acme_test_key)
    live_verification, test_verification = start(cast.acme_live_key), start(cast.acme_test_key, "+6281234567891")
    live, test = api_client(cast.acme_live_key), api_client(cast.acme_test_key)
    live_messages = ids(live.get("/api/v1/messages"))
    assert live_message.id in live_messages and test_message.id not in live_messages
    test_messages = ids(test.get("/api/v1/messages"))
    assert test_message.id in test_messages and live_message.id not in test_messages
    assert ids(live.get("/api/v1/verifications")) == {live_verification.id}
    assert ids(test.get("/api/v1/verifications")) == {test_verification.id}
    # explicit modes, whatever the key
    assert ids(live.get("/api/v1/verifications", {"mode": "all"})) == {live_verification.id, test_verification.id}
    assert ids(test.get("/api/v1/verifications", {"mode": "all"})) == {live_verification.id, test_verification.id}
    assert ids(live.get("/api/v1/verifications", {"mode": "test"})) == {test_verification.id}
    assert ids(test.get("/api/v1/verifications", {"mode": "live"})) == {live_verification.id}
    assert {live_message.id, test_message.id} <= ids(live.get("/api/v1/messages", {"mode": "all"}))
    # another customer's rows never show, in any mode
    assert ids(api_client(cast.globex_live_key).get("/api/v1/messages", {"mode": "all"})) == set()


@pytest.mark.parametrize("path", ["/api/v1/messages", "/api/v1/verifications"])
@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("status", "lost"),
        ("channel", "pigeon"),
        ("to", "12"),
        ("to", "0812-3456-7890" * 4),
        ("created_after", "yesterday"),
        ("created_before", "2026-13-45T99:00:00"),
        ("created_before", "0001-01-01T00:00:00+05:00"),  # before year 1 in UTC
        ("created_after", "9999-12-31T23:59:59-05:00"),  # after year 9999 in UTC
        ("mode", "gold"),
    ],
)
def test_review_8_26_a_bad_filter_value_is_invalid_request_naming_the_field(
    cast: Cast, path: str, param: str, value: str
) -> None:
    """Before: a verification list ignored channel, created_* and anything it did not know."""
    response = api_client(cast.acme_live_key).get(path, {param: value})
    error = assert_error(response, 400, "invalid_request", param)
    assert list(error["details"]) == [param]
    assert param in error["message"]


@pytest.mark.parametrize("path", ["/api/v1/messages", "/api/v1/verifications"])
def test_review_8_26_any_iso_offset_is_filtered_in_utc_not_a_database_error(cast: Cast, path: str) -> None:
    """Found by the schemathesis fuzz test: ``+23:56`` is ISO 8601 but
    PostgreSQL refuses offsets past 15:59 (a 500 before the times were made UTC)."""
    client = api_client(cast.acme_live_key)
    assert client.get(path, {"created_before": "0437-12-22T13:39:40+23:56"}).json()["results"] == []
    assert client.get(path, {"created_after": "2000-01-01T00:00:00-23:59"}).status_code == 200


def test_review_8_26_a_verification_status_is_not_a_message_status(cast: Cast) -> None:
    client = api_client(cast.acme_live_key)
    assert_error(client.get("/api/v1/messages", {"status": "approved"}), 400, "invalid_request", "status")
    assert_error(client.get("/api/v1/verifications", {"status": "delivered"}), 400, "invalid_request", "status")


def test_review_8_26_verification_list_filters_by_channel_time_and_number(cast: Cast) -> None:
    sms = start(cast.acme_live_key)
    wa, _ = services.verification_start(api_key=api_key_for(cast.acme_live_key), to="+6281712345678", channel="wa")
    client = api_client(cast.acme_live_key)
    assert ids(client.get("/api/v1/verifications", {"channel": "wa"})) == {wa.id}
    assert ids(client.get("/api/v1/verifications", {"to": "0812-3456-7890"})) == {sms.id}
    assert ids(client.get("/api/v1/verifications", {"created_before": "2000-01-01T00:00:00+07:00"})) == set()
    assert ids(client.get("/api/v1/verifications", {"created_after": "2000-01-01T00:00:00+07:00"})) == {sms.id, wa.id}
    assert ids(client.get("/api/v1/verifications", {"status": "", "channel": ""})) == {
        sms.id,
        wa.id,
    }  # blank = no filter


def test_review_8_26_filters_and_cursor_pagination_together(cast: Cast) -> None:
    for n in range(5):
        send(cast.acme_live_key, to=f"+62812345678{n}0")
    send(cast.acme_test_key)
    client = api_client(cast.acme_live_key)
    first = client.get("/api/v1/messages", {"channel": "sms", "limit": 3}).json()
    assert len(first["results"]) == 3 and first["next"] and "channel=sms" in first["next"]
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 2 and second["next"] is None
    assert {row["mode"] for row in first["results"] + second["results"]} == {"live"}


@pytest.mark.parametrize(("path", "queries"), [("/api/v1/messages", 6), ("/api/v1/verifications", 7)])
def test_review_8_26_list_query_count_is_pinned(
    cast: Cast, path: str, queries: int, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    """style.md #18: the key, its rate bucket (4 with database buckets), the
    page and, for verifications, their latest messages; filters add none."""
    for n in range(4):
        start(cast.acme_live_key, to=f"+62812345678{n}0")
    client = api_client(cast.acme_live_key)
    client.get(path)  # warm up
    with django_assert_max_num_queries(queries):
        response = client.get(path, {"status": "", "channel": "sms", "created_after": "2000-01-01T00:00:00Z"})
    assert len(response.json()["results"]) == 4
