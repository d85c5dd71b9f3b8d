"""Review 8.20: a required field that is missing is ``invalid_request`` with
details naming it (api-contract: "missing or bad fields"); a ``to`` that is
there but not a valid number is ``invalid_phone_number`` (R-OP-2)."""

from __future__ import annotations

from typing import Any

import pytest

from messaging.models import Message, Verification
from tests.conftest import Cast, api_client
from tests.messaging.helpers import assert_error, post

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager")]

TEXT = "Kode OTP Anda 482913"


def test_review_8_20_quote_without_to_is_invalid_request(funded: Cast) -> None:
    """Before: 400 invalid_phone_number "to is required."."""
    client = api_client(funded.acme_live_key)
    for params in ({}, {"to": ""}, {"channel": "sms", "text": TEXT}):
        error = assert_error(client.get("/api/v1/pricing/quote", params), 400, "invalid_request", "to")
        assert list(error["details"]) == ["to"]


def test_review_8_20_quote_with_a_bad_number_is_invalid_phone_number(funded: Cast) -> None:
    client = api_client(funded.acme_live_key)
    for to in ("123", "021-5551234", "+6591234567", "abc"):
        assert_error(client.get("/api/v1/pricing/quote", {"to": to}), 400, "invalid_phone_number", "to")


def test_review_8_20_quote_other_fields(funded: Cast) -> None:
    client = api_client(funded.acme_live_key)
    to = "0817-1234-5678"
    assert_error(
        client.get("/api/v1/pricing/quote", {"to": to, "channel": "pigeon"}), 400, "invalid_request", "channel"
    )
    too_long = {"to": to, "text": "Kode 482913 " + "a" * 1600}
    assert_error(client.get("/api/v1/pricing/quote", too_long), 400, "invalid_request", "text")
    # a blank channel is the default (sms); a blank text is priced as it is (1 unit)
    body = client.get("/api/v1/pricing/quote", {"to": to, "channel": "", "text": ""}).json()
    assert (body["operator"], body["units"], body["price"]) == ("xl", 1, 690)


@pytest.mark.parametrize(
    ("path", "data", "missing"),
    [
        ("/api/v1/verifications", {}, {"to"}),
        ("/api/v1/verifications", {"channel": "sms"}, {"to"}),
        ("/api/v1/verifications", {"to": None}, {"to"}),
        ("/api/v1/messages", {}, {"to", "text"}),
        ("/api/v1/messages", {"text": TEXT}, {"to"}),
        ("/api/v1/messages", {"to": None, "text": TEXT}, {"to"}),
        ("/api/v1/messages", {"to": "0812-3456-7890"}, {"text"}),
        ("/api/v1/verifications/check", {}, {"to", "code"}),
        ("/api/v1/verifications/check", {"code": "123456"}, {"to"}),
        ("/api/v1/verifications/check", {"to": "0812-3456-7890"}, {"code"}),
        ("/api/v1/verifications/ver_unknown/check", {}, {"code"}),
    ],
)
def test_review_8_20_a_missing_field_is_invalid_request_naming_it(
    funded: Cast, path: str, data: dict[str, Any], missing: set[str]
) -> None:
    error = assert_error(post(api_client(funded.acme_live_key), path, data), 400, "invalid_request")
    assert set(error["details"]) == missing
    assert not Message.objects.exists() and not Verification.objects.exists()


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/api/v1/verifications", {"to": "12345"}),
        ("/api/v1/verifications", {"to": 812345}),
        ("/api/v1/messages", {"to": "12345", "text": TEXT}),
        ("/api/v1/messages", {"to": 6281234567890123, "text": TEXT}),
        ("/api/v1/verifications/check", {"to": "12345", "code": "123456"}),
    ],
)
def test_review_8_20_a_present_but_bad_number_is_invalid_phone_number(
    funded: Cast, path: str, data: dict[str, Any]
) -> None:
    response = post(api_client(funded.acme_live_key), path, data)
    assert_error(response, 400, "invalid_phone_number", "to")
    assert not Message.objects.exists() and not Verification.objects.exists()
