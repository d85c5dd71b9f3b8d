"""POST /api/v1/messages (the customer's own code), the R-CH-3 guard, lists."""

from __future__ import annotations

import pytest

from billing import services as billing
from billing.models import Charge
from messaging.models import Message
from tests.conftest import Cast, api_client
from tests.messaging.helpers import assert_error, post

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager")]


@pytest.fixture
def funded(cast: Cast) -> Cast:
    billing.lot_create(customer=cast.acme, amount=2_000_000, reference="bank-1")  # tier 3
    return cast


def send(cast: Cast, capture, **data):  # type: ignore[no-untyped-def]
    payload = {"to": "0817-1234-5678", "text": "Kode OTP Anda 482913", **data}
    with capture(execute=True):
        return post(api_client(cast.acme_live_key), "/api/v1/messages", payload)


def test_send_answers_the_contract(funded: Cast, django_capture_on_commit_callbacks) -> None:
    response = send(funded, django_capture_on_commit_callbacks)
    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ("to", "channel", "operator", "status", "units", "price", "sender_id")} == {
        "to": "+6281712345678",
        "channel": "sms",
        "operator": "xl",
        "status": "queued",
        "units": 1,
        "price": 650,
        "sender_id": "OTPPORTAL",
    }
    assert Message.objects.get().status == "delivered"  # the sandbox delivered it after commit


def test_units_follow_r_seg(funded: Cast, django_capture_on_commit_callbacks) -> None:
    text = "Kode OTP " + "a" * 140 + " 482913"  # 156 chars: 1 SMS; add specials to pass 160
    assert send(funded, django_capture_on_commit_callbacks, text=text).json()["units"] == 1
    text2 = "Kode, OTP, anda: 482913. " + "a" * 140  # commas/colon/full stop weigh 2
    assert send(funded, django_capture_on_commit_callbacks, text=text2).json()["units"] == 2
    emoji = "Kode OTP 482913 🔐"
    body = send(funded, django_capture_on_commit_callbacks, text=emoji).json()
    assert (body["encoding"], body["units"]) == ("ucs2", 1)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Halo, terima kasih sudah mendaftar", "no_code"),
        ("Kode 482913 cek di https://bit.ly/xyz", "link"),
        ("Kode 482913 cek www.example.com", "link"),
        ("PROMO diskon 50% kode 482913", "promotion"),
        ("Kode 482913 " + "x" * 480, "too_long"),
    ],
)
def test_text_that_is_plainly_not_otp_is_refused(
    funded: Cast,
    text: str,
    reason: str,  # type: ignore[no-untyped-def]
    django_capture_on_commit_callbacks,
) -> None:
    error = assert_error(send(funded, django_capture_on_commit_callbacks, text=text), 400, "not_otp_content", "text")
    assert error["details"]["reason"] == reason
    assert not Charge.objects.exists() and not Message.objects.exists()


def test_an_unregistered_sender_id_is_refused(funded: Cast, django_capture_on_commit_callbacks) -> None:
    assert_error(
        send(funded, django_capture_on_commit_callbacks, sender_id="TOKOKU"), 403, "sender_id_not_active", "sender_id"
    )
    assert not Charge.objects.exists()


def test_whatsapp_needs_no_operator_and_costs_one_unit(funded: Cast, django_capture_on_commit_callbacks) -> None:
    body = send(
        funded, django_capture_on_commit_callbacks, channel="wa_official", text="Kode 482913 " + "a" * 300
    ).json()
    assert (body["units"], body["price"], body["sender_id"]) == (1, 420, "")


def test_unknown_prefix_is_refused_for_sms(funded: Cast, django_capture_on_commit_callbacks) -> None:
    error = assert_error(
        send(funded, django_capture_on_commit_callbacks, to="0828-1234-5678"), 400, "invalid_phone_number"
    )
    assert "operator" in error["message"]


def test_list_filters_and_cursor_pagination(funded: Cast, django_capture_on_commit_callbacks) -> None:
    for i in range(5):
        send(funded, django_capture_on_commit_callbacks, to=f"0812-3456-789{i}")
    send(funded, django_capture_on_commit_callbacks, channel="wa")
    client = api_client(funded.acme_live_key)
    page1 = client.get("/api/v1/messages", {"limit": 4}).json()
    assert len(page1["results"]) == 4 and page1["next"]
    page2 = client.get(page1["next"]).json()
    assert len(page2["results"]) == 2 and page2["next"] is None
    ids = [m["id"] for m in page1["results"] + page2["results"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 6
    assert [m["channel"] for m in client.get("/api/v1/messages", {"channel": "wa"}).json()["results"]] == ["wa"]
    assert len(client.get("/api/v1/messages", {"to": "+6281234567893"}).json()["results"]) == 1
    assert len(client.get("/api/v1/messages", {"status": "delivered"}).json()["results"]) == 6
    assert client.get("/api/v1/messages", {"created_before": "2000-01-01T00:00:00+07:00"}).json()["results"] == []
    assert_error(client.get("/api/v1/messages", {"status": "lost"}), 400, "invalid_request", "status")
    assert_error(client.get("/api/v1/messages", {"created_after": "yesterday"}), 400, "invalid_request")
    assert api_client(funded.globex_live_key).get("/api/v1/messages").json()["results"] == []


def test_message_detail_is_scoped(funded: Cast, django_capture_on_commit_callbacks) -> None:
    message_id = send(funded, django_capture_on_commit_callbacks).json()["id"]
    assert api_client(funded.acme_live_key).get(f"/api/v1/messages/{message_id}").json()["status"] == "delivered"
    assert_error(api_client(funded.globex_live_key).get(f"/api/v1/messages/{message_id}"), 404, "not_found")


def test_quote(funded: Cast) -> None:
    client = api_client(funded.acme_live_key)
    body = client.get(
        "/api/v1/pricing/quote", {"to": "0817-1234-5678", "channel": "sms", "text": "a" * 100 + "," * 31}
    ).json()
    assert body == {"operator": "xl", "encoding": "gsm7", "units": 2, "unit_price": 650, "price": 1300, "tier": 3}
    wa = client.get("/api/v1/pricing/quote", {"to": "0817-1234-5678", "channel": "wa"}).json()
    assert (wa["units"], wa["price"]) == (1, 330)
    assert_error(client.get("/api/v1/pricing/quote", {"to": "123"}), 400, "invalid_phone_number")
    assert_error(
        client.get("/api/v1/pricing/quote", {"to": "0817-1234-5678", "channel": "pigeon"}), 400, "invalid_request"
    )
