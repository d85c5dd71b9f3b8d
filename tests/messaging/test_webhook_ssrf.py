"""Review 8.7: customer webhook URLs never reach the platform's own network
(SSRF). Refused at registration and again at every delivery, the request
pinned to the checked address, no redirects, no answer body kept."""

from __future__ import annotations

import datetime
import http.server
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings as django_settings
from django.test import Client

from devservers._http import DevServerBase, ReceivedRequest, Reply
from devservers.wa_cloud import CallbackReceiver
from messaging import services
from messaging.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from otpportal import netguard
from otpportal.errors import ServiceError
from tests.conftest import Cast, api_client
from tests.helpers import signed_in
from tests.messaging.helpers import assert_error, post

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager")]

INTERNAL_URLS = [
    "http://127.0.0.1:6379/",  # Redis
    "http://169.254.169.254/latest/",  # cloud metadata
    "http://localhost:8000/admin/",
    "http://LOCALHOST./x",
    "http://hooks.localhost/x",
    "http://2130706433/",  # 127.0.0.1 as one number
    "http://0x7f.1/",  # 127.0.0.1 in hex, short form
    "http://0177.0.0.1/",  # octal
    "http://127.1/",
    "http://0.0.0.0:5432/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://224.0.0.1/",  # multicast
    "http://240.0.0.1/",  # reserved
    "http://255.255.255.255/",
    "http://[::1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "http://[::ffff:7f00:1]/",
    "http://[::127.0.0.1]/",  # IPv4-compatible
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://[2002:a9fe:a9fe::]/",  # 6to4 of 169.254.169.254
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[fec0::1]/",
    "http://[ff02::1]/",
    "https://[::ffff:10.0.0.1]:8443/hook",
]


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Answers of a DNS server we control (name -> addresses), with every lookup recorded."""
    answers: dict[str, list[str]] = {}
    real = netguard.resolve
    lookups: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        lookups.append(host)
        return list(answers[host]) if host in answers else real(host, port)

    monkeypatch.setattr(netguard, "resolve", resolve)
    answers["__lookups__"] = lookups  # type: ignore[assignment]
    return answers


class Answering(DevServerBase):
    """A receiver that answers every request with one fixed reply."""

    def __init__(self, reply: Reply) -> None:
        super().__init__()
        self.reply = reply

    def handle(self, request: ReceivedRequest) -> Reply:
        return self.reply


def deliver(endpoint: WebhookEndpoint, cast: Cast) -> WebhookDelivery:
    delivery = services.test_event_send(customer=cast.acme, endpoint_id=endpoint.id)
    services.delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery


def assert_refused(cast: Cast, url: str, words: str) -> None:
    """Refused by the API (400 invalid_request on ``url``; DRF's URL field may refuse first)
    and by the use case itself, which the dashboard and the admin call too."""
    error = assert_error(post(api_client(cast.acme_live_key), "/api/v1/webhooks", {"url": url}), 400, "invalid_request")
    assert list(error["details"]) == ["url"]
    with pytest.raises(ServiceError) as refused:
        services.endpoint_create(customer=cast.acme, url=url)
    assert refused.value.code == "invalid_request" and list(refused.value.details) == ["url"]
    assert words in refused.value.message
    assert not WebhookEndpoint.objects.exists()


# --- registration ----------------------------------------------------------------------


def test_the_setting_is_off_by_default() -> None:
    """Review 8.7: refused in every mode unless WEBHOOK_ALLOW_PRIVATE_HOSTS; the suite runs with it off."""
    assert django_settings.WEBHOOK_ALLOW_PRIVATE_HOSTS is False


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_the_api_refuses_urls_that_reach_internal_addresses(cast: Cast, url: str) -> None:
    """Review 8.7: loopback, private, link-local, multicast, reserved, unspecified; v4, v6 and v4-in-v6."""
    assert_refused(cast, url, "private")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://user:secret@example.test/hook", "user name or password"),
        ("http://example.test@127.0.0.1/", "user name or password"),
        ("http://:@example.test/", "user name or password"),
        ("ftp://example.test/", "http(s)"),
        ("gopher://127.0.0.1:6379/_INFO", "http(s)"),
        ("file:///etc/passwd", "http(s)"),
        ("dict://127.0.0.1:11211/", "http(s)"),
        ("http://example.test:99999/", "http(s)"),
        ("http://exa mple.test/", "http(s)"),
        ("http://example.test/\r\nX-Injected: 1", "http(s)"),
    ],
)
def test_the_api_refuses_userinfo_and_other_schemes(cast: Cast, url: str, words: str) -> None:
    """Review 8.7: no credentials in URLs, http(s) only."""
    assert_refused(cast, url, words)


def test_a_name_that_resolves_to_an_internal_address_is_refused(cast: Cast, resolver: dict[str, list[str]]) -> None:
    """Review 8.7: every address of the name is checked, not only the first."""
    resolver["hooks.customer.test"] = ["93.184.216.34", "10.0.0.7"]
    with pytest.raises(ServiceError) as refused:
        services.endpoint_create(customer=cast.acme, url="https://hooks.customer.test/otp")
    assert refused.value.code == "invalid_request" and list(refused.value.details) == ["url"]
    resolver["hooks.customer.test"] = ["93.184.216.34", "2606:4700::6810:84e5"]
    assert services.endpoint_create(customer=cast.acme, url="https://hooks.customer.test/otp").url.endswith("/otp")


def test_the_dashboard_form_refuses_an_internal_address(cast: Cast) -> None:
    """Review 8.7: the dashboard calls the same use case and shows the refusal on the field."""
    response = signed_in(cast.owner.email).post("/messaging/webhooks/create/", {"url": "http://169.254.169.254/"})
    assert response.status_code == 400
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "8.8.8.8", "2606:4700::6810:84e5", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert not netguard.address_blocked(address)


# --- delivery ----------------------------------------------------------------------------


def test_delivery_checks_again_when_the_dns_answer_changes(cast: Cast, resolver: dict[str, list[str]]) -> None:
    """Review 8.7: a name that was public at registration and now points inside (DNS rebinding) is refused."""
    with CallbackReceiver() as receiver:
        resolver["hooks.customer.test"] = ["93.184.216.34"]
        endpoint = services.endpoint_create(customer=cast.acme, url=f"http://hooks.customer.test:{receiver.port}/h")
        resolver["hooks.customer.test"] = ["127.0.0.1"]
        delivery = deliver(endpoint, cast)
        assert receiver.requests == []
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code is None and attempt.error.startswith("Refused")
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.last_error == attempt.error


def test_an_endpoint_saved_before_the_check_is_refused_at_delivery(cast: Cast) -> None:
    """Review 8.7: rows registered before the fix (or written by hand) are checked when sent."""
    with CallbackReceiver() as receiver:
        endpoint = WebhookEndpoint.objects.create(customer=cast.acme, url=receiver.url, secret="whsec_x", events=[])
        delivery = deliver(endpoint, cast)
        assert receiver.requests == []
    assert WebhookAttempt.objects.get(delivery=delivery).error.startswith("Refused")


@pytest.mark.usefixtures("local_webhooks")
def test_the_request_goes_to_the_checked_address_with_the_host_name_kept(
    cast: Cast, resolver: dict[str, list[str]]
) -> None:
    """Review 8.7: resolved once, connected to that very address (the system resolver does not
    know this name), Host header on the name."""
    with CallbackReceiver() as receiver:
        resolver["hooks.customer.test"] = ["127.0.0.1"]
        endpoint = services.endpoint_create(
            customer=cast.acme, url=f"http://hooks.customer.test:{receiver.port}/callback?x=1"
        )
        lookups: list[str] = resolver["__lookups__"]  # type: ignore[assignment]
        lookups.clear()
        delivery = deliver(endpoint, cast)
        assert receiver.wait_for_requests(1)
        request, port = receiver.requests[0], receiver.port
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert lookups == ["hooks.customer.test"]  # one lookup per attempt: check and connect use the same answer
    assert request.header("Host") == f"hooks.customer.test:{port}"
    assert request.path == "/callback" and request.query == "x=1"


@pytest.mark.usefixtures("local_webhooks")
def test_a_refused_connection_tries_the_next_checked_address(cast: Cast, resolver: dict[str, list[str]]) -> None:
    """Review 8.7: only addresses from the one checked answer are tried (nothing listens on ::1 here)."""
    with CallbackReceiver() as receiver:
        resolver["hooks.customer.test"] = ["::1", "127.0.0.1"]
        endpoint = services.endpoint_create(customer=cast.acme, url=f"http://hooks.customer.test:{receiver.port}/h")
        delivery = deliver(endpoint, cast)
        assert len(receiver.requests) == 1
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED


def test_urls_are_parsed_to_what_is_sent() -> None:
    target = netguard.url_parse("HTTPS://Bücher.Example./ä/b?x=é&y=%20#fragment")
    assert (target.scheme, target.host, target.port) == ("https", "xn--bcher-kva.example", 443)
    assert target.path == "/%C3%A4/b?x=%C3%A9&y=%20" and target.host_header == "xn--bcher-kva.example"
    assert netguard.url_parse("http://[2001:db8::1]:8080").host_header == "[2001:db8::1]:8080"


@pytest.mark.usefixtures("local_webhooks")
def test_redirects_are_not_followed(cast: Cast) -> None:
    """Review 8.7: a 3xx is an answer (a failed delivery), never a new request elsewhere."""
    with CallbackReceiver() as target:
        internal = target.url
        with Answering(Reply(302, b"", headers={"Location": internal})) as redirecting:
            endpoint = services.endpoint_create(customer=cast.acme, url=f"{redirecting.base_url}/hook")
            delivery = deliver(endpoint, cast)
            assert len(redirecting.requests) == 1
        assert target.requests == []
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.last_status_code == 302
    assert delivery.last_error == "HTTP 302"


@pytest.mark.usefixtures("local_webhooks")
def test_the_answer_body_is_neither_stored_nor_shown(cast: Cast, django_user_model: Any) -> None:
    """Review 8.7: only the status code and a short fixed reason are kept and shown."""
    secret = "requirepass-4f9a REDIS-INTERNAL-ANSWER"
    with Answering(Reply(500, secret.encode() * 20, content_type="text/plain")) as server:
        endpoint = services.endpoint_create(customer=cast.acme, url=f"{server.base_url}/hook")
        delivery = deliver(endpoint, cast)
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code == 500 and attempt.error == "" and delivery.last_error == "HTTP 500"
    stored = [str(v) for v in WebhookAttempt.objects.values().get(pk=attempt.pk).values()]
    stored += [str(v) for v in WebhookDelivery.objects.values().get(pk=delivery.pk).values()]
    assert not any("REDIS-INTERNAL" in value for value in stored)
    dashboard = signed_in(cast.owner.email).get("/messaging/webhooks/").content.decode()
    assert "500" in dashboard and "REDIS-INTERNAL" not in dashboard
    staff = Client()
    staff.force_login(cast.staff)
    admin_page = staff.get(f"/admin/messaging/webhookdelivery/{delivery.pk}/change/")
    assert admin_page.status_code == 200 and "REDIS-INTERNAL" not in admin_page.content.decode()


@pytest.mark.usefixtures("local_webhooks")
def test_a_failed_connection_records_a_short_fixed_reason(cast: Cast) -> None:
    endpoint = services.endpoint_create(customer=cast.acme, url="http://127.0.0.1:1/hook")
    delivery = deliver(endpoint, cast)
    assert WebhookAttempt.objects.get(delivery=delivery).error == "ConnectionError: could not connect"


# --- HTTPS on a pinned address -------------------------------------------------------------


def _certificates(tmp_path: Path, name: str) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate for ``name`` signed by it: (ca.pem, cert.pem, key.pem)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


class _TlsHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.hosts.append(self.headers.get("Host", ""))  # type: ignore[attr-defined]
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[Callable[[str], tuple[int, Path, list[str], list[str]]]]:
    """Start an HTTPS server on 127.0.0.1 with a certificate for a name: (port, ca.pem, SNI names, Host headers)."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(name: str) -> tuple[int, Path, list[str], list[str]]:
        ca, cert, key = _certificates(tmp_path, name)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        sni: list[str] = []
        context.sni_callback = lambda _sock, server_name, _ctx: sni.append(server_name or "")  # type: ignore[assignment,return-value]
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TlsHandler)
        httpd.daemon_threads = True
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        httpd.hosts = []  # type: ignore[attr-defined]
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(httpd)
        return httpd.server_address[1], ca, sni, httpd.hosts  # type: ignore[attr-defined]

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def test_https_on_the_pinned_address_checks_the_certificate_of_the_host_name(
    resolver: dict[str, list[str]], tls_server: Callable[[str], tuple[int, Path, list[str], list[str]]]
) -> None:
    """Review 8.7: connecting to the checked IP keeps TLS SNI and the certificate check on the name."""
    port, ca, sni, hosts = tls_server("hooks.customer.test")
    resolver["hooks.customer.test"] = ["127.0.0.1"]
    status = netguard.post(
        f"https://hooks.customer.test:{port}/h",
        body=b"{}",
        headers={"Content-Type": "application/json"},
        timeout=5,
        allow_private=True,
        ca_certs=str(ca),
    )
    assert status == 204
    assert sni == ["hooks.customer.test"] and hosts == [f"hooks.customer.test:{port}"]
    resolver["impostor.customer.test"] = ["127.0.0.1"]  # same address, a name the certificate does not carry
    with pytest.raises(netguard.RequestFailed, match="SSLError"):
        netguard.post(
            f"https://impostor.customer.test:{port}/h",
            body=b"{}",
            headers={},
            timeout=5,
            allow_private=True,
            ca_certs=str(ca),
        )
    with pytest.raises(netguard.UnsafeUrl):  # and without the development switch, not at all
        netguard.post(f"https://hooks.customer.test:{port}/h", body=b"{}", headers={}, timeout=5, allow_private=False)
