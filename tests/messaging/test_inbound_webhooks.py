"""The WhatsApp webhook views: handshake, signatures, parsing, and handing reports to delivery_record."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import path

from devservers.wa_cloud import CallbackReceiver, WaCloudDevServer
from devservers.wa_gateway import WaGatewayDevServer
from messaging import inbound
from messaging.providers.base import DeliveryReport, DeliveryState, OutboundMessage, Outcome
from messaging.providers.wa_cloud import WaCloudConfig, WaCloudProvider, signature_header
from messaging.providers.wa_gateway import WaGatewayConfig, WaGatewayProvider, sign

urlpatterns = [
    path("webhooks/wa-cloud", inbound.wa_cloud_webhook),
    path("webhooks/wa-gateway", inbound.wa_gateway_webhook),
]

APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
GATEWAY_SECRET = "test-gateway-secret"
CLOUD = "/webhooks/wa-cloud"
GATEWAY = "/webhooks/wa-gateway"


@pytest.fixture(autouse=True)
def webhook_settings() -> Iterator[None]:
    with override_settings(
        ROOT_URLCONF=__name__,
        WA_CLOUD_APP_SECRET=APP_SECRET,
        WA_CLOUD_VERIFY_TOKEN=VERIFY_TOKEN,
        WA_GATEWAY_CALLBACK_SECRET=GATEWAY_SECRET,
    ):
        yield


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[DeliveryReport]:
    reports: list[DeliveryReport] = []

    def fake(report: DeliveryReport) -> None:
        reports.append(report)

    monkeypatch.setattr(inbound, "_record", fake)
    return reports


@pytest.fixture
def client() -> Client:
    return Client(enforce_csrf_checks=True)  # proves the views are csrf_exempt


def cloud_body(*statuses: dict[str, Any], messages: list[dict[str, Any]] | None = None) -> bytes:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "6281100000000", "phone_number_id": "100000000000001"},
    }
    if statuses:
        value["statuses"] = list(statuses)
    if messages is not None:
        value["messages"] = messages
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "200000000000002", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(payload).encode()


def post_cloud(client: Client, body: bytes, signature: str | None) -> Any:
    headers = {} if signature is None else {"X-Hub-Signature-256": signature}
    return client.post(CLOUD, data=body, content_type="application/json", headers=headers)


def post_gateway(client: Client, body: bytes, signature: str | None) -> Any:
    headers = {} if signature is None else {"X-Gateway-Signature": signature}
    return client.post(GATEWAY, data=body, content_type="application/json", headers=headers)


SENT = {"id": "wamid.A", "status": "sent", "timestamp": "1700000000", "recipient_id": "6281234567890"}
DELIVERED = {"id": "wamid.A", "status": "delivered", "timestamp": "1700000001", "recipient_id": "6281234567890"}


# --- the hub.challenge handshake -------------------------------------------------------


def test_handshake_with_our_token_echoes_the_challenge(client: Client) -> None:
    response = client.get(
        CLOUD, {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    )

    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {},
    ],
    ids=["wrong-token", "wrong-mode", "no-mode", "no-token", "nothing"],
)
def test_handshake_refused_without_our_token(client: Client, query: dict[str, str]) -> None:
    response = client.get(CLOUD, query)

    assert response.status_code == 403
    assert b"1" not in response.content


def test_handshake_refused_when_no_verify_token_is_configured(client: Client) -> None:
    with override_settings(WA_CLOUD_VERIFY_TOKEN=""):
        response = client.get(CLOUD, {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"})

    assert response.status_code == 403


# --- Cloud API status webhooks ------------------------------------------------------------


def test_signed_statuses_are_recorded_in_order(client: Client, recorded: list[DeliveryReport]) -> None:
    body = cloud_body(SENT, DELIVERED)

    response = post_cloud(client, body, signature_header(body, APP_SECRET))

    assert response.status_code == 200
    assert response.json() == {"received": 2}
    assert [(r.provider, r.provider_message_id, r.state) for r in recorded] == [
        ("wa_cloud", "wamid.A", DeliveryState.SENT),
        ("wa_cloud", "wamid.A", DeliveryState.DELIVERED),
    ]


BAD_CLOUD_SIGNATURES: dict[str, Callable[[bytes], str | None]] = {
    "missing": lambda body: None,
    "empty": lambda body: "",
    "zeros": lambda body: "sha256=" + "0" * 64,
    "other-body": lambda body: signature_header(body + b" ", APP_SECRET),
    "wrong-secret": lambda body: signature_header(body, "wrong-secret"),
    "no-prefix": lambda body: signature_header(body, APP_SECRET).removeprefix("sha256="),
}


@pytest.mark.parametrize("make_signature", BAD_CLOUD_SIGNATURES.values(), ids=BAD_CLOUD_SIGNATURES.keys())
def test_bad_signature_is_refused_and_nothing_applied(
    client: Client, recorded: list[DeliveryReport], make_signature: Callable[[bytes], str | None]
) -> None:
    body = cloud_body(SENT)

    response = post_cloud(client, body, make_signature(body))

    assert response.status_code == 403
    assert recorded == []


def test_post_refused_when_no_app_secret_is_configured(client: Client, recorded: list[DeliveryReport]) -> None:
    body = cloud_body(SENT)
    with override_settings(WA_CLOUD_APP_SECRET=""):
        response = post_cloud(client, body, signature_header(body, ""))

    assert response.status_code == 403
    assert recorded == []


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[1, 2]", b'"text"', b""])
def test_signed_malformed_json_is_400(client: Client, recorded: list[DeliveryReport], body: bytes) -> None:
    response = post_cloud(client, body, signature_header(body, APP_SECRET))

    assert response.status_code == 400
    assert recorded == []


def test_signed_payload_with_unknown_ids_is_still_200(client: Client, recorded: list[DeliveryReport]) -> None:
    body = cloud_body({"id": "wamid.never-sent-by-us", "status": "delivered", "timestamp": "1700000000"})

    response = post_cloud(client, body, signature_header(body, APP_SECRET))

    assert response.status_code == 200
    assert [r.provider_message_id for r in recorded] == ["wamid.never-sent-by-us"]


def test_inbound_user_message_is_acknowledged_and_ignored(client: Client, recorded: list[DeliveryReport]) -> None:
    body = cloud_body(messages=[{"from": "6281234567890", "id": "wamid.IN", "type": "text", "text": {"body": "hi"}}])

    response = post_cloud(client, body, signature_header(body, APP_SECRET))

    assert response.status_code == 200
    assert response.json() == {"received": 0}
    assert recorded == []


def test_signed_but_malformed_parts_are_skipped_with_200(client: Client, recorded: list[DeliveryReport]) -> None:
    body = cloud_body({"status": "sent"}, {"id": "wamid.B", "status": "weird"}, DELIVERED)

    response = post_cloud(client, body, signature_header(body, APP_SECRET))

    assert response.status_code == 200
    assert [r.state for r in recorded] == [DeliveryState.DELIVERED]


def test_recording_failure_answers_500_so_meta_redelivers(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def flaky(report: DeliveryReport) -> None:
        seen.append(report.state)
        if report.state is DeliveryState.SENT:
            raise RuntimeError("database is down")

    monkeypatch.setattr(inbound, "_record", flaky)
    body = cloud_body(SENT, DELIVERED)

    response = post_cloud(client, body, signature_header(body, APP_SECRET))

    assert response.status_code == 500
    assert seen == [DeliveryState.SENT, DeliveryState.DELIVERED]


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_other_methods_are_405(client: Client, method: str) -> None:
    assert getattr(client, method)(CLOUD).status_code == 405
    assert getattr(client, method)(GATEWAY).status_code == 405


def test_record_hands_the_report_to_services_delivery_record(monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[DeliveryReport] = []
    monkeypatch.setattr("messaging.services.delivery_record", received.append, raising=False)
    report = DeliveryReport(provider="wa_cloud", provider_message_id="wamid.A", state=DeliveryState.SENT)

    inbound._record(report)

    assert received == [report]


# --- gateway callbacks --------------------------------------------------------------------------


def test_gateway_signed_callback_is_recorded(client: Client, recorded: list[DeliveryReport]) -> None:
    body = json.dumps({"id": "g1", "status": "failed", "reason": "not registered on whatsapp", "timestamp": 1}).encode()

    response = post_gateway(client, body, sign(body, GATEWAY_SECRET))

    assert response.status_code == 200
    [report] = recorded
    assert (report.provider, report.provider_message_id, report.state, report.error_code) == (
        "wa_gateway",
        "g1",
        DeliveryState.UNDELIVERED,
        "not_registered_on_whatsapp",
    )


def test_gateway_batched_callbacks_are_recorded(client: Client, recorded: list[DeliveryReport]) -> None:
    body = json.dumps(
        [{"id": "g1", "status": "sent", "timestamp": 1}, {"id": "g1", "status": "read", "timestamp": 2}]
    ).encode()

    response = post_gateway(client, body, sign(body, GATEWAY_SECRET))

    assert response.status_code == 200
    assert [r.state for r in recorded] == [DeliveryState.SENT, DeliveryState.DELIVERED]


@pytest.mark.parametrize("signature", [None, "", "0" * 64, "wrong-secret"], ids=["missing", "empty", "zeros", "wrong"])
def test_gateway_bad_signature_is_refused(
    client: Client, recorded: list[DeliveryReport], signature: str | None
) -> None:
    body = json.dumps({"id": "g1", "status": "sent", "timestamp": 1}).encode()
    if signature == "wrong-secret":
        signature = sign(body, "wrong-secret")

    response = post_gateway(client, body, signature)

    assert response.status_code == 403
    assert recorded == []


@pytest.mark.parametrize("body", [b"{oops", b'"text"', b"42"])
def test_gateway_signed_malformed_json_is_400(client: Client, recorded: list[DeliveryReport], body: bytes) -> None:
    response = post_gateway(client, body, sign(body, GATEWAY_SECRET))

    assert response.status_code == 400
    assert recorded == []


def test_gateway_get_is_405(client: Client) -> None:
    assert client.get(GATEWAY).status_code == 405


# --- end to end: dev server callbacks through the views ------------------------------------------


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    with CallbackReceiver() as running:
        yield running


def test_cloud_dev_server_callbacks_pass_the_view(
    client: Client, recorded: list[DeliveryReport], receiver: CallbackReceiver
) -> None:
    server = WaCloudDevServer(app_secret=APP_SECRET, callback_url=receiver.url, callback_delay=0.01).start()
    try:
        config = WaCloudConfig(
            base_url=server.base_url, token=server.token, phone_number_id=server.phone_number_id, timeout=2.0
        )
        result = WaCloudProvider(config).send(
            OutboundMessage(id="msg_1", to="+6281234567890", channel="wa_official", text="482913", code="482913")
        )
        assert receiver.wait_for_requests(2, timeout=5)
    finally:
        server.stop()

    assert result.outcome is Outcome.ACCEPTED
    for callback in receiver.requests:
        response = post_cloud(client, callback.body, callback.header("X-Hub-Signature-256"))
        assert response.status_code == 200
    assert [(r.provider_message_id, r.state) for r in recorded] == [
        (result.provider_message_id, DeliveryState.SENT),
        (result.provider_message_id, DeliveryState.DELIVERED),
    ]


def test_gateway_dev_server_callbacks_pass_the_view_and_bad_ones_do_not(
    client: Client, recorded: list[DeliveryReport], receiver: CallbackReceiver
) -> None:
    server = WaGatewayDevServer(callback_secret=GATEWAY_SECRET, callback_url=receiver.url, callback_delay=0.01).start()
    server.script_callbacks(target="6281200000009", bad_signature=True)
    try:
        provider = WaGatewayProvider(WaGatewayConfig(base_url=server.base_url, token=server.token, timeout=2.0))
        good = provider.send(OutboundMessage(id="msg_1", to="+6281234567890", channel="wa", text="Kode 482913"))
        forged = provider.send(OutboundMessage(id="msg_2", to="+6281200000009", channel="wa", text="Kode 111111"))
        assert receiver.wait_for_requests(4, timeout=5)
    finally:
        server.stop()

    statuses = [post_gateway(client, c.body, c.header("X-Gateway-Signature")).status_code for c in receiver.requests]
    assert sorted(statuses) == [200, 200, 403, 403]
    assert {r.provider_message_id for r in recorded} == {good.provider_message_id}
    assert forged.outcome is Outcome.ACCEPTED
