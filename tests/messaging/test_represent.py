"""Issue 11: ``otpportal.represent.represent`` renders what the output serializer renders
(fields built once per class instead of per call), for the send and check answers."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework import serializers

from billing import services as billing
from messaging.api import CheckOut, MessageOut, VerificationOut, verification_data, verification_fields
from messaging.models import Message, Verification
from otpportal.represent import represent
from tests.conftest import Cast, api_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager")]


@pytest.fixture
def sent(cast: Cast) -> tuple[Verification, Message]:
    billing.lot_create(customer=cast.acme, amount=1_000_000, reference="bank-1")
    started = api_client(cast.acme_live_key).post(
        "/api/v1/verifications", {"to": "+6281234567890", "reference": "order-1"}, format="json"
    )
    assert started.status_code == 201
    verification = Verification.objects.get(pk=started.json()["id"])
    return verification, Message.objects.get(verification=verification)


@pytest.mark.parametrize("zone", ["Asia/Jakarta", "UTC"])
def test_represent_gives_what_the_serializer_gives(sent: tuple[Verification, Message], zone: str) -> None:
    verification, message = sent
    message.sent_at = None  # a None among the values
    with timezone.override(zone):
        data = verification_fields(verification, message)
        assert represent(VerificationOut, data) == dict(VerificationOut(data).data)
        assert verification_data(verification, message) == dict(VerificationOut(data).data)
        assert represent(MessageOut, message) == dict(MessageOut(message).data)
        check = {"id": verification.id, "valid": False, "status": "pending", "attempts_left": 4}
        assert represent(CheckOut, check) == dict(CheckOut(check).data)
    assert represent(MessageOut, message)["sent_at"] is None
    assert represent(MessageOut, message)["mode"] == "live"


def test_the_send_answer_is_the_serializers(sent: tuple[Verification, Message], cast: Cast) -> None:
    verification, message = sent
    answer = api_client(cast.acme_live_key).get(f"/api/v1/verifications/{verification.id}").json()
    assert answer["price"] == message.price > 0
    assert answer["message_id"] == message.id
    assert answer["created_at"] == serializers.DateTimeField().to_representation(verification.created_at)


@pytest.mark.parametrize(
    "data",
    [
        {"to": "+6281234567890"},
        {"to": "+6281234567890", "channel": "whatsapp", "fallback": ["sms"], "code_length": 8, "ttl": 600},
        {"to": "+6281234567890", "channel": "fax"},
        {"to": "+6281234567890", "code_length": 3, "ttl": "x", "locale": "fr", "app_hash": "short"},
        {"channel": "sms"},
        {"to": "+6281234567890", "fallback": ["sms", "whatsapp", "wa_official"]},
        ["not", "an", "object"],
        "text",
        {},
    ],
)
def test_validated_gives_what_the_serializer_gives(data: object) -> None:
    """``validated`` (one serializer per thread) against a fresh serializer: the same
    data, or the same refusal field by field with the same codes."""
    from rest_framework.exceptions import ValidationError

    from messaging.api import VerificationStartIn
    from otpportal.represent import validated

    fresh = VerificationStartIn(data=data)
    if fresh.is_valid():
        assert validated(VerificationStartIn, data) == dict(fresh.validated_data)
        return
    with pytest.raises(ValidationError) as refused:
        validated(VerificationStartIn, data)
    assert refused.value.detail == fresh.errors
    assert refused.value.get_codes() == ValidationError(fresh.errors).get_codes()
    assert validated(VerificationStartIn, {"to": "+6281234567890"})["channel"] == "sms"  # nothing kept from the refusal
