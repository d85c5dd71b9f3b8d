"""WhatsApp regular (HTTP gateway) provider against the local gateway dev server, on real sockets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from django.test import override_settings

from devservers.wa_cloud import CallbackReceiver
from devservers.wa_gateway import WaGatewayDevServer
from messaging.providers.base import DeliveryState, OutboundMessage, Outcome
from messaging.providers.wa_gateway import (
    REASON_RULES,
    WaGatewayConfig,
    WaGatewayProvider,
    parse_callback,
    sign,
    verify_signature,
)
from tests.messaging import providers_helpers as helpers
from tests.messaging.providers_helpers import receiver_fixture  # noqa: F401 - the receiver fixture

TO = "+6281234567890"


@pytest.fixture
def server() -> Iterator[WaGatewayDevServer]:
    yield from helpers.running(WaGatewayDevServer())


def config_for(server: WaGatewayDevServer, **overrides: object) -> WaGatewayConfig:
    values: dict[str, object] = {
        "base_url": server.base_url,
        "token": server.token,
        "callback_secret": server.callback_secret,
    }
    return helpers.config_with(WaGatewayConfig, values, overrides)


@pytest.fixture
def provider(server: WaGatewayDevServer) -> Iterator[WaGatewayProvider]:
    yield from helpers.closing(WaGatewayProvider(config_for(server)))


def otp(to: str = TO, msg_id: str = "msg_1") -> OutboundMessage:
    return OutboundMessage(id=msg_id, to=to, channel="wa", text="Kode verifikasi Anda: 482913", code="482913")


# --- sending ------------------------------------------------------------------


def test_send_posts_target_message_and_token_to_send(server: WaGatewayDevServer, provider: WaGatewayProvider) -> None:
    result = provider.send(otp())

    assert result.outcome is Outcome.ACCEPTED
    [request] = server.requests
    assert request.method == "POST"
    assert request.path == "/send"
    assert request.header("Authorization") == server.token
    assert request.json == {"target": "6281234567890", "message": "Kode verifikasi Anda: 482913", "ref": "msg_1"}
    assert result.provider_message_id == server.accepted[0].id


def test_send_names_the_configured_device(server: WaGatewayDevServer) -> None:
    server.device = "device-7"
    provider = WaGatewayProvider(config_for(server, device_id="device-7"))

    result = provider.send(otp())

    assert result.outcome is Outcome.ACCEPTED
    assert server.requests[0].json["device"] == "device-7"
    assert server.accepted[0].device == "device-7"


def test_unknown_device_is_permanent(server: WaGatewayDevServer) -> None:
    server.device = "device-7"
    provider = WaGatewayProvider(config_for(server, device_id="device-8"))

    result = provider.send(otp())

    assert result.outcome is Outcome.PERMANENT
    assert result.error_code == "device_not_found"


def test_consecutive_sends_reuse_one_pooled_connection(server: WaGatewayDevServer, provider: WaGatewayProvider) -> None:
    provider.send(otp(msg_id="msg_1"))
    provider.send(otp(msg_id="msg_2"))

    assert len({r.client_port for r in server.requests}) == 1
    assert len(server.accepted) == 2


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("device disconnected", "device_disconnected"),
        ("number banned", "number_banned"),
        ("invalid target", "invalid_target"),
        ("not registered on whatsapp", "not_registered_on_whatsapp"),
        ("Not Registered  on WhatsApp", "not_registered_on_whatsapp"),
        ("something new", "something_new"),
    ],
)
def test_business_refusal_is_permanent(
    server: WaGatewayDevServer, provider: WaGatewayProvider, reason: str, code: str
) -> None:
    server.fail_target(TO, reason)

    result = provider.send(otp())

    assert result.outcome is Outcome.PERMANENT
    assert result.error_code == code
    assert result.error_message == reason
    assert result.retry_after is None


def test_fallback_reasons_are_in_the_one_table() -> None:
    for reason in ("device disconnected", "number banned", "invalid target", "not registered on whatsapp"):
        assert REASON_RULES[reason].outcome is Outcome.PERMANENT


def test_rate_limited_reason_is_retry(server: WaGatewayDevServer, provider: WaGatewayProvider) -> None:
    server.fail_next(1, reason="rate limited")

    result = provider.send(otp())

    assert result.outcome is Outcome.RETRY
    assert result.retry_after == 5.0


@pytest.mark.parametrize("http_status", [500, 502, 503])
def test_5xx_is_retry(server: WaGatewayDevServer, provider: WaGatewayProvider, http_status: int) -> None:
    server.fail_next(1, http_status=http_status, reason="server busy")

    result = provider.send(otp())

    assert result.outcome is Outcome.RETRY
    assert result.error_code == f"http_{http_status}"


def test_429_is_retry_with_retry_after(server: WaGatewayDevServer, provider: WaGatewayProvider) -> None:
    server.fail_next(1, http_status=429, reason="too many requests", headers={"Retry-After": "3"})

    result = provider.send(otp())

    assert result.outcome is Outcome.RETRY
    assert result.retry_after == 3.0


def test_bad_token_is_permanent(server: WaGatewayDevServer) -> None:
    result = WaGatewayProvider(config_for(server, token="wrong")).send(otp())

    assert result.outcome is Outcome.PERMANENT
    assert result.error_code == "http_401"


def test_invalid_target_answered_by_the_server_is_permanent(
    server: WaGatewayDevServer, provider: WaGatewayProvider
) -> None:
    result = provider.send(otp(to="+62812"))

    assert result.outcome is Outcome.PERMANENT
    assert result.error_code == "invalid_target"


def test_failure_for_n_sends_then_accepted(server: WaGatewayDevServer, provider: WaGatewayProvider) -> None:
    server.fail_target(TO, "device disconnected", times=1)

    first = provider.send(otp())
    second = provider.send(otp())

    assert first.outcome is Outcome.PERMANENT
    assert second.outcome is Outcome.ACCEPTED


def test_read_timeout_is_retry(server: WaGatewayDevServer) -> None:
    server.delay_next(2.0)

    result = WaGatewayProvider(config_for(server, timeout=0.2)).send(otp())

    assert result.outcome is Outcome.RETRY
    assert result.error_code == "timeout"


def test_connection_refused_is_retry() -> None:
    result = WaGatewayProvider(
        WaGatewayConfig(base_url=f"http://127.0.0.1:{helpers.closed_port()}", token="t", timeout=1.0)
    ).send(otp())

    assert result.outcome is Outcome.RETRY
    assert result.error_code == "connection_error"


def test_config_from_settings_reads_the_wa_gateway_settings() -> None:
    with override_settings(
        WA_GATEWAY_BASE_URL="http://gw.local/api",
        WA_GATEWAY_TOKEN="tok",
        WA_GATEWAY_DEVICE="dev-1",
        WA_GATEWAY_CALLBACK_SECRET="sec",
    ):
        config = WaGatewayConfig.from_settings()

    assert config.send_url == "http://gw.local/api/send"
    assert (config.token, config.device_id, config.callback_secret) == ("tok", "dev-1", "sec")
    assert "tok" not in repr(config)


# --- signatures -------------------------------------------------------------------

BODY = b'{"id":"g1","status":"delivered","reason":null,"timestamp":1700000000}'
SECRET = "callback-secret"


def test_signature_good_is_accepted() -> None:
    assert verify_signature(BODY, sign(BODY, SECRET), SECRET) is True


@pytest.mark.parametrize(
    "header",
    [None, "", "0" * 64, sign(BODY, "another-secret"), sign(BODY + b"\n", SECRET), "sha256=" + sign(BODY, SECRET), "é"],
    ids=["missing", "empty", "zeros", "wrong-secret", "other-body", "prefixed", "non-ascii"],
)
def test_signature_bad_is_refused(header: str | None) -> None:
    assert verify_signature(BODY, header, SECRET) is False


def test_signature_refused_when_no_secret_is_configured() -> None:
    assert verify_signature(BODY, sign(BODY, ""), "") is False


# --- parse_callback ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "state"),
    [("sent", DeliveryState.SENT), ("delivered", DeliveryState.DELIVERED), ("read", DeliveryState.DELIVERED)],
)
def test_parse_callback_maps_each_status(status: str, state: DeliveryState) -> None:
    event = {"id": "g1", "status": status, "reason": None, "timestamp": 1700000000}

    [report] = parse_callback(event)

    assert report.provider == "wa_gateway"
    assert report.provider_message_id == "g1"
    assert report.state is state
    assert report.occurred_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert report.error_code == ""
    assert report.raw == event


@pytest.mark.parametrize(
    ("reason", "state", "code"),
    [
        ("not registered on whatsapp", DeliveryState.UNDELIVERED, "not_registered_on_whatsapp"),
        ("invalid target", DeliveryState.UNDELIVERED, "invalid_target"),
        ("device disconnected", DeliveryState.FAILED, "device_disconnected"),
        (None, DeliveryState.FAILED, "failed"),
    ],
)
def test_parse_callback_failed_keeps_the_reason(reason: str | None, state: DeliveryState, code: str) -> None:
    [report] = parse_callback({"id": "g1", "status": "failed", "reason": reason, "timestamp": "1700000000"})

    assert report.state is state
    assert report.error_code == code


def test_parse_callback_accepts_iso_timestamps_and_batches() -> None:
    reports = parse_callback(
        [
            {"id": "g1", "status": "sent", "timestamp": "2023-11-15T05:13:20+07:00"},
            {"id": 42, "status": "DELIVERED", "timestamp": "1700000000"},
        ]
    )

    assert [(r.provider_message_id, r.state) for r in reports] == [
        ("g1", DeliveryState.SENT),
        ("42", DeliveryState.DELIVERED),
    ]
    assert reports[0].occurred_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


@pytest.mark.parametrize("timestamp", [None, "", "kemarin", "2023-11-15T05:13:20", True, 10**20])
def test_parse_callback_unreadable_timestamp_keeps_the_report_without_a_time(timestamp: object) -> None:
    [report] = parse_callback({"id": "g1", "status": "sent", "timestamp": timestamp})

    assert report.occurred_at is None


@pytest.mark.parametrize(
    "payload",
    [
        {},
        [],
        [None, "x", 3],
        {"status": "sent"},
        {"id": "", "status": "sent"},
        {"id": True, "status": "sent"},
        {"id": "g1", "status": "queued"},
        {"id": "g1"},
        "text",
    ],
)
def test_parse_callback_skips_malformed_events_without_raising(payload: object) -> None:
    assert parse_callback(payload) == []  # type: ignore[arg-type]


# --- the dev server's callbacks -------------------------------------------------------


def test_dev_server_posts_signed_sent_then_delivered_callbacks(receiver: CallbackReceiver) -> None:
    server = WaGatewayDevServer(callback_url=receiver.url, callback_delay=0.01).start()
    result = helpers.send_with_callbacks(
        server, WaGatewayProvider(config_for(server)), otp(), receiver, 2, wait_for_sent=True
    )

    arrived = receiver.requests
    assert all(verify_signature(r.body, r.header("X-Gateway-Signature"), server.callback_secret) for r in arrived)
    reports = [report for r in arrived for report in parse_callback(json.loads(r.body))]
    assert [(r.provider_message_id, r.state) for r in reports] == helpers.sent_then_delivered(
        result.provider_message_id
    )
    assert [c.status for c in server.callbacks] == [200, 200]


def test_dev_server_scripted_callbacks_fail_duplicate_reverse_and_badly_signed(receiver: CallbackReceiver) -> None:
    server = WaGatewayDevServer(callback_url=receiver.url, callback_delay=0.01).start()
    server.script_callbacks(
        target=TO,
        final="failed",
        reason="not registered on whatsapp",
        duplicate=True,
        out_of_order=True,
        bad_signature=True,
    )
    helpers.send_with_callbacks(server, WaGatewayProvider(config_for(server)), otp(), receiver, 4)

    arrived = receiver.requests
    states = [parse_callback(r.json)[0].state for r in arrived]
    assert states == [
        DeliveryState.UNDELIVERED,
        DeliveryState.UNDELIVERED,
        DeliveryState.SENT,
        DeliveryState.SENT,
    ]
    assert not any(verify_signature(r.body, r.header("X-Gateway-Signature"), server.callback_secret) for r in arrived)


def test_dev_server_without_callback_url_sends_no_callbacks(
    server: WaGatewayDevServer, provider: WaGatewayProvider
) -> None:
    result = provider.send(otp())

    assert result.outcome is Outcome.ACCEPTED
    assert server.pending_callbacks == 0
    assert server.callbacks == []


def test_2xx_without_a_readable_answer_is_retry(receiver: CallbackReceiver) -> None:
    # The receiver answers any POST with 200 "ok" (not JSON): maybe sent, maybe not.
    result = WaGatewayProvider(WaGatewayConfig(base_url=receiver.base_url, token="t", timeout=2.0)).send(otp())

    assert result.outcome is Outcome.RETRY
    assert result.error_code == "bad_response"
    assert receiver.requests[0].path == "/send"


@pytest.mark.parametrize("missing", ["base_url", "token"])
def test_unconfigured_provider_refuses_without_the_network(server: WaGatewayDevServer, missing: str) -> None:
    result = WaGatewayProvider(config_for(server, **{missing: ""})).send(otp())

    assert result.outcome is Outcome.PERMANENT
    assert result.error_code == "not_configured"
    assert server.requests == []


@pytest.mark.parametrize(("http_status", "taken"), [(503, False), (429, False), (500, True), (502, True)])
def test_a_refusal_that_took_nothing_does_not_spend_the_attempt_ceiling(
    server: WaGatewayDevServer, provider: WaGatewayProvider, http_status: int, taken: bool
) -> None:
    """Drill 6: 503 and 429 say the request was not taken, so no copy can exist and the retries
    last until the code expires (not DISPATCH_MAX_ATTEMPTS); 500 and 502 may follow a send."""
    server.fail_next(1, http_status=http_status, reason="server busy")

    result = provider.send(otp())

    assert result.outcome is Outcome.RETRY
    assert result.submitted is taken
