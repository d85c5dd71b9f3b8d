"""Issue 5 end to end over real sockets: the dispatch pipeline through each
real provider to its local test server, and the receipt or signed callback
coming back to move the message to delivered / undelivered."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from billing import selectors as billing_selectors
from billing.models import Charge
from devservers.smsc import SmscServer
from devservers.wa_cloud import DEV_APP_SECRET, DEV_TOKEN, WaCloudDevServer
from devservers.wa_gateway import DEV_CALLBACK_SECRET, WaGatewayDevServer
from devservers.wa_gateway import DEV_TOKEN as GW_TOKEN
from messaging import services
from messaging.models import Message
from tests.conftest import Cast, api_client
from tests.helpers import wait_for
from tests.messaging.helpers import post

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_price_list", "fresh_providers", "without_redis"),
]
TO = "+6281234567890"


@pytest.fixture
def smsc(settings) -> Iterator[SmscServer]:  # type: ignore[no-untyped-def]
    with SmscServer(receipt_delay=0.05) as server:
        settings.SMPP_ACCOUNTS = [f"smpp://otp:secret@127.0.0.1:{server.port}/?name=main&tps=200"]
        settings.PROVIDER_SMS = "smpp"
        yield server


def create(cast: Cast, path: str, **data) -> dict:  # type: ignore[no-untyped-def,type-arg]
    response = post(api_client(cast.acme_live_key), path, {"to": "0812-3456-7890", **data})
    assert response.status_code == 201, response.content
    return response.json()


def status_of(message_id: str) -> str:
    return Message.objects.get(pk=message_id).status


# --- SMS over SMPP -------------------------------------------------------------


def test_sms_reaches_the_smsc_and_the_receipt_delivers_it(funded: Cast, smsc: SmscServer) -> None:
    body = create(funded, "/api/v1/verifications")
    assert services.message_dispatch(message_id=body["message_id"]) == "sent"
    [submit] = smsc.wait_for_submits(1)
    assert submit.source_addr == "OTPPORTAL" and (submit.source_addr_ton, submit.source_addr_npi) == (5, 0)
    assert submit.destination_addr.endswith("81234567890") and submit.data_coding == 0
    assert "Kode OTP Anda" in submit.text and submit.registered_delivery == 1
    wait_for(lambda: status_of(body["message_id"]) == "delivered", timeout=10)
    message = Message.objects.get(pk=body["message_id"])
    assert message.provider == "smpp" and message.provider_message_id == submit.message_id


def test_a_long_sms_goes_in_parts_with_udh_and_is_delivered_when_all_parts_are(funded: Cast, smsc: SmscServer) -> None:
    text = "Kode OTP Anda 482913. " + "Jangan berikan kode ini kepada siapa pun " * 5
    body = create(funded, "/api/v1/messages", text=text)
    assert body["units"] == 2
    services.message_dispatch(message_id=body["id"])
    parts = smsc.wait_for_submits(2)
    assert [p.udh[1:] for p in parts] == [(2, 1), (2, 2)] and parts[0].udh[0] == parts[1].udh[0]
    assert "".join(p.text for p in parts) == text
    wait_for(lambda: status_of(body["id"]) == "delivered", timeout=10)


def test_ucs2_sms_uses_data_coding_8(funded: Cast, smsc: SmscServer) -> None:
    body = create(funded, "/api/v1/messages", text="Kode OTP Anda 482913 🔐")
    services.message_dispatch(message_id=body["id"])
    [submit] = smsc.wait_for_submits(1)
    assert submit.data_coding == 8 and submit.text == "Kode OTP Anda 482913 🔐"


def test_an_undeliverable_receipt_marks_it_undelivered_and_it_stays_charged(funded: Cast, smsc: SmscServer) -> None:
    smsc.set_receipt_stat(TO.lstrip("+"), "UNDELIV", err="001")
    smsc.set_receipt_stat(TO, "UNDELIV", err="001")
    body = create(funded, "/api/v1/messages", text="Kode OTP Anda 482913")
    services.message_dispatch(message_id=body["id"])
    wait_for(lambda: status_of(body["id"]) == "undelivered", timeout=10)
    assert Charge.objects.get(reference=body["id"]).reversed_at is None  # R-PRE-4


def test_a_permanent_smsc_refusal_reverses_the_charge_and_falls_back(funded: Cast, smsc: SmscServer) -> None:
    for dest in (TO, TO.lstrip("+")):
        smsc.refuse(dest, 0x0B)  # ESME_RINVDSTADR
    body = create(funded, "/api/v1/verifications", fallback=["wa"])
    assert services.message_dispatch(message_id=body["message_id"]) == "rejected"
    message = Message.objects.get(pk=body["message_id"])
    assert message.error_code == "0x0000000B"
    assert Charge.objects.get(reference=message.id).reversed_at is not None
    fallback = Message.objects.get(fallback_of=message)
    assert fallback.channel == "wa"
    assert billing_selectors.balance(customer=funded.acme) == 100_000 - 350


def test_throttling_is_retried_and_then_sent(funded: Cast, smsc: SmscServer, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DISPATCH_BACKOFF_BASE = 0.01
    smsc.throttle(1)
    body = create(funded, "/api/v1/messages", text="Kode OTP Anda 482913")
    assert services.message_dispatch(message_id=body["id"]) == "retry"
    message = Message.objects.get(pk=body["id"])
    assert message.error_code == "0x00000058" and message.status == "queued"
    Message.objects.filter(pk=message.pk).update(next_attempt_at=None)
    assert services.message_dispatch(message_id=body["id"]) == "sent"
    assert len(smsc.accepted()) == 1


def test_a_dropped_connection_reconnects_without_loss_or_duplicate(funded: Cast, smsc: SmscServer, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DISPATCH_BATCH = 1  # one claim, one message: the second meets the dead line on its own
    first = create(funded, "/api/v1/messages", text="Kode OTP Anda 111111")
    second = create(funded, "/api/v1/messages", text="Kode OTP Anda 222222", to="0812-3456-7891")
    smsc.drop_after(1, answer=True)  # accepted and answered, then the line goes dead
    assert services.message_dispatch(message_id=first["id"]) == "sent"
    result = services.message_dispatch(message_id=second["id"])
    if result == "retry":  # the send hit the dead line before the client noticed: nothing went out
        Message.objects.filter(pk=second["id"]).update(next_attempt_at=None)
        result = services.message_dispatch(message_id=second["id"])
    assert result == "sent"
    texts = [s.text for s in smsc.accepted()]
    assert sorted(texts) == ["Kode OTP Anda 111111", "Kode OTP Anda 222222"]
    assert len(smsc.binds) >= 2  # it bound again
    wait_for(lambda: status_of(second["id"]) == "delivered", timeout=10)


# --- WhatsApp Official over the Cloud API ------------------------------------------


@pytest.fixture
def wa_cloud(settings, live_server) -> Iterator[WaCloudDevServer]:  # type: ignore[no-untyped-def]
    with WaCloudDevServer(callback_url=f"{live_server.url}/webhooks/wa-cloud", callback_delay=0.05) as server:
        settings.PROVIDER_WA_OFFICIAL = "wa_cloud"
        settings.WA_CLOUD_BASE_URL = server.base_url
        settings.WA_CLOUD_TOKEN = DEV_TOKEN
        settings.WA_CLOUD_PHONE_NUMBER_ID = server.phone_number_id
        settings.WA_CLOUD_APP_SECRET = DEV_APP_SECRET
        settings.WA_CLOUD_TEMPLATE_NAME = "otp_auth"
        settings.WA_CLOUD_TEMPLATE_LANGUAGE = "id"
        yield server


def test_wa_official_sends_the_template_and_the_signed_callback_delivers(
    funded: Cast, wa_cloud: WaCloudDevServer
) -> None:
    body = create(funded, "/api/v1/verifications", channel="wa_official")
    assert services.message_dispatch(message_id=body["message_id"]) == "sent"
    [accepted] = wa_cloud.accepted
    assert accepted.template == "otp_auth" and accepted.code.isdigit() and len(accepted.code) == 6
    wait_for(lambda: status_of(body["message_id"]) == "delivered", timeout=10)
    assert Message.objects.get(pk=body["message_id"]).provider_message_id == accepted.wamid


def test_wa_official_failed_callback_is_undelivered_and_falls_back(funded: Cast, wa_cloud: WaCloudDevServer) -> None:
    wa_cloud.script_callbacks(final="failed", error_code=131026)
    body = create(funded, "/api/v1/verifications", channel="wa_official", fallback=["wa"])
    services.message_dispatch(message_id=body["message_id"])
    wait_for(lambda: status_of(body["message_id"]) == "undelivered", timeout=10)
    wait_for(lambda: Message.objects.filter(fallback_of_id=body["message_id"], channel="wa").exists(), timeout=10)


def test_badly_signed_callbacks_are_never_applied(funded: Cast, wa_cloud: WaCloudDevServer) -> None:
    wa_cloud.script_callbacks(bad_signature=True)
    body = create(funded, "/api/v1/verifications", channel="wa_official")
    services.message_dispatch(message_id=body["message_id"])
    wait_for(lambda: wa_cloud.callbacks and all(c.status == 403 for c in wa_cloud.callbacks), timeout=10)
    assert status_of(body["message_id"]) == "sent"


def test_duplicated_and_out_of_order_callbacks_apply_once_and_forward(funded: Cast, wa_cloud: WaCloudDevServer) -> None:
    from messaging.models import MessageStatusChange

    wa_cloud.script_callbacks(duplicate=True, out_of_order=True)
    body = create(funded, "/api/v1/verifications", channel="wa_official")
    services.message_dispatch(message_id=body["message_id"])
    wait_for(lambda: len(wa_cloud.callbacks) >= 4 and wa_cloud.pending_callbacks == 0, timeout=10)
    assert status_of(body["message_id"]) == "delivered"
    moves = list(MessageStatusChange.objects.filter(message_id=body["message_id"]).values_list("new", flat=True))
    assert moves.count("delivered") == 1 and moves[-1] == "delivered"


def test_a_permanent_cloud_error_reverses_and_falls_back(funded: Cast, wa_cloud: WaCloudDevServer) -> None:
    wa_cloud.fail_destination(TO, 131026)
    body = create(funded, "/api/v1/verifications", channel="wa_official", fallback=["sms"])
    assert services.message_dispatch(message_id=body["message_id"]) == "rejected"
    assert Charge.objects.get(reference=body["message_id"]).reversed_at is not None
    assert Message.objects.get(fallback_of_id=body["message_id"]).channel == "sms"


# --- WhatsApp regular over the HTTP gateway -------------------------------------------


@pytest.fixture
def gateway(settings, live_server) -> Iterator[WaGatewayDevServer]:  # type: ignore[no-untyped-def]
    with WaGatewayDevServer(callback_url=f"{live_server.url}/webhooks/wa-gateway", callback_delay=0.05) as server:
        settings.PROVIDER_WA = "wa_gateway"
        settings.WA_GATEWAY_BASE_URL = server.base_url
        settings.WA_GATEWAY_TOKEN = GW_TOKEN
        settings.WA_GATEWAY_CALLBACK_SECRET = DEV_CALLBACK_SECRET
        yield server


def test_wa_gateway_sends_and_the_callback_delivers(funded: Cast, gateway: WaGatewayDevServer) -> None:
    body = create(funded, "/api/v1/verifications", channel="wa")
    assert services.message_dispatch(message_id=body["message_id"]) == "sent"
    [accepted] = gateway.accepted
    assert accepted.target == TO.lstrip("+") and "Kode OTP Anda" in accepted.message
    assert accepted.ref == body["message_id"]
    wait_for(lambda: status_of(body["message_id"]) == "delivered", timeout=10)


def test_a_disconnected_gateway_device_falls_back_to_sms(
    funded: Cast,
    gateway: WaGatewayDevServer,  # type: ignore[no-untyped-def]
    settings,
) -> None:
    gateway.fail_next(1, reason="device disconnected")
    body = create(funded, "/api/v1/verifications", channel="wa", fallback=["sms"])
    assert services.message_dispatch(message_id=body["message_id"]) == "rejected"
    fallback = Message.objects.get(fallback_of_id=body["message_id"])
    assert (fallback.channel, fallback.price) == ("sms", 650)
    assert billing_selectors.balance(customer=funded.acme) == 100_000 - 650
