"""Issue 14 (hostile input), signatures.

- Provider webhooks (``messaging/inbound.py``), through the project's own URLs and the real
  ``delivery_record``: a missing, wrong or replayed-onto-another-body signature is refused
  (403) and the message, its history and its provider reference stay as they were; the
  same body signed right is applied (so the refusals are not an accident of the set-up).
  ``test_inbound_webhooks`` covers the views' parsing with a test URL conf.
- Customer webhooks: real signed deliveries (a verification's status events, made by the
  platform's worker code) are checked with the recipe of ``docs/api.md`` exactly as an
  integrator would: the documented Python function on the raw body and header received by
  a local HTTP receiver, and the documented PHP script served by ``php -S`` (Debian's
  ``php-cli``, in the Makefile's ``APT_PACKAGES``) as the endpoint itself, which answers 204
  for a valid signature and 400 for a tampered body, another secret or an old timestamp.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from django.test import Client

from billing import services as billing
from devservers.wa_cloud import CallbackReceiver
from messaging import services
from messaging.models import Message, MessageStatusChange, ProviderReference, WebhookAttempt
from messaging.providers import wa_cloud, wa_gateway
from messaging.services.events import SIGNATURE_HEADER, sign
from tests.conftest import Cast, api_client
from tests.messaging.helpers import post, sandbox_code

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
APP_SECRET = "hostile-app-secret"
GATEWAY_SECRET = "hostile-gateway-secret"


# --- provider webhooks ---------------------------------------------------------------------


@pytest.fixture
def wa_message(cast: Cast, settings: Any) -> Message:
    """A live WhatsApp message of Acme's, handed to a provider that knows it as ``wamid.H1``
    (WhatsApp Cloud) and ``gw-H1`` (the gateway)."""
    settings.WA_CLOUD_APP_SECRET = APP_SECRET
    settings.WA_GATEWAY_CALLBACK_SECRET = GATEWAY_SECRET
    settings.REDIS_URL = ""
    billing.lot_create(customer=cast.acme, amount=100_000, reference="SIG")
    sent = post(
        api_client(cast.acme_live_key),
        "/api/v1/messages",
        {"to": "+6281234567890", "text": "Kode 123456", "channel": "wa"},
    )
    assert sent.status_code == 201, sent.content
    # The worker has handed it to the provider: "sending", with the provider's ids recorded.
    Message.objects.filter(pk=sent.json()["id"]).update(status=Message.Status.SENDING)
    message = Message.objects.get(pk=sent.json()["id"])
    ProviderReference.objects.create(provider="wa_cloud", provider_message_id="wamid.H1", message=message)
    ProviderReference.objects.create(provider="wa_gateway", provider_message_id="gw-H1", message=message)
    return message


def _cloud_body(status: str) -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "statuses": [{"id": "wamid.H1", "status": status, "timestamp": "1700000000", "recipient_id": "6281234567890"}],
    }
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(payload).encode()


def _gateway_body(status: str) -> bytes:
    return json.dumps({"id": "gw-H1", "status": status, "timestamp": 1700000000}).encode()


def _state(message: Message) -> tuple[Any, ...]:
    message.refresh_from_db()
    history = list(MessageStatusChange.objects.filter(message=message).values_list("new", flat=True))
    refs = list(ProviderReference.objects.filter(message=message).order_by("pk").values_list("state", flat=True))
    return message.status, message.delivered_at, message.error_code, history, refs


def test_issue_14_provider_webhooks_with_a_bad_signature_are_refused_and_change_nothing(
    wa_message: Message,
) -> None:
    """Issue 14: WhatsApp Cloud (``X-Hub-Signature-256``) and the gateway
    (``X-Gateway-Signature``) callbacks through ``/webhooks/…``: every bad signature is 403
    and nothing moves; the right one is applied."""
    client = Client(enforce_csrf_checks=True)
    failed_cloud, failed_gateway = _cloud_body("failed"), _gateway_body("failed")
    bad_cloud = {
        "missing": None,
        "empty": "",
        "no prefix": wa_cloud.signature_header(failed_cloud, APP_SECRET).removeprefix("sha256="),
        "another secret": wa_cloud.signature_header(failed_cloud, "not-the-app-secret"),
        "another body's": wa_cloud.signature_header(_cloud_body("delivered"), APP_SECRET),
        "truncated": wa_cloud.signature_header(failed_cloud, APP_SECRET)[:-2],
        "not ascii": "sha256=" + "é" * 64,
    }
    bad_gateway = {
        "missing": None,
        "empty": "",
        "another secret": wa_gateway.sign(failed_gateway, "not-the-callback-secret"),
        "another body's": wa_gateway.sign(_gateway_body("delivered"), GATEWAY_SECRET),
        "the cloud's format": "sha256=" + wa_gateway.sign(failed_gateway, GATEWAY_SECRET),
    }
    before = _state(wa_message)
    refused = []
    for label, header in bad_cloud.items():
        headers = {} if header is None else {wa_cloud.SIGNATURE_HEADER: header}
        response = client.post("/webhooks/wa-cloud", failed_cloud, content_type="application/json", headers=headers)
        refused.append((f"cloud {label}", response.status_code))
    for label, header in bad_gateway.items():
        headers = {} if header is None else {wa_gateway.SIGNATURE_HEADER: header}
        response = client.post("/webhooks/wa-gateway", failed_gateway, content_type="application/json", headers=headers)
        refused.append((f"gateway {label}", response.status_code))
    assert [status for _label, status in refused] == [403] * len(refused), refused
    assert _state(wa_message) == before

    signed = wa_cloud.signature_header(_cloud_body("delivered"), APP_SECRET)
    response = client.post(
        "/webhooks/wa-cloud",
        _cloud_body("delivered"),
        content_type="application/json",
        headers={wa_cloud.SIGNATURE_HEADER: signed},
    )
    assert response.status_code == 200
    signed = wa_gateway.sign(_gateway_body("delivered"), GATEWAY_SECRET)
    response = client.post(
        "/webhooks/wa-gateway",
        _gateway_body("delivered"),
        content_type="application/json",
        headers={wa_gateway.SIGNATURE_HEADER: signed},
    )
    assert response.status_code == 200
    status, delivered_at, _error, _history, refs = _state(wa_message)
    assert status == Message.Status.DELIVERED and delivered_at is not None and refs == ["delivered", "delivered"]


# --- customer webhooks: the documented recipe, in Python and in PHP -------------------------


def _docs_block(language: str, marker: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL)
    matching = [block for block in blocks if marker in block]
    assert len(matching) == 1, f"expected one ```{language} block with {marker!r} in docs/api.md"
    return matching[0]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        pause.wait(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@pytest.fixture
def php_endpoint(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The PHP receiver of docs/api.md, as written there, served by PHP's built-in web server.
    Its secret is set once the endpoint exists (``OTP_WEBHOOK_SECRET`` in its environment)."""
    php = shutil.which("php")
    assert php, "php is missing: `make system-deps` installs Debian's php-cli (Makefile APT_PACKAGES)"
    (tmp_path / "webhook.php").write_text(_docs_block("php", "otp_signature_is_valid"), encoding="utf-8")
    port = _free_port()
    state: dict[str, Any] = {"url": f"http://127.0.0.1:{port}/webhook.php", "process": None}

    def start(secret: str) -> None:
        state["process"] = subprocess.Popen(
            [php, "-S", f"127.0.0.1:{port}", "-t", str(tmp_path)],
            env={"OTP_WEBHOOK_SECRET": secret, "PATH": "/usr/bin:/bin"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(port)

    state["start"] = start
    yield state
    process = state["process"]
    if process is not None:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.usefixtures("eager", "local_webhooks")
def test_issue_14_customer_webhook_signatures_verify_with_the_documented_recipe_in_python_and_php(
    cast: Cast, php_endpoint: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    """Issue 14: a verification's real status events, signed by the platform, reach a
    Python receiver and the documented PHP script; both recipes accept them, and refuse a
    tampered body, another secret and an old timestamp."""
    namespace: dict[str, Any] = {}
    exec(_docs_block("python", "def signature_is_valid"), namespace)  # noqa: S102 - our own documentation
    python_is_valid = namespace["signature_is_valid"]
    with CallbackReceiver() as receiver:
        python_endpoint = services.endpoint_create(customer=cast.acme, url=receiver.url)
        php = services.endpoint_create(customer=cast.acme, url=php_endpoint["url"])
        php_endpoint["start"](php.secret)
        client = api_client(cast.acme_test_key)
        with django_capture_on_commit_callbacks(execute=True):
            verification = post(client, "/api/v1/verifications", {"to": "+6281234567890"}).json()
        with django_capture_on_commit_callbacks(execute=True):
            checked = post(client, f"/api/v1/verifications/{verification['id']}/check", {"code": sandbox_code()})
        assert checked.json()["valid"] is True
        assert receiver.wait_for_requests(3, timeout=10)
        received = list(receiver.requests)

    # Python, on what the receiver got: the raw body and the header, as a Django view sees them.
    types = sorted(request.json["type"] for request in received)
    assert types == ["message.status", "message.status", "verification.status"]
    for request in received:
        header = request.header(SIGNATURE_HEADER)
        assert python_is_valid(python_endpoint.secret, request.body, header) is True
        assert python_is_valid(python_endpoint.secret, request.body + b"\n", header) is False
        assert python_is_valid(php.secret, request.body, header) is False
        stale = sign(python_endpoint.secret, request.body, int(time.time()) - 600)
        assert python_is_valid(python_endpoint.secret, request.body, stale) is False

    # PHP: the documented script was the endpoint; it answered 204 to every real delivery.
    answers = list(
        WebhookAttempt.objects.filter(delivery__endpoint=php).order_by("pk").values_list("status_code", flat=True)
    )
    assert answers == [204, 204, 204], answers
    # …and refuses, with 400, what was not signed by the platform with its secret.
    body = received[-1].body
    now = int(time.time())
    cases = {
        "the platform's": (body, sign(php.secret, body, now), 204),
        "tampered body": (body.replace(b"approved", b"canceled"), sign(php.secret, body, now), 400),
        "another secret": (body, sign(python_endpoint.secret, body, now), 400),
        "ten minutes old": (body, sign(php.secret, body, now - 600), 400),
        "no signature": (body, "", 400),
        "garbage": (body, "t=abc,v1=xyz", 400),
    }
    answered = {
        label: requests.post(
            php_endpoint["url"],
            data=data,
            headers={SIGNATURE_HEADER: header, "Content-Type": "application/json"},
            timeout=10,
        ).status_code
        for label, (data, header, _expected) in cases.items()
    }
    assert answered == {label: expected for label, (_d, _h, expected) in cases.items()}
