"""Issue 12: there was no way to see prices. The price calculator takes a
number and a text and shows the operator, the encoding, the billed units
(R-SEG) and the price per channel at the customer's current tier (R-PRE-2,
R-POST-2), live through a JSON endpoint with session auth (the API quote's
steps) and without JavaScript on submit; below it, every unit price of that tier."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Membership
from billing import services as billing
from tests.billing.postpaid_months import english, make_postpaid
from tests.conftest import Cast, api_client
from tests.factories import UserFactory
from tests.helpers import signed_in
from tests.page_text import text_of

pytestmark = pytest.mark.django_db

TELKOMSEL = "0812-3456-7890"
XL = "0817-9876-5432"


def quote(client: Client, **params: str) -> dict:  # type: ignore[type-arg]
    response = client.get("/messaging/pricing/quote/", params, HTTP_ACCEPT="application/json")
    assert response["Content-Type"] == "application/json", response.content[:300]
    return {"status": response.status_code, **response.json()}


def by_channel(answer: dict) -> dict:  # type: ignore[type-arg]
    return {row["channel"]: row for row in answer["channels"]}


def test_the_quote_gives_operator_encoding_units_and_price_per_channel_at_the_tier(cast: Cast) -> None:
    billing.lot_create(customer=cast.acme, amount=2_500_000, reference="BCA-1")  # tier 3 (R-PL-2)
    client = english(signed_in(cast.owner.email))
    answer = quote(client, to=TELKOMSEL, text="Kode OTP Anda 482913")
    assert answer["status"] == 200
    assert (answer["operator"], answer["operator_label"], answer["tier"]) == ("telkomsel", "Telkomsel", 3)
    rows = by_channel(answer)
    assert set(rows) == {"sms", "wa", "wa_official"}
    assert (rows["sms"]["encoding"], rows["sms"]["units"]) == ("gsm7", 1)
    api = api_client(cast.acme_live_key).get("/api/v1/pricing/quote", {"to": TELKOMSEL, "text": "Kode OTP Anda 482913"})
    assert rows["sms"]["price"] == api.json()["price"] and rows["sms"]["tier"] == api.json()["tier"]  # as the API says
    assert rows["sms"]["price_text"] == f"Rp {rows['sms']['price']:,}".replace(",", ".")
    assert rows["wa"]["units"] == 1 and rows["wa"]["encoding_label"] == "Standard (GSM-7)"


def test_units_follow_the_text_unicode_and_long_sms(cast: Cast) -> None:
    """R-SEG-1..4: 161 GSM characters are 2 SMS; an emoji makes the text Unicode; WhatsApp is always 1."""
    client = signed_in(cast.owner.email)
    long_gsm = by_channel(quote(client, to=TELKOMSEL, text="a" * 161))
    assert (long_gsm["sms"]["units"], long_gsm["sms"]["price"]) == (2, 2 * long_gsm["sms"]["unit_price"])
    emoji = by_channel(quote(client, to=TELKOMSEL, text="Kode 482913 🙂"))
    assert (emoji["sms"]["encoding"], emoji["sms"]["units"], emoji["wa"]["units"]) == ("ucs2", 1, 1)


def test_the_price_depends_on_the_operator_and_an_empty_text_is_the_standard_one(cast: Cast) -> None:
    client = signed_in(cast.owner.email)
    telkomsel = by_channel(quote(client, to=TELKOMSEL))
    xl = quote(client, to=XL)
    assert xl["operator"] == "xl" and xl["characters"] > 20  # the standard verification text
    assert telkomsel["sms"]["unit_price"] != by_channel(xl)["sms"]["unit_price"]  # R-OP-1
    assert telkomsel["wa"]["unit_price"] == by_channel(xl)["wa"]["unit_price"]


def test_a_postpaid_quote_is_at_the_tier_the_month_reaches(cast: Cast) -> None:
    """R-POST-2: 1.000 units this month already reach tier 2."""
    acme = make_postpaid(cast.acme)
    billing.charge(customer=acme, channel="sms", operator="telkomsel", units=1_000, reference="now-1")
    assert quote(signed_in(cast.owner.email), to=TELKOMSEL, text="Kode 482913")["tier"] == 2


def test_a_bad_number_is_a_400_in_the_users_language_naming_the_field(cast: Cast) -> None:
    client = signed_in(cast.owner.email)
    answer = quote(client, to="12345", text="Kode 482913")
    assert answer["status"] == 400 and answer["error"]["code"] == "invalid_request"
    assert "to" in answer["error"]["details"]
    assert answer["error"]["message"] == "Tulis nomor sebagai 08..., 628... atau +628... (negara lain diawali '+')."
    assert quote(client, text="Kode 482913")["status"] == 400  # no number at all


def test_the_quote_needs_a_signed_in_member_and_is_never_cached(cast: Cast) -> None:
    response = Client().get("/messaging/pricing/quote/", {"to": TELKOMSEL})
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    answer = signed_in(cast.owner.email).get("/messaging/pricing/quote/", {"to": TELKOMSEL})
    assert "no-cache" in answer["Cache-Control"] or "max-age=0" in answer["Cache-Control"]


def test_the_page_works_without_javascript_and_lists_the_tiers_prices(cast: Cast) -> None:
    billing.lot_create(customer=cast.acme, amount=2_500_000, reference="BCA-1")
    client = english(signed_in(cast.owner.email))
    page = client.get("/messaging/pricing/")
    html = page.content.decode()
    assert page.status_code == 200 and "/static/js/pricing.js" in html
    assert 'data-quote-url="/messaging/pricing/quote/"' in html
    assert '<label for="id_to">' in html and '<label for="id_text">' in html
    text = text_of(html)
    assert "Unit prices at tier 3" in text and "Telkomsel" in text and "XL-Axiata" in text
    submitted = client.get("/messaging/pricing/", {"to": XL, "text": "Kode OTP Anda 482913"})
    assert submitted.status_code == 200 and submitted.context["quote"].operator == "xl"
    assert "XL-Axiata" in text_of(submitted.content.decode().split('id="quote-result"')[1])
    refused = client.get("/messaging/pricing/", {"to": "12", "text": ""})
    assert refused.status_code == 400 and 'aria-invalid="true"' in refused.content.decode()


def test_every_member_sees_the_prices(cast: Cast) -> None:
    user = UserFactory(email="finance@acme.test")
    Membership.objects.create(user=user, customer=cast.acme, role=Membership.Role.BILLING)
    for email in (user.email, cast.developer.email, cast.owner.email):
        assert signed_in(email).get("/messaging/pricing/").status_code == 200, email
        assert quote(signed_in(email), to=TELKOMSEL)["status"] == 200, email
