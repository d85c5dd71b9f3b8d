"""Issue 12: the message and verification lists are searchable and
filterable (number, status, channel, operator, live/test, date range, an id
or a reference), export the filtered rows as a streamed CSV, link every row
to a detail page, and read a fixed number of queries whatever the page holds."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Membership
from messaging import phones, services
from messaging.models import Message, Verification
from tests.conftest import Cast
from tests.factories import UserFactory
from tests.helpers import (
    Capture,
    api_key_for,
    money_fixture,  # noqa: F401 - the money fixture
    signed_in,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager")]

NUMBER = "+6281234567890"  # Telkomsel
XL_NUMBER = "+6281798765432"  # XL
OTP = "Kode OTP Anda 482913"


def send(secret: str, to: str = NUMBER, channel: str = "sms", reference: str = "") -> Message:
    return services.message_send(api_key=api_key_for(secret), to=to, text=OTP, channel=channel, reference=reference)


def ids(html: str, rows: list[Message] | list[Verification]) -> set[str]:
    return {row.id for row in rows if row.id in html}


def csv_rows(response: StreamingHttpResponse) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


# --- Search and filters ------------------------------------------------------------------------


def test_messages_filter_by_operator_and_search_by_id_verification_or_reference(cast: Cast, money: None) -> None:
    telkomsel = send(cast.acme_live_key, reference="order-1")
    xl = send(cast.acme_live_key, to=XL_NUMBER, reference="order-2")
    verification, by_verification = services.verification_start(api_key=api_key_for(cast.acme_live_key), to=NUMBER)
    theirs = send(cast.globex_live_key, reference="order-1")
    everything = [telkomsel, xl, by_verification, theirs]
    client = signed_in(cast.owner.email)
    assert ids(client.get("/messaging/messages/", {"operator": "xl"}).content.decode(), everything) == {xl.id}
    for query, expected in (
        (xl.id, {xl.id}),
        (verification.id, {by_verification.id}),
        ("order-1", {telkomsel.id}),  # never another customer's order-1
        ("  order-2 ", {xl.id}),
        ("nothing-like-it", set()),
    ):
        html = client.get("/messaging/messages/", {"q": query}).content.decode()
        assert ids(html, everything) == expected, query
    assert client.get("/messaging/messages/", {"operator": "vodafone"}).status_code == 400


def test_verifications_filter_by_operator_and_search_by_id_message_or_reference(cast: Cast, money: None) -> None:
    key = api_key_for(cast.acme_live_key)
    telkomsel, message = services.verification_start(api_key=key, to=NUMBER, reference="signup-7")
    xl, _ = services.verification_start(api_key=key, to=XL_NUMBER)
    everything = [telkomsel, xl]
    client = signed_in(cast.owner.email)
    assert ids(client.get("/messaging/verifications/", {"operator": "xl"}).content.decode(), everything) == {xl.id}
    for query, expected in ((xl.id, {xl.id}), (message.id, {telkomsel.id}), ("signup-7", {telkomsel.id})):
        html = client.get("/messaging/verifications/", {"q": query}).content.decode()
        assert ids(html, everything) == expected, query


def test_the_filter_form_labels_every_field_and_keeps_the_apis_parameters(cast: Cast) -> None:
    html = signed_in(cast.owner.email).get("/messaging/messages/").content.decode()
    for name in ("q", "to", "status", "channel", "operator", "mode", "created_after", "created_before"):
        assert f'name="{name}"' in html, name
        assert f'<label for="id_{name}">' in html, name
    assert html.index('name="q"') < html.index('name="to"') < html.index('name="created_before"')


def test_empty_states_say_what_to_do_next(cast: Cast, money: None) -> None:
    client = signed_in(cast.owner.email)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    html = client.get("/messaging/messages/").content.decode()
    assert "No messages yet." in html and 'href="/messaging/sandbox/"' in html
    send(cast.acme_live_key)
    html = client.get("/messaging/messages/", {"channel": "wa"}).content.decode()
    assert "No messages match these filters." in html
    html = client.get("/messaging/verifications/").content.decode()
    assert "No verifications yet." in html


# --- CSV export ----------------------------------------------------------------------------------


def test_the_messages_csv_is_streamed_and_holds_the_filtered_rows_only(cast: Cast, money: None) -> None:
    sms = send(cast.acme_live_key, reference="=HYPERLINK(1)")
    wa = send(cast.acme_live_key, to=XL_NUMBER, channel="wa")
    test = send(cast.acme_test_key)
    send(cast.globex_live_key)
    client = signed_in(cast.owner.email)
    everything = client.get("/messaging/messages.csv")
    assert isinstance(everything, StreamingHttpResponse)
    assert everything["Content-Type"] == "text/csv; charset=utf-8"
    assert everything["Content-Disposition"].startswith('attachment; filename="messages-acme-')
    rows = csv_rows(everything)
    assert [row["id"] for row in rows] == [test.id, wa.id, sms.id]  # newest first, Globex's left out
    by_id = {row["id"]: row for row in rows}
    assert by_id[sms.id]["to"] == NUMBER and by_id[sms.id]["operator"] == "telkomsel"
    assert by_id[sms.id]["mode"] == "live" and by_id[test.id]["mode"] == "test"
    assert by_id[sms.id]["price"] == str(sms.price) and by_id[sms.id]["charged"] == "true"
    assert by_id[sms.id]["reference"] == "'=HYPERLINK(1)"  # never a formula in a spreadsheet
    assert by_id[sms.id]["created_at"].endswith("+07:00")  # Asia/Jakarta
    filtered = csv_rows(client.get("/messaging/messages.csv", {"channel": "sms", "mode": "live"}))
    assert [row["id"] for row in filtered] == [sms.id]
    assert client.get("/messaging/messages.csv", {"created_after": "yesterday"}).status_code == 400


def test_the_verifications_csv_follows_the_lists_filters(cast: Cast, money: None) -> None:
    key = api_key_for(cast.acme_live_key)
    first, _ = services.verification_start(api_key=key, to=NUMBER, reference="a")
    second, _ = services.verification_start(api_key=key, to=XL_NUMBER, reference="b")
    client = signed_in(cast.owner.email)
    response = client.get("/messaging/verifications.csv", {"operator": "xl"})
    assert isinstance(response, StreamingHttpResponse)
    rows = csv_rows(response)
    assert [(row["id"], row["status"], row["reference"]) for row in rows] == [(second.id, "pending", "b")]
    assert list(rows[0]) == [
        "id", "created_at", "mode", "to", "operator", "channel", "status", "sends", "checks", "expires_at",
        "approved_at", "reference",
    ]  # fmt: skip
    assert first.id in b"".join(client.get("/messaging/verifications.csv").streaming_content).decode()


def test_the_list_offers_the_csv_of_what_it_shows(cast: Cast, money: None) -> None:
    send(cast.acme_live_key)
    html = signed_in(cast.owner.email).get("/messaging/messages/", {"channel": "sms", "page": "1"}).content.decode()
    assert 'href="/messaging/messages.csv?channel=sms"' in html


def test_exports_are_for_the_roles_that_read_the_lists(cast: Cast, money: None) -> None:
    send(cast.acme_live_key)
    user = UserFactory(email="finance@acme.test")
    Membership.objects.create(user=user, customer=cast.acme, role=Membership.Role.BILLING)
    assert signed_in(user.email).get("/messaging/messages.csv").status_code == 403
    assert signed_in(cast.developer.email).get("/messaging/messages.csv").status_code == 200
    assert Client().get("/messaging/messages.csv").status_code == 302  # sign in first


# --- Detail pages ----------------------------------------------------------------------------------


def test_every_verification_links_to_its_detail_with_the_messages_sent(
    cast: Cast, money: None, django_capture_on_commit_callbacks: Capture
) -> None:
    """Issue 12: verifications were not links and had no detail page."""
    with django_capture_on_commit_callbacks(execute=True):
        verification, message = services.verification_start(
            api_key=api_key_for(cast.acme_live_key), to=NUMBER, reference="signup-9"
        )
    client = signed_in(cast.owner.email)
    assert (
        f'href="/messaging/verifications/{verification.id}/"'
        in client.get("/messaging/verifications/").content.decode()
    )
    response = client.get(f"/messaging/verifications/{verification.id}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="/messaging/messages/{message.id}/"' in html and "signup-9" in html
    assert phones.mask(NUMBER) in html and NUMBER not in html
    assert signed_in(cast.stranger.email).get(f"/messaging/verifications/{verification.id}/").status_code == 404


def test_the_message_detail_shows_the_receipt_and_the_charge(
    cast: Cast, money: None, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        _, message = services.verification_start(api_key=api_key_for(cast.acme_live_key), to=NUMBER)
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    client = signed_in(cast.owner.email)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    response = client.get(f"/messaging/messages/{message.id}/")
    html = response.content.decode()
    assert "Delivery receipt" in html and "Delivered to the phone" in html
    assert message.provider_message_id in html
    charge = response.context["charge"]
    assert charge.amount == message.price and charge.tier == 3  # Rp 2.500.000 buys tier 3
    assert "Unit price" in html and "Fallback chain" not in html  # no fallback asked


def test_a_fallback_shows_the_chain_on_both_messages(
    cast: Cast, money: None, settings, django_capture_on_commit_callbacks: Capture
) -> None:  # type: ignore[no-untyped-def]
    settings.SANDBOX_FAIL_NUMBERS = [f"sms:{NUMBER}"]
    with django_capture_on_commit_callbacks(execute=True):
        verification, first = services.verification_start(
            api_key=api_key_for(cast.acme_live_key), to=NUMBER, channel="sms", fallback=["wa"]
        )
    chain = list(Message.objects.filter(verification=verification).order_by("created_at", "id"))
    assert [m.channel for m in chain] == ["sms", "wa"], [(m.channel, m.status) for m in chain]
    client = signed_in(cast.owner.email)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    html = client.get(f"/messaging/messages/{first.id}/").content.decode()
    assert "Fallback chain" in html and f'href="/messaging/messages/{chain[1].id}/"' in html
    html = client.get(f"/messaging/messages/{chain[1].id}/").content.decode()
    assert f'href="/messaging/messages/{first.id}/"' in html and 'aria-current="page">WhatsApp regular' in html


# --- Queries ----------------------------------------------------------------------------------------


def many_messages(cast: Cast, count: int) -> None:
    now = timezone.now()
    Message.objects.bulk_create(
        Message(customer=cast.acme, to=NUMBER, operator="telkomsel", channel="sms", body="Kode ••••••",
                created_at=now - timedelta(seconds=n))
        for n in range(count)
    )  # fmt: skip


def many_verifications(cast: Cast, count: int) -> None:
    now = timezone.now()
    Verification.objects.bulk_create(
        Verification(customer=cast.acme, to=NUMBER, operator="xl", channel="sms", expires_at=now,
                     created_at=now - timedelta(seconds=n))
        for n in range(count)
    )  # fmt: skip


@pytest.mark.parametrize(
    ("url", "fill"), [("/messaging/messages/", many_messages), ("/messaging/verifications/", many_verifications)]
)
def test_the_lists_read_a_fixed_number_of_queries(cast: Cast, url: str, fill, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    """No N+1: a page of 2 rows and a page of 50 cost the same queries."""
    client = signed_in(cast.owner.email)
    fill(cast, 2)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url, {"operator": "telkomsel" if "messages" in url else "xl"}).status_code == 200
    fill(cast, 80)
    with django_assert_max_num_queries(8), CaptureQueriesContext(connection) as many:
        response = client.get(url, {"operator": "telkomsel" if "messages" in url else "xl"})
    assert len(response.context["rows"]) == 50
    assert len(many) == len(few)


def test_the_detail_pages_read_a_fixed_number_of_queries(
    cast: Cast, money: None, django_assert_max_num_queries, django_capture_on_commit_callbacks: Capture
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        verification, message = services.verification_start(api_key=api_key_for(cast.acme_live_key), to=NUMBER)
    client = signed_in(cast.owner.email)
    client.get("/")  # the session's first request may write it
    # The member (3: session, user, membership), then the message, its history, its chain,
    # its parts and its charge; the verification and its messages. Two spare for sign-in checks.
    with django_assert_max_num_queries(10):
        assert client.get(f"/messaging/messages/{message.id}/").status_code == 200
    with django_assert_max_num_queries(7):
        assert client.get(f"/messaging/verifications/{verification.id}/").status_code == 200
