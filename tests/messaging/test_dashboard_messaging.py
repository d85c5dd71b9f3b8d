"""The customer's messaging pages: messages and their history, verifications,
the sandbox inbox and its test send, webhooks, verification texts. Each
member sees only its own customer's rows."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext

from accounts import services as account_services
from accounts.models import ApiKey, Membership
from billing.models import DepositLot
from billing.templatetags.money import format_rupiah
from messaging import phones, services
from messaging.models import (
    Message,
    MessageTemplate,
    SandboxMessage,
    Verification,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from tests.conftest import Cast
from tests.factories import UserFactory
from tests.helpers import (
    Capture,
    api_key_for,
    money_fixture,  # noqa: F401 - the money fixture
    signed_in,
)
from tests.messaging.helpers import sandbox_code
from tests.page_text import text_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager")]

NUMBER = "+6281234567890"
OTHER_NUMBER = "+6281298765432"
UNREACHABLE = "http://127.0.0.1:1/x"


def billing_member(cast: Cast) -> str:
    user = UserFactory(email="finance@acme.test")
    Membership.objects.create(user=user, customer=cast.acme, role=Membership.Role.BILLING)
    return user.email


def send(secret: str, to: str = NUMBER, text: str = "Kode OTP Anda 482913", channel: str = "sms") -> Message:
    return services.message_send(api_key=api_key_for(secret), to=to, text=text, channel=channel)


# --- Messages ---------------------------------------------------------------------------


def test_messages_page_lists_own_messages_newest_first_masked(cast: Cast, money: None) -> None:
    older = send(cast.acme_live_key, to=NUMBER)
    newer = send(cast.acme_live_key, to=OTHER_NUMBER, channel="wa")
    theirs = send(cast.globex_live_key, to=NUMBER)
    response = signed_in(cast.owner.email).get("/messaging/messages/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index(newer.id) < html.index(older.id)  # newest first
    assert theirs.id not in html
    assert phones.mask(NUMBER) in html and phones.mask(OTHER_NUMBER) in html
    assert NUMBER not in html and OTHER_NUMBER not in html  # numbers are masked
    assert "Telkomsel" in html  # the operator
    assert format_rupiah(older.price) in html and older.price > 0
    assert f'class="badge {Message.Status.QUEUED}"' in html


def test_messages_filters(cast: Cast, money: None) -> None:
    sms = send(cast.acme_live_key, to=NUMBER)
    wa = send(cast.acme_live_key, to=OTHER_NUMBER, channel="wa")
    client = signed_in(cast.owner.email)
    html = client.get("/messaging/messages/", {"channel": "wa"}).content.decode()
    assert wa.id in html and sms.id not in html
    html = client.get("/messaging/messages/", {"to": "0812-3456-7890"}).content.decode()
    assert sms.id in html and wa.id not in html
    html = client.get("/messaging/messages/", {"status": "delivered"}).content.decode()
    assert sms.id not in html and wa.id not in html
    response = client.get("/messaging/messages/", {"to": "12"})
    assert response.status_code == 400
    assert sms.id not in response.content.decode()
    assert 'class="error"' in response.content.decode()


def test_messages_are_paginated_and_filters_survive_paging(cast: Cast) -> None:
    Message.objects.bulk_create(
        Message(customer=cast.acme, to=NUMBER, channel="sms", body=f"Kode {n:06d}") for n in range(55)
    )
    client = signed_in(cast.owner.email)
    first = client.get("/messaging/messages/", {"channel": "sms"})
    assert first.context["page"].paginator.count == 55
    assert len(first.context["rows"]) == 50
    assert "page=2" in first.content.decode() and "channel=sms" in first.content.decode()
    second = client.get("/messaging/messages/", {"channel": "sms", "page": 2})
    assert len(second.context["rows"]) == 5


def test_a_globex_member_never_sees_acme_messages(cast: Cast, money: None) -> None:
    ours = send(cast.acme_live_key)
    verification, _ = services.verification_start(api_key=api_key_for(cast.acme_live_key), to=NUMBER)
    client = signed_in(cast.stranger.email)
    client.post("/switch-customer/", {"customer": "acme"})  # not a member: ignored
    for url in ("/messaging/messages/", "/messaging/verifications/", "/messaging/sandbox/"):
        html = client.get(url).content.decode()
        assert ours.id not in html and verification.id not in html, url
    assert client.get(f"/messaging/messages/{ours.id}/").status_code == 404
    assert client.get("/messaging/messages/msg_doesnotexist/").status_code == 404


def test_message_detail_shows_the_status_history_and_the_masked_body(
    cast: Cast, money: None, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        verification, message = services.verification_start(api_key=api_key_for(cast.acme_live_key), to=NUMBER)
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED  # sandbox provider, tasks inline
    code = sandbox_code(NUMBER)
    response = signed_in(cast.owner.email).get(f"/messaging/messages/{message.id}/")
    assert response.status_code == 200
    html = response.content.decode()
    history = response.context["history"]
    assert [(row["change"].old, row["change"].new) for row in history] == [
        ("", "queued"),
        ("queued", "sending"),
        ("sending", "sent"),
        ("sent", "delivered"),
    ]
    # Issue 12: reasons and actors read in the page's language (Indonesian here, through the
    # catalogue), never as the English the workers store ("accepted", "worker", "sandbox report ...").
    with translation.override("id"):
        reasons = [
            gettext("Accepted and queued for sending."),
            gettext("Sending attempt %(number)s.") % {"number": 1},
            gettext("Accepted by the provider."),
            gettext("The provider's report: delivered to the phone."),
        ]
        actors = [gettext("Your API request"), gettext("Sending service"), gettext("Sandbox"), gettext("Sandbox")]
        # Lazy texts: read in the page's language, as the template did.
        assert [str(row["reason"]) for row in history] == reasons
        assert [str(row["actor"]) for row in history] == actors
    text = text_of(html)
    for raw in ("accepted", "worker", "sandbox report", "accepted by provider"):
        assert raw not in text, raw
    assert "••••" in html and code not in html  # the code is never shown
    assert verification.id in html and phones.mask(NUMBER) in html


# --- Verifications ----------------------------------------------------------------------


def test_verifications_page_shows_status_attempts_sends_and_expiry(cast: Cast, money: None) -> None:
    ours, _ = services.verification_start(api_key=api_key_for(cast.acme_live_key), to=NUMBER, reference="order-991")
    _, valid = services.verification_check(customer=cast.acme, verification_id=ours.id, code="not-it")
    assert not valid
    theirs, _ = services.verification_start(api_key=api_key_for(cast.globex_live_key), to=NUMBER)
    ours.refresh_from_db()
    response = signed_in(cast.owner.email).get("/messaging/verifications/")
    assert response.status_code == 200
    html = response.content.decode()
    assert ours.id in html and theirs.id not in html and "order-991" in html
    row = response.context["rows"][0]
    assert row["verification"].attempts_left == ours.attempts_left == 4
    assert row["verification"].sends == 1 and row["to"] == phones.mask(NUMBER)
    filtered = signed_in(cast.owner.email).get("/messaging/verifications/", {"status": "approved"})
    assert ours.id not in filtered.content.decode()


def test_review_8_26_the_dashboard_lists_use_the_apis_filtersets(cast: Cast, money: None) -> None:
    """One FilterSet per list (messaging.filters): the dashboard gains the
    API's filters (mode, channel and time for verifications) and refuses a bad
    value as a form error; it shows both modes unless asked (Review 8.21)."""
    from messaging.filters import MessageFilter, VerificationFilter

    live = send(cast.acme_live_key)
    test = send(cast.acme_test_key, to=OTHER_NUMBER)
    sms, _ = services.verification_start(api_key=api_key_for(cast.acme_live_key), to=NUMBER)
    wa, _ = services.verification_start(api_key=api_key_for(cast.acme_test_key), to=OTHER_NUMBER, channel="wa")
    client = signed_in(cast.owner.email)
    response = client.get("/messaging/messages/")
    html = response.content.decode()
    assert live.id in html and test.id in html  # both modes by default
    assert 'name="mode"' in html and 'name="created_after"' in html
    html = client.get("/messaging/messages/", {"mode": "test"}).content.decode()
    assert test.id in html and live.id not in html
    html = client.get("/messaging/messages/", {"mode": "live", "created_after": "2000-01-01T00:00"}).content.decode()
    assert live.id in html and test.id not in html
    assert live.id not in client.get("/messaging/messages/", {"created_before": "2000-01-01"}).content.decode()
    for params in ({"mode": "gold"}, {"created_after": "yesterday"}, {"status": "approved"}):
        refused = client.get("/messaging/messages/", params)
        assert refused.status_code == 400, params
        assert live.id not in refused.content.decode() and 'class="error"' in refused.content.decode()
    html = client.get("/messaging/verifications/", {"channel": "wa"}).content.decode()
    assert wa.id in html and sms.id not in html
    html = client.get("/messaging/verifications/", {"mode": "live"}).content.decode()
    assert sms.id in html and wa.id not in html
    assert client.get("/messaging/verifications/", {"status": "delivered"}).status_code == 400
    assert set(MessageFilter.base_filters) == set(VerificationFilter.base_filters)


# --- Sandbox ------------------------------------------------------------------------------


def test_sandbox_shows_the_clear_text_of_a_test_key_send(
    cast: Cast, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        services.verification_start(api_key=api_key_for(cast.acme_test_key), to=NUMBER)
    code = sandbox_code(NUMBER)
    client = signed_in(cast.owner.email)
    response = client.get("/messaging/sandbox/")
    assert response.status_code == 200
    html = response.content.decode()
    assert code in html  # the test inbox shows bodies in clear
    assert "otp_test_" in html  # the page explains test keys
    assert code not in signed_in(cast.stranger.email).get("/messaging/sandbox/").content.decode()
    assert code not in client.get("/messaging/sandbox/", {"to": OTHER_NUMBER}).content.decode()
    assert code in client.get("/messaging/sandbox/", {"to": "0812 3456 7890"}).content.decode()


def test_the_sandbox_test_send_form_sends_with_the_test_key_free_of_charge(
    cast: Cast, money: None, django_capture_on_commit_callbacks: Capture
) -> None:
    balance_before = sum(DepositLot.objects.filter(customer=cast.acme).values_list("remaining", flat=True))
    client = signed_in(cast.developer.email)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/messaging/sandbox/send/", {"to": "0812-3456-7890", "channel": "sms", "locale": "en"})
    assert response.status_code == 302 and response["Location"] == "/messaging/sandbox/"
    verification = Verification.objects.get(customer=cast.acme)
    assert (
        verification.is_test and verification.api_key == api_key_for(cast.acme_test_key) and verification.locale == "en"
    )
    message = Message.objects.get(verification=verification)
    assert message.is_test and not message.charged
    assert sum(DepositLot.objects.filter(customer=cast.acme).values_list("remaining", flat=True)) == balance_before
    copy = SandboxMessage.objects.get(customer=cast.acme)
    assert "verification code" in copy.text  # the English default text
    html = client.get("/messaging/sandbox/").content.decode()
    assert sandbox_code(NUMBER) in html and verification.id in html  # the success message and the inbox


def test_the_sandbox_send_uses_the_newest_active_test_key(
    cast: Cast, django_capture_on_commit_callbacks: Capture
) -> None:
    newer = account_services.api_key_create(customer=cast.acme, mode=ApiKey.Mode.TEST, name="newer")
    client = signed_in(cast.owner.email)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/messaging/sandbox/send/", {"to": NUMBER, "channel": "sms", "locale": "id"})
    assert Verification.objects.get(customer=cast.acme).api_key_id == newer.api_key.pk
    account_services.api_key_revoke(api_key=newer.api_key)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/messaging/sandbox/send/", {"to": OTHER_NUMBER, "channel": "sms", "locale": "id"})
    assert Verification.objects.get(customer=cast.acme, to=OTHER_NUMBER).api_key == api_key_for(cast.acme_test_key)


def test_without_a_test_key_the_first_test_send_makes_one_whose_secret_is_never_shown(
    cast: Cast, django_capture_on_commit_callbacks: Capture
) -> None:
    """Issue 12 ("try it" uses or creates a test key server-side): with no active
    test key the page still offers the test send, and the send makes a key."""
    account_services.api_key_revoke(api_key=api_key_for(cast.acme_test_key))
    client = signed_in(cast.owner.email)
    html = client.get("/messaging/sandbox/").content.decode()
    assert 'action="/messaging/sandbox/send/"' in html and "otp_test_" in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/messaging/sandbox/send/", {"to": NUMBER, "channel": "sms", "locale": "id"})
    assert response.status_code == 302
    made = ApiKey.objects.get(customer=cast.acme, mode=ApiKey.Mode.TEST, revoked_at__isnull=True)
    assert made.created_by == cast.owner
    assert Verification.objects.get(customer=cast.acme).api_key == made
    html = client.get("/messaging/sandbox/").content.decode()
    assert made.prefix in html and sandbox_code(NUMBER) in html


def test_a_refused_test_send_shows_the_reason(cast: Cast) -> None:
    response = signed_in(cast.owner.email).post(
        "/messaging/sandbox/send/", {"to": "021-555-1234", "channel": "sms", "locale": "id"}
    )
    assert response.status_code == 400
    assert "Ini bukan nomor ponsel" in response.content.decode()  # R-OP-2, in Indonesian
    assert not Verification.objects.exists()


def test_the_billing_role_neither_reads_the_sandbox_nor_sends(cast: Cast) -> None:
    """Issue 12: each role sees only its pages; the sandbox is a developer page."""
    client = signed_in(billing_member(cast))
    response = client.get("/messaging/sandbox/")
    assert response.status_code == 403 and 'action="/messaging/sandbox/send/"' not in response.content.decode()
    assert client.post("/messaging/sandbox/send/", {"to": NUMBER, "channel": "sms", "locale": "id"}).status_code == 403
    assert not Verification.objects.exists()


# --- Webhooks ------------------------------------------------------------------------------


@pytest.mark.usefixtures("local_webhooks")
def test_webhook_create_shows_the_secret_once(cast: Cast) -> None:
    client = signed_in(cast.owner.email)
    response = client.post("/messaging/webhooks/create/", {"url": UNREACHABLE, "events": ["message.status"]})
    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get(customer=cast.acme)
    assert endpoint.url == UNREACHABLE and endpoint.events == ["message.status"]
    first = client.get("/messaging/webhooks/").content.decode()
    assert endpoint.secret in first and UNREACHABLE in first
    second = client.get("/messaging/webhooks/").content.decode()
    assert endpoint.secret not in second and UNREACHABLE in second


def test_webhook_create_refusals_are_form_errors(cast: Cast) -> None:
    client = signed_in(cast.owner.email)
    response = client.post("/messaging/webhooks/create/", {"url": "ftp://example.test/x"})
    assert response.status_code == 400
    assert "url harus berupa URL http(s)." in response.content.decode()
    response = client.post("/messaging/webhooks/create/", {"url": "https://x.test", "events": ["nope"]})
    assert response.status_code == 400
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.usefixtures("local_webhooks")
def test_test_event_and_send_again_record_the_failed_attempts(
    cast: Cast, django_capture_on_commit_callbacks: Capture
) -> None:
    endpoint = services.endpoint_create(customer=cast.acme, url=UNREACHABLE)
    client = signed_in(cast.developer.email)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/messaging/webhooks/{endpoint.id}/test/")
    assert response.status_code == 302
    first = WebhookDelivery.objects.get(endpoint=endpoint)
    assert first.event.type == "test"
    attempt = WebhookAttempt.objects.get(delivery=first)
    assert attempt.status_code is None and "ConnectionError" in attempt.error
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/messaging/webhooks/deliveries/{first.pk}/resend/")
    assert response.status_code == 302
    again = WebhookDelivery.objects.exclude(pk=first.pk).get(endpoint=endpoint)
    assert again.event_id == first.event_id
    assert "ConnectionError" in WebhookAttempt.objects.get(delivery=again).error
    html = client.get("/messaging/webhooks/").content.decode()
    assert first.event_id in html and " ms" in html
    for row in WebhookAttempt.objects.filter(delivery__endpoint=endpoint):
        assert escape(row.error) in html  # the attempts log of both deliveries


@pytest.mark.usefixtures("local_webhooks")
def test_webhook_delete(cast: Cast) -> None:
    endpoint = services.endpoint_create(customer=cast.acme, url=UNREACHABLE)
    delivery = services.test_event_send(customer=cast.acme, endpoint_id=endpoint.id)
    client = signed_in(cast.owner.email)
    assert client.post(f"/messaging/webhooks/{endpoint.id}/delete/").status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.deleted_at is not None and not endpoint.is_active
    html = client.get("/messaging/webhooks/").content.decode()
    assert f'action="/messaging/webhooks/{endpoint.id}/test/"' not in html  # gone from the endpoints
    assert delivery.event_id in html  # its past deliveries stay readable…
    assert f"/messaging/webhooks/deliveries/{delivery.pk}/resend/" not in html  # …without "send again"
    assert "endpoint dihapus" in html


@pytest.mark.usefixtures("local_webhooks")
def test_a_globex_member_cannot_see_or_touch_acme_webhooks(
    cast: Cast, django_capture_on_commit_callbacks: Capture
) -> None:
    endpoint = services.endpoint_create(customer=cast.acme, url=UNREACHABLE)
    with django_capture_on_commit_callbacks(execute=True):
        delivery = services.test_event_send(customer=cast.acme, endpoint_id=endpoint.id)
    client = signed_in(cast.stranger.email)
    html = client.get("/messaging/webhooks/").content.decode()
    assert UNREACHABLE not in html and delivery.event_id not in html
    # Issue 14: another customer's endpoint or delivery is not found, as on every page.
    assert client.post(f"/messaging/webhooks/{endpoint.id}/delete/").status_code == 404
    assert client.post(f"/messaging/webhooks/{endpoint.id}/test/").status_code == 404
    assert client.post(f"/messaging/webhooks/deliveries/{delivery.pk}/resend/").status_code == 404
    endpoint.refresh_from_db()
    assert endpoint.deleted_at is None and WebhookDelivery.objects.count() == 1


@pytest.mark.usefixtures("local_webhooks")
def test_webhooks_are_for_owners_and_developers_only(cast: Cast) -> None:
    client = signed_in(billing_member(cast))
    assert client.get("/messaging/webhooks/").status_code == 403
    assert client.post("/messaging/webhooks/create/", {"url": UNREACHABLE}).status_code == 403
    assert not WebhookEndpoint.objects.exists()
    assert "/messaging/webhooks/" not in client.get("/messaging/messages/").content.decode()  # no nav link
    endpoint = services.endpoint_create(customer=cast.acme, url=UNREACHABLE)
    assert signed_in(cast.owner.email).get(f"/messaging/webhooks/{endpoint.id}/delete/").status_code == 405


# --- Verification texts ------------------------------------------------------------------------


def test_templates_page_explains_placeholders_and_previews_the_standard_text(cast: Cast) -> None:
    response = signed_in(cast.owner.email).get("/messaging/templates/")
    assert response.status_code == 200
    html = response.content.decode()
    for placeholder in ("{code}", "{brand}", "{minutes}"):
        assert placeholder in html
    assert "Acme Shop: Kode OTP Anda 482913. Berlaku 5 menit." in html
    assert "Acme Shop: Your verification code is 482913." in html


def test_template_save_previews_and_is_used_by_the_next_send(
    cast: Cast, django_capture_on_commit_callbacks: Capture
) -> None:
    client = signed_in(cast.developer.email)
    response = client.post("/messaging/templates/id/", {"id-body": "{brand}: kode masuk {code}, {minutes} menit."})
    assert response.status_code == 302
    assert (
        MessageTemplate.objects.get(customer=cast.acme, locale="id").body
        == "{brand}: kode masuk {code}, {minutes} menit."
    )
    assert "Acme Shop: kode masuk 482913, 5 menit." in client.get("/messaging/templates/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/messaging/sandbox/send/", {"to": NUMBER, "channel": "sms", "locale": "id"})
    assert SandboxMessage.objects.get(customer=cast.acme).text.startswith("Acme Shop: kode masuk ")
    assert client.post("/messaging/templates/id/delete/").status_code == 302
    assert not MessageTemplate.objects.exists()


def test_template_without_code_is_refused_and_nothing_is_saved(cast: Cast) -> None:
    client = signed_in(cast.owner.email)
    response = client.post("/messaging/templates/en/", {"en-body": "Hello from {brand}"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Template harus memuat {code} tepat satu kali." in html
    assert "Hello from {brand}" in html  # the text is kept for correction
    response = client.post("/messaging/templates/en/", {"en-body": "Code {code} at https://evil.example"})
    assert response.status_code == 400
    assert not MessageTemplate.objects.exists()
    assert client.post("/messaging/templates/xx/", {"xx-body": "{code}"}).status_code == 404


def test_templates_are_per_customer_and_not_for_the_billing_role(cast: Cast) -> None:
    services.template_set(customer=cast.globex, locale="id", body="Globex rahasia {code}")
    assert "Globex rahasia" not in signed_in(cast.owner.email).get("/messaging/templates/").content.decode()
    client = signed_in(billing_member(cast))
    assert client.get("/messaging/templates/").status_code == 403
    assert client.post("/messaging/templates/id/", {"id-body": "Kode {code}"}).status_code == 403
    assert not MessageTemplate.objects.filter(customer=cast.acme).exists()


# --- Sign-in, navigation and language ---------------------------------------------------------------


def test_pages_require_sign_in(cast: Cast) -> None:
    for url in ("/messaging/messages/", "/messaging/verifications/", "/messaging/sandbox/", "/messaging/webhooks/"):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url


def test_nav_shows_the_messaging_links_a_role_can_use(cast: Cast) -> None:
    owner_html = signed_in(cast.owner.email).get("/").content.decode()
    for url in (
        "/messaging/messages/",
        "/messaging/verifications/",
        "/messaging/sandbox/",
        "/messaging/webhooks/",
        "/messaging/templates/",
        "/messaging/api-keys/",
        "/billing/",
    ):
        assert f'href="{url}"' in owner_html, url
    billing_html = signed_in(billing_member(cast)).get("/").content.decode()
    assert 'href="/billing/topup/"' in billing_html
    # Issue 12: the developer pages and the message lists are not the billing role's.
    for url in (
        "/messaging/messages/",
        "/messaging/sandbox/",
        "/messaging/webhooks/",
        "/messaging/templates/",
        "/messaging/api-keys/",
    ):
        assert f'href="{url}"' not in billing_html, url


def test_pages_are_indonesian_by_default_and_english_after_switching(cast: Cast, money: None) -> None:
    send(cast.acme_live_key)
    client = signed_in(cast.owner.email)
    html = client.get("/messaging/messages/").content.decode()
    assert 'lang="id"' in html
    for text in ("Pesan", "Verifikasi", "Kunci API", "Operator", "Harga", "Dalam antrean"):
        assert text in html, text
    client.post("/i18n/setlang/", {"language": "en", "next": "/messaging/messages/"})
    html = client.get("/messaging/messages/").content.decode()
    assert 'lang="en"' in html
    for text in ("Messages", "Verifications", "API keys", "Price", "Queued"):
        assert text in html, text
    assert "never charged" in client.get("/messaging/sandbox/").content.decode()
    assert "Add an endpoint" in client.get("/messaging/webhooks/").content.decode()
