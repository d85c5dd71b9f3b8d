"""WhatsApp Official (Cloud API) provider against the local Cloud API dev server, on real sockets."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from django.test import override_settings

from devservers.wa_cloud import CallbackReceiver, WaCloudDevServer
from messaging.providers.base import DeliveryState, OutboundMessage, Outcome
from messaging.providers.wa_cloud import (
    ERROR_RULES,
    WaCloudConfig,
    WaCloudProvider,
    parse_callback,
    signature_header,
    verify_signature,
)
from tests.messaging import providers_helpers as helpers
from tests.messaging.providers_helpers import receiver_fixture  # noqa: F401 - the receiver fixture

TO = "+6281234567890"


@pytest.fixture
def server() -> Iterator[WaCloudDevServer]:
    yield from helpers.running(WaCloudDevServer())


def config_for(server: WaCloudDevServer, **overrides: object) -> WaCloudConfig:
    values: dict[str, object] = {
        "base_url": server.base_url,
        "api_version": server.api_version,
        "token": server.token,
        "phone_number_id": server.phone_number_id,
        "app_secret": server.app_secret,
    }
    return helpers.config_with(WaCloudConfig, values, overrides)


@pytest.fixture
def provider(server: WaCloudDevServer) -> Iterator[WaCloudProvider]:
    yield from helpers.closing(WaCloudProvider(config_for(server)))


def otp(to: str = TO, code: str = "482913", locale: str = "id", msg_id: str = "msg_1") -> OutboundMessage:
    return OutboundMessage(
        id=msg_id, to=to, channel="wa_official", text=f"{code} adalah kode verifikasi Anda.", code=code, locale=locale
    )


# --- sending ------------------------------------------------------------------


def test_send_reaches_the_messages_path_with_the_token_template_and_code_twice(
    server: WaCloudDevServer, provider: WaCloudProvider
) -> None:
    result = provider.send(otp())

    assert result.outcome is Outcome.ACCEPTED
    assert result.provider_message_id.startswith("wamid.")
    [request] = server.requests
    assert request.method == "POST"
    assert request.path == f"/v21.0/{server.phone_number_id}/messages"
    assert request.header("Authorization") == f"Bearer {server.token}"
    body = request.json
    assert body["messaging_product"] == "whatsapp"
    assert body["recipient_type"] == "individual"
    assert body["to"] == "6281234567890"
    assert body["type"] == "template"
    template = body["template"]
    assert template["name"] == "otp_auth"
    assert template["language"] == {"code": "id"}
    body_component, button = template["components"]
    assert body_component == {"type": "body", "parameters": [{"type": "text", "text": "482913"}]}
    assert button == {
        "type": "button",
        "sub_type": "url",
        "index": "0",
        "parameters": [{"type": "text", "text": "482913"}],
    }
    assert server.accepted[0].wamid == result.provider_message_id


def test_english_locale_sends_the_en_US_template(server: WaCloudDevServer, provider: WaCloudProvider) -> None:
    result = provider.send(otp(locale="en"))

    assert result.outcome is Outcome.ACCEPTED
    assert server.requests[0].json["template"]["language"] == {"code": "en_US"}


def test_language_map_and_template_name_are_configurable(server: WaCloudDevServer) -> None:
    server.templates = frozenset({("login_code", "en_GB"), ("login_code", "id")})
    provider = WaCloudProvider(config_for(server, template_name="login_code", language_map={"en": "en_GB"}))

    english = provider.send(otp(locale="en"))
    unknown_locale = provider.send(otp(locale="fr"))

    assert english.outcome is Outcome.ACCEPTED
    assert unknown_locale.outcome is Outcome.ACCEPTED
    assert [r.json["template"]["language"]["code"] for r in server.requests] == ["en_GB", "id"]
    assert {r.json["template"]["name"] for r in server.requests} == {"login_code"}


def test_consecutive_sends_reuse_one_pooled_connection(server: WaCloudDevServer, provider: WaCloudProvider) -> None:
    first = provider.send(otp(msg_id="msg_1"))
    second = provider.send(otp(msg_id="msg_2"))

    assert first.outcome is second.outcome is Outcome.ACCEPTED
    assert first.provider_message_id != second.provider_message_id
    ports = {r.client_port for r in server.requests}
    assert len(ports) == 1


def test_send_without_a_code_is_refused_before_the_network(server: WaCloudDevServer, provider: WaCloudProvider) -> None:
    result = provider.send(otp(code=""))

    assert result.outcome is Outcome.PERMANENT
    assert result.error_code == "missing_code"
    assert server.requests == []


# --- errors ---------------------------------------------------------------------

ERROR_CASES = [
    # code, HTTP status, outcome, retry_after
    (130429, 400, Outcome.RETRY, 1.0),
    (131056, 400, Outcome.RETRY, 6.0),
    (131048, 400, Outcome.RETRY, 60.0),
    (4, 400, Outcome.RETRY, 60.0),
    (80007, 400, Outcome.RETRY, 60.0),
    (131000, 500, Outcome.RETRY, None),
    (131001, 500, Outcome.RETRY, None),
    (131002, 500, Outcome.RETRY, None),
    (131026, 400, Outcome.PERMANENT, None),
    (131047, 400, Outcome.PERMANENT, None),
    (131051, 400, Outcome.PERMANENT, None),
    (132000, 400, Outcome.PERMANENT, None),
    (132001, 404, Outcome.PERMANENT, None),
    (131009, 400, Outcome.PERMANENT, None),
    (100, 400, Outcome.PERMANENT, None),
    (131030, 400, Outcome.PERMANENT, None),
    (190, 401, Outcome.PERMANENT, None),
]


@pytest.mark.parametrize(("code", "http_status", "outcome", "retry_after"), ERROR_CASES)
def test_graph_error_maps_to_its_outcome(
    server: WaCloudDevServer,
    provider: WaCloudProvider,
    code: int,
    http_status: int,
    outcome: Outcome,
    retry_after: float | None,
) -> None:
    server.fail_next(1, code, http_status=http_status)

    result = provider.send(otp())

    assert result.outcome is outcome
    assert result.error_code == str(code)
    assert result.retry_after == retry_after
    assert result.error_message.startswith(f"(#{code})")
    assert result.provider_message_id == ""


def test_every_tested_code_is_in_the_one_table() -> None:
    assert {code for code, *_ in ERROR_CASES} <= set(ERROR_RULES)


def test_auth_failure_is_permanent_and_alerts_the_operator(
    server: WaCloudDevServer, caplog: pytest.LogCaptureFixture
) -> None:
    provider = WaCloudProvider(config_for(server, token="expired"))

    with caplog.at_level(logging.INFO, logger="messaging.providers.wa_cloud"):
        result = provider.send(otp())

    assert result.outcome is Outcome.PERMANENT
    assert result.error_code == "190"
    assert any(r.levelno == logging.ERROR for r in caplog.records)


def test_unknown_template_answered_by_the_server_is_permanent(server: WaCloudDevServer) -> None:
    provider = WaCloudProvider(config_for(server, template_name="not_approved"))

    result = provider.send(otp())

    assert result.outcome is Outcome.PERMANENT
    assert result.error_code == "132001"


def test_wrong_phone_number_id_is_permanent(server: WaCloudDevServer) -> None:
    provider = WaCloudProvider(config_for(server, phone_number_id="999"))

    result = provider.send(otp())

    assert result.outcome is Outcome.PERMANENT
    assert result.error_code == "100"


def test_bare_5xx_without_a_graph_body_is_retry(server: WaCloudDevServer, provider: WaCloudProvider) -> None:
    server.fail_next(1, None, http_status=502)

    result = provider.send(otp())

    assert result.outcome is Outcome.RETRY
    assert result.error_code == "http_502"


def test_retry_after_header_wins_over_the_table(server: WaCloudDevServer, provider: WaCloudProvider) -> None:
    server.fail_next(1, 130429, http_status=429, headers={"Retry-After": "7"})

    result = provider.send(otp())

    assert result.outcome is Outcome.RETRY
    assert result.retry_after == 7.0


def test_unknown_code_follows_is_transient_then_http_status(
    server: WaCloudDevServer, provider: WaCloudProvider
) -> None:
    server.fail_next(1, 999999, http_status=400, is_transient=True)
    server.fail_next(1, 999998, http_status=400)

    transient = provider.send(otp())
    refused = provider.send(otp())

    assert (transient.outcome, transient.error_code) == (Outcome.RETRY, "999999")
    assert (refused.outcome, refused.error_code) == (Outcome.PERMANENT, "999998")


def test_destination_failure_hits_only_that_number_and_only_n_times(
    server: WaCloudDevServer, provider: WaCloudProvider
) -> None:
    server.fail_destination("+6281200000001", 131026, times=1)

    bad = provider.send(otp(to="+6281200000001"))
    other = provider.send(otp(to="+6281200000002"))
    bad_again = provider.send(otp(to="+6281200000001"))

    assert bad.outcome is Outcome.PERMANENT
    assert bad.error_code == "131026"
    assert other.outcome is Outcome.ACCEPTED
    assert bad_again.outcome is Outcome.ACCEPTED


def test_read_timeout_is_retry(server: WaCloudDevServer) -> None:
    server.delay_next(2.0)
    provider = WaCloudProvider(config_for(server, timeout=0.2))

    result = provider.send(otp())

    assert result.outcome is Outcome.RETRY
    assert result.error_code == "timeout"


def test_connection_refused_is_retry() -> None:
    provider = WaCloudProvider(
        WaCloudConfig(base_url=f"http://127.0.0.1:{helpers.closed_port()}", token="t", phone_number_id="1", timeout=1.0)
    )

    result = provider.send(otp())

    assert result.outcome is Outcome.RETRY
    assert result.error_code == "connection_error"


# --- configuration ------------------------------------------------------------------


def test_config_from_settings_reads_the_wa_cloud_settings() -> None:
    with override_settings(
        WA_CLOUD_BASE_URL="http://graph.local",
        WA_CLOUD_API_VERSION="v22.0",
        WA_CLOUD_TOKEN="tok",
        WA_CLOUD_PHONE_NUMBER_ID="123",
        WA_CLOUD_TEMPLATE_NAME="kode_otp",
        WA_CLOUD_TEMPLATE_LANGUAGE="id",
        WA_CLOUD_APP_SECRET="sec",
        WA_CLOUD_VERIFY_TOKEN="ver",
    ):
        config = WaCloudConfig.from_settings()

    assert config.messages_url == "http://graph.local/v22.0/123/messages"
    assert (config.token, config.template_name, config.app_secret, config.verify_token) == (
        "tok",
        "kode_otp",
        "sec",
        "ver",
    )
    assert config.language_for("en") == "en_US"
    assert "tok" not in repr(config)
    assert "sec" not in repr(config)


# --- signatures -----------------------------------------------------------------------

BODY = b'{"object":"whatsapp_business_account","entry":[]}'
SECRET = "app-secret"


def test_signature_good_is_accepted() -> None:
    assert verify_signature(BODY, signature_header(BODY, SECRET), SECRET) is True


def test_signature_uppercase_hex_is_accepted() -> None:
    header = signature_header(BODY, SECRET)
    assert verify_signature(BODY, "sha256=" + header.removeprefix("sha256=").upper(), SECRET) is True


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha256=" + "0" * 64,
        signature_header(BODY, SECRET).removeprefix("sha256="),  # no prefix
        "sha1=" + signature_header(BODY, SECRET).removeprefix("sha256="),
        signature_header(BODY, "another-secret"),
        signature_header(BODY + b" ", SECRET),
        "sha256=ü" + "0" * 63,
    ],
    ids=["missing", "empty", "prefix-only", "zeros", "no-prefix", "sha1", "wrong-secret", "other-body", "non-ascii"],
)
def test_signature_bad_is_refused(header: str | None) -> None:
    assert verify_signature(BODY, header, SECRET) is False


def test_signature_refused_when_no_secret_is_configured() -> None:
    assert verify_signature(BODY, signature_header(BODY, ""), "") is False


# --- parse_callback -------------------------------------------------------------------


def status_payload(*statuses: dict[str, object], messages: list[dict[str, object]] | None = None) -> dict[str, object]:
    value: dict[str, object] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "6281100000000", "phone_number_id": "100000000000001"},
        "statuses": list(statuses),
    }
    if messages is not None:
        value["messages"] = messages
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "200000000000002", "changes": [{"field": "messages", "value": value}]}],
    }


@pytest.mark.parametrize(
    ("status", "state"),
    [("sent", DeliveryState.SENT), ("delivered", DeliveryState.DELIVERED), ("read", DeliveryState.DELIVERED)],
)
def test_parse_callback_maps_each_status(status: str, state: DeliveryState) -> None:
    item = {"id": "wamid.A", "status": status, "timestamp": "1700000000", "recipient_id": "6281234567890"}

    [report] = parse_callback(status_payload(item))

    assert report.provider == "wa_cloud"
    assert report.provider_message_id == "wamid.A"
    assert report.state is state
    assert report.occurred_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert report.error_code == ""
    assert report.raw == item


@pytest.mark.parametrize(
    ("code", "state"),
    [(131026, DeliveryState.UNDELIVERED), (131047, DeliveryState.UNDELIVERED), (131000, DeliveryState.FAILED)],
)
def test_parse_callback_failed_keeps_the_error_code(code: int, state: DeliveryState) -> None:
    item = {
        "id": "wamid.F",
        "status": "failed",
        "timestamp": "1700000001",
        "recipient_id": "6281234567890",
        "errors": [{"code": code, "title": "x"}],
    }

    [report] = parse_callback(status_payload(item))

    assert report.state is state
    assert report.error_code == str(code)


def test_parse_callback_failed_without_errors_is_failed_without_code() -> None:
    [report] = parse_callback(status_payload({"id": "wamid.F", "status": "failed", "timestamp": "1700000001"}))

    assert report.state is DeliveryState.FAILED
    assert report.error_code == ""


def test_parse_callback_reads_every_entry_change_and_status() -> None:
    payload = status_payload(
        {"id": "wamid.1", "status": "sent", "timestamp": "1700000000"},
        {"id": "wamid.1", "status": "delivered", "timestamp": "1700000002"},
    )
    payload["entry"].append(  # type: ignore[attr-defined]
        status_payload({"id": "wamid.2", "status": "read", "timestamp": "1700000003"})["entry"][0]  # type: ignore[index]
    )

    reports = parse_callback(payload)

    assert [(r.provider_message_id, r.state) for r in reports] == [
        ("wamid.1", DeliveryState.SENT),
        ("wamid.1", DeliveryState.DELIVERED),
        ("wamid.2", DeliveryState.DELIVERED),
    ]


def test_parse_callback_ignores_inbound_user_messages_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    inbound = [
        {"from": "6281234567890", "id": "wamid.IN", "timestamp": "1700000000", "type": "text", "text": {"body": "halo"}}
    ]

    with caplog.at_level(logging.INFO, logger="messaging.providers.wa_cloud"):
        reports = parse_callback(status_payload(messages=inbound))

    assert reports == []
    assert any("wamid.IN" in r.getMessage() and "R-CH-2" in r.getMessage() for r in caplog.records)
    assert not any("halo" in r.getMessage() for r in caplog.records)


def test_parse_callback_bad_timestamp_keeps_the_report_without_a_time() -> None:
    [report] = parse_callback(status_payload({"id": "wamid.T", "status": "sent", "timestamp": "yesterday"}))

    assert report.state is DeliveryState.SENT
    assert report.occurred_at is None


@pytest.mark.parametrize(
    "payload",
    [
        {},
        [],
        "text",
        {"object": "page", "entry": []},
        {"object": "whatsapp_business_account", "entry": "nope"},
        {"object": "whatsapp_business_account", "entry": [None, 3, {"changes": "x"}]},
        {"object": "whatsapp_business_account", "entry": [{"changes": [None, {"field": "messages", "value": "x"}]}]},
        {"entry": [{"changes": [{"field": "message_template_status_update", "value": {"statuses": [{"id": "w"}]}}]}]},
        status_payload({"status": "sent"}),  # no id
        status_payload({"id": "", "status": "sent"}),
        status_payload({"id": "wamid.X", "status": "deleted"}),
        status_payload({"id": "wamid.X"}),
        status_payload("not-a-status"),  # type: ignore[arg-type]
        {"entry": [{"changes": [{"field": "messages", "value": {"statuses": "x"}}]}]},
    ],
)
def test_parse_callback_skips_malformed_parts_without_raising(payload: object) -> None:
    assert parse_callback(payload) == []  # type: ignore[arg-type]


def test_parse_callback_keeps_good_statuses_next_to_bad_ones() -> None:
    payload = status_payload(
        {"id": "wamid.ok", "status": "delivered", "timestamp": "1700000000"},
        {"status": "sent"},
        "junk",  # type: ignore[arg-type]
    )

    reports = parse_callback(payload)

    assert [r.provider_message_id for r in reports] == ["wamid.ok"]


# --- the dev server's status callbacks ----------------------------------------------------


def start_server_with_callbacks(receiver: CallbackReceiver) -> WaCloudDevServer:
    return WaCloudDevServer(callback_url=receiver.url, callback_delay=0.01).start()


def test_dev_server_posts_signed_sent_then_delivered_callbacks(receiver: CallbackReceiver) -> None:
    server = start_server_with_callbacks(receiver)
    result = helpers.send_with_callbacks(
        server, WaCloudProvider(config_for(server)), otp(), receiver, 2, wait_for_sent=True
    )

    arrived = receiver.requests
    assert all(r.path == "/callback" and r.method == "POST" for r in arrived)
    assert all(verify_signature(r.body, r.header("X-Hub-Signature-256"), server.app_secret) for r in arrived)
    reports = [report for r in arrived for report in parse_callback(json.loads(r.body))]
    assert [(r.provider_message_id, r.state) for r in reports] == helpers.sent_then_delivered(
        result.provider_message_id
    )
    first = arrived[0].json
    assert first["object"] == "whatsapp_business_account"
    value = first["entry"][0]["changes"][0]["value"]
    assert value["metadata"]["phone_number_id"] == server.phone_number_id
    assert value["statuses"][0]["recipient_id"] == "6281234567890"
    assert [c.status for c in server.callbacks] == [200, 200]


def test_dev_server_scripted_failure_callback_is_undelivered(receiver: CallbackReceiver) -> None:
    server = start_server_with_callbacks(receiver)
    server.script_callbacks(to="+6281234567890", final="failed", error_code=131026)
    helpers.send_with_callbacks(server, WaCloudProvider(config_for(server)), otp(), receiver, 2)

    reports = [report for r in receiver.requests for report in parse_callback(r.json)]
    assert [(r.state, r.error_code) for r in reports] == [
        (DeliveryState.SENT, ""),
        (DeliveryState.UNDELIVERED, "131026"),
    ]


def test_dev_server_can_send_duplicate_out_of_order_badly_signed_callbacks(receiver: CallbackReceiver) -> None:
    server = start_server_with_callbacks(receiver)
    server.script_callbacks(duplicate=True, out_of_order=True, bad_signature=True)
    helpers.send_with_callbacks(server, WaCloudProvider(config_for(server)), otp(), receiver, 4)

    arrived = receiver.requests
    states = [parse_callback(r.json)[0].state for r in arrived]
    assert states == [DeliveryState.DELIVERED, DeliveryState.DELIVERED, DeliveryState.SENT, DeliveryState.SENT]
    assert not any(verify_signature(r.body, r.header("X-Hub-Signature-256"), server.app_secret) for r in arrived)


def test_dev_server_without_callback_url_sends_no_callbacks(
    server: WaCloudDevServer, provider: WaCloudProvider
) -> None:
    result = provider.send(otp())

    assert result.outcome is Outcome.ACCEPTED
    assert server.callback_url is None
    assert server.pending_callbacks == 0
    assert server.callbacks == []


def test_2xx_without_a_message_id_is_retry(receiver: CallbackReceiver) -> None:
    # The receiver answers any POST with 200 "ok" (not JSON): maybe sent, maybe not.
    provider = WaCloudProvider(WaCloudConfig(base_url=receiver.base_url, token="t", phone_number_id="1", timeout=2.0))

    result = provider.send(otp())

    assert result.outcome is Outcome.RETRY
    assert result.error_code == "bad_response"
    assert receiver.requests[0].path == "/v21.0/1/messages"


@pytest.mark.parametrize("missing", ["token", "phone_number_id"])
def test_unconfigured_provider_refuses_without_the_network(server: WaCloudDevServer, missing: str) -> None:
    result = WaCloudProvider(config_for(server, **{missing: ""})).send(otp())

    assert result.outcome is Outcome.PERMANENT
    assert result.error_code == "not_configured"
    assert server.requests == []


@pytest.mark.parametrize(("http_status", "taken"), [(503, False), (429, False), (500, True), (502, True)])
def test_a_refusal_that_took_nothing_does_not_spend_the_attempt_ceiling(
    server: WaCloudDevServer, provider: WaCloudProvider, http_status: int, taken: bool
) -> None:
    """Drill 6: 503 and 429 say the request was not taken, so no copy can exist and the retries
    last until the code expires (not DISPATCH_MAX_ATTEMPTS); 500 and 502 may follow a send."""
    server.fail_next(1, None, http_status=http_status)

    result = provider.send(otp())

    assert result.outcome is Outcome.RETRY
    assert result.submitted is taken
