"""Issue 12: the home page is the account at a glance.

Money (prepaid: the balance, its lots and the next expiry; postpaid: the
guarantee, the month's usage against its cap and the tier reached), traffic
(today's and the month's sends, delivery and verification rates per channel
and per operator, a server-drawn chart of the last 30 days per channel) and
alerts (low balance, lots about to expire, an inactivity forfeiture coming, an
overdue invoice, a suspended sender ID). Every read is scoped to the
customer and aggregated in SQL: the page costs the same queries whatever the
traffic."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Membership
from billing import services as billing
from billing.models import BillingAccount, DepositLot
from messaging.home import day_start
from messaging.models import Message, Verification
from senderids import services as senderid_services
from tests.billing.postpaid_months import english, invoice_month, make_postpaid
from tests.conftest import Cast
from tests.factories import UserFactory
from tests.helpers import (
    media_root_fixture,  # noqa: F401 - autouse: the sender-ID form lands in a temporary folder
    signed_in,
)
from tests.page_text import text_of
from tests.senderids.helpers import activate, apply, registration

pytestmark = pytest.mark.django_db

WIB = ZoneInfo("Asia/Jakarta")
NOON = "2026-03-18T12:00:00+07:00"  # a Wednesday; the month began 17 days ago


def member(cast: Cast, role: str) -> Client:
    user = UserFactory(email=f"{role}-member@acme.test")
    Membership.objects.create(user=user, customer=cast.acme, role=role)
    return english(signed_in(user.email))


def traffic(
    customer,
    *,
    days_ago: int = 0,
    channel: str = "sms",
    operator: str = "telkomsel",  # type: ignore[no-untyped-def]
    status: str = "delivered",
    count: int = 1,
    is_test: bool = False,
) -> None:
    when = timezone.now() - timedelta(days=days_ago)
    Message.objects.bulk_create(
        Message(
            customer=customer,
            to="+6281234567890",
            operator=operator,
            channel=channel,
            status=status,
            is_test=is_test,
            body="Kode ••••••",
            created_at=when,
        )
        for _ in range(count)
    )


def verifications(
    customer,
    *,
    channel: str = "sms",
    operator: str = "telkomsel",
    status: str = "approved",  # type: ignore[no-untyped-def]
    count: int = 1,
) -> None:
    now = timezone.now()
    Verification.objects.bulk_create(
        Verification(
            customer=customer,
            to="+6281234567890",
            operator=operator,
            channel=channel,
            status=status,
            expires_at=now + timedelta(minutes=5),
            created_at=now,
        )
        for _ in range(count)
    )


# --- Money -----------------------------------------------------------------------------------


def test_a_prepaid_home_shows_the_balance_its_lots_and_the_next_expiry(cast: Cast) -> None:
    """Issue 12: the home page showed only the mode, the status and a key list."""
    with time_machine.travel(NOON, tick=False):
        first = billing.lot_create(customer=cast.acme, amount=2_500_000, reference="BCA-1")
        billing.lot_create(customer=cast.acme, amount=1_000_000, reference="BCA-2")
        billing.lot_create(customer=cast.globex, amount=9_900_000, reference="GLOBEX-1")
        response = english(signed_in(cast.owner.email)).get("/")
    assert response.status_code == 200
    text = text_of(response.content.decode())
    assert "Rp 3.500.000" in text  # the balance: both lots
    assert "Rp 9.900.000" not in text  # never another customer's money
    assert f"Next expiry: Rp 2.500.000 on {first.expires_at.astimezone(WIB):%-d %B %Y}" in text
    assert "Sends are priced at tier 3" in text  # R-PRE-2: the lot drawn first
    assert response.context["prepaid"].lot_count == 2


def test_a_postpaid_home_shows_the_guarantee_the_month_against_the_cap_and_the_tier(cast: Cast) -> None:
    acme = make_postpaid(cast.acme)
    billing.charge(customer=acme, channel="sms", operator="telkomsel", units=1_000, reference="now-1")
    text = text_of(english(signed_in(cast.owner.email)).get("/").content.decode())
    assert "Guarantee deposit Rp 10.000.000" in text
    assert "Monthly cap Rp 20.000.000" in text  # R-POST-2: 2 × the guarantee
    assert "Rp 630.000" in text and "Tier reached 2" in text  # 1.000 units reach tier 2 (R-POST-3)
    assert "3% of the cap used" in text


def test_developers_see_traffic_but_no_money_and_billing_members_see_money(cast: Cast) -> None:
    """The money is for the roles that may open the money pages (accounts.roles)."""
    billing.lot_create(customer=cast.acme, amount=2_500_000, reference="BCA-1")
    developer = english(signed_in(cast.developer.email)).get("/")
    assert "Rp 2.500.000" not in developer.content.decode() and "prepaid" not in developer.context
    assert developer.context["counts"].today == 0
    assert "Rp 2.500.000" in member(cast, Membership.Role.BILLING).get("/").content.decode()


# --- Traffic --------------------------------------------------------------------------------


def test_sends_today_and_this_month_count_live_messages_of_jakarta_days(cast: Cast) -> None:
    with time_machine.travel(NOON, tick=False):
        traffic(cast.acme, count=3)  # today
        traffic(cast.acme, days_ago=1, count=2)  # yesterday, this month
        traffic(cast.acme, days_ago=20, count=4)  # last month (17 days into March)
        traffic(cast.acme, count=5, is_test=True)  # test traffic: apart
        traffic(cast.globex, count=7)
        client = english(signed_in(cast.owner.email))
        live = client.get("/")
        test = client.get("/", {"mode": "test"})
    assert (live.context["counts"].today, live.context["counts"].month) == (3, 5)
    assert live.context["chart"].total == 9  # the last 30 days
    assert (test.context["counts"].today, test.context["counts"].month) == (5, 5)
    assert "Test sends" in test.content.decode()


def test_today_starts_at_midnight_in_jakarta_not_utc(cast: Cast) -> None:
    with time_machine.travel("2026-03-18T00:30:00+07:00", tick=False):  # 17:30 UTC the day before
        assert day_start(timezone.now()).isoformat() == "2026-03-18T00:00:00+07:00"
        traffic(cast.acme, count=1)
        Message.objects.filter(customer=cast.acme).update(created_at=timezone.now() - timedelta(hours=1))
        response = signed_in(cast.owner.email).get("/")
    assert response.context["counts"].today == 0  # 23:30 WIB yesterday
    assert response.context["counts"].month == 1


def test_delivery_and_verification_rates_per_channel_and_operator(cast: Cast) -> None:
    traffic(cast.acme, count=3)  # sms telkomsel delivered
    traffic(cast.acme, status="undelivered", count=1)
    traffic(cast.acme, operator="xl", status="failed", count=2)
    traffic(cast.acme, operator="xl", status="sent", count=5)  # not ended: not in the rate
    traffic(cast.acme, channel="wa", status="delivered", count=4)
    traffic(cast.globex, status="failed", count=50)
    verifications(cast.acme, count=3)
    verifications(cast.acme, status="expired", count=1)
    verifications(cast.acme, status="pending", count=6)
    verifications(cast.acme, channel="wa", operator="indosat", status="max_attempts_reached", count=2)
    response = english(signed_in(cast.owner.email)).get("/")
    channels = {row["rate"].key: row["rate"] for row in response.context["delivery_channels"]}
    operators = {row["rate"].key: row["rate"] for row in response.context["delivery_operators"]}
    assert (channels["sms"].total, channels["sms"].good, channels["sms"].finished) == (11, 3, 6)
    assert channels["sms"].percent == 50.0 and channels["wa"].percent == 100.0
    assert operators["telkomsel"].percent == 87.5  # 7 of 8 (4 wa + 3 sms delivered, 1 undelivered)
    assert operators["xl"].percent == 0.0 and operators["xl"].total == 7
    conversion = {row["rate"].key: row["rate"] for row in response.context["conversion_channels"]}
    assert conversion["sms"].percent == 75.0 and conversion["sms"].total == 10  # pending ones have not ended
    by_operator = {row["rate"].key: row["rate"] for row in response.context["conversion_operators"]}
    assert by_operator["indosat"].percent == 0.0
    text = text_of(response.content.decode())
    assert "Delivery rate" in text and "Verification rate" in text
    assert "87.5 %" in text and "XL-Axiata" in text and "WhatsApp regular" in text


def test_the_chart_is_an_svg_drawn_on_the_server_per_day_and_channel(cast: Cast) -> None:
    with time_machine.travel(NOON, tick=False):
        traffic(cast.acme, count=2)
        traffic(cast.acme, channel="wa", count=3)
        traffic(cast.acme, days_ago=29, channel="wa_official", count=1)
        traffic(cast.acme, days_ago=30, count=8)  # 31 days ago: outside the chart
        html = english(signed_in(cast.owner.email)).get("/").content.decode()
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert 'class="chart"' in svg and "<script" not in svg
    assert svg.count('class="bar-sms"') == 1 and svg.count('class="bar-wa"') == 1
    assert svg.count('class="bar-wa_official"') == 1
    assert "18 Mar 2026 · WhatsApp regular: 3" in svg  # each segment's tooltip
    assert "17 Feb 2026 · WhatsApp Official: 1" in svg  # 29 days ago: the first day of the chart
    assert not re.search(r'(x|y|width|height)="[0-9]+,[0-9]', svg)  # coordinates never localised
    assert "Show the figures" in html  # the same numbers as a table


def test_an_indonesian_chart_keeps_decimal_points_in_its_coordinates(cast: Cast) -> None:
    traffic(cast.acme, count=3)
    html = signed_in(cast.owner.email).get("/").content.decode()
    assert 'lang="id"' in html
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert re.search(r'x="[0-9]+\.[0-9]+"', svg) and not re.search(r'="[0-9]+,[0-9]+"', svg)


def test_a_new_customer_gets_an_empty_state_that_says_what_to_do(cast: Cast) -> None:
    html = english(signed_in(cast.owner.email)).get("/").content.decode()
    assert "No live sends in the last 30 days." in html
    assert 'href="/messaging/api-keys/"' in html and 'href="/api/v1/docs/"' in html
    assert "<svg" not in html.split("<main", 1)[1]  # no empty chart


# --- Alerts -----------------------------------------------------------------------------------


def alerts(html: str) -> str:
    start = html.index('<ul class="alerts"')
    return text_of(html[start : html.index("</ul>", start)])


def test_alert_low_balance_below_the_threshold(cast: Cast) -> None:
    billing.lot_create(customer=cast.acme, amount=750_000, reference="BCA-1")
    client = english(signed_in(cast.owner.email))
    assert "Low balance" not in alerts(client.get("/").content.decode())
    BillingAccount.objects.update_or_create(customer=cast.acme, defaults={"low_balance_threshold": 1_000_000})
    text = alerts(client.get("/").content.decode())
    assert "Low balance. Rp 750.000 left, below your alert threshold of Rp 1.000.000." in text


def test_alert_deposits_expiring_within_30_days(cast: Cast) -> None:
    lot = billing.lot_create(customer=cast.acme, amount=750_000, reference="BCA-1")
    client = english(signed_in(cast.owner.email))
    assert "expire" not in alerts(client.get("/").content.decode())
    DepositLot.objects.filter(pk=lot.pk).update(expires_at=timezone.now() + timedelta(days=6))
    lot.refresh_from_db()
    text = alerts(client.get("/").content.decode())
    assert "1 deposit expires soon." in text
    assert f"Rp 750.000 expires on {lot.expires_at.astimezone(WIB):%-d %B %Y}" in text


def test_alert_an_inactivity_forfeiture_coming(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    """R-PRE-6: six months without a send or a top-up forfeit the balance; warned 30 days before."""
    settings.INACTIVITY_FORFEIT_MONTHS = 6
    with time_machine.travel("2025-09-20T10:00:00+07:00", tick=False):
        billing.lot_create(customer=cast.acme, amount=750_000, reference="BCA-1")
    with time_machine.travel("2026-02-25T10:00:00+07:00", tick=False):  # deadline 20 March: 23 days left
        text = alerts(english(signed_in(cast.owner.email)).get("/").content.decode())
    assert "Your balance is about to be forfeited for inactivity." in text
    assert "before 20 March 2026, the whole balance of Rp 750.000 is forfeited" in text
    with time_machine.travel("2026-02-10T10:00:00+07:00", tick=False):  # 38 days left: not yet
        assert "inactivity" not in alerts(english(signed_in(cast.owner.email)).get("/").content.decode())


def test_alert_an_overdue_invoice(cast: Cast) -> None:
    acme = make_postpaid(cast.acme)
    invoice = invoice_month(acme, 2025, 10)
    text = alerts(english(signed_in(cast.owner.email)).get("/").content.decode())
    assert "1 invoice is overdue." in text
    assert f"Rp {invoice.total:,}".replace(",", ".") in text


def test_alert_a_suspended_sender_id(cast: Cast) -> None:
    billing.lot_create(customer=cast.acme, amount=2_500_000, reference="BCA-SID")
    application = apply(cast)
    xl = activate(registration(application, "xl"))
    senderid_services.registration_move(registration=xl, new="suspended", note="Quarter too quiet.", actor=None)
    html = english(signed_in(cast.owner.email)).get("/").content.decode()
    assert "Sender ID TOKOKU is suspended on XL-Axiata." in alerts(html)
    assert f'href="/sender-ids/{application.sender_id.pk}/"' in html
    assert "TOKOKU" not in english(signed_in(cast.stranger.email)).get("/").content.decode()


# --- Queries ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["prepaid", "postpaid"])
def test_the_home_page_reads_a_fixed_number_of_queries_whatever_the_traffic(
    cast: Cast, mode: str, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    """No N+1: the counts, rates and chart are SQL aggregates; 10 messages or 400 cost the same."""
    if mode == "postpaid":
        make_postpaid(cast.acme)
    else:
        billing.lot_create(customer=cast.acme, amount=2_500_000, reference="BCA-1")
    client = signed_in(cast.owner.email)
    traffic(cast.acme, count=10)
    verifications(cast.acme, count=3)
    client.get("/")  # the price list in force is cached per process after a first read
    with CaptureQueriesContext(connection) as few:
        assert client.get("/").status_code == 200
    for days_ago in range(20):
        for channel in ("sms", "wa", "wa_official"):
            traffic(cast.acme, days_ago=days_ago, channel=channel, operator="xl", count=6)
    verifications(cast.acme, channel="wa", status="expired", count=40)
    billing.lot_create(customer=cast.acme, amount=1_000_000, reference="BCA-2") if mode == "prepaid" else None
    with django_assert_max_num_queries(22), CaptureQueriesContext(connection) as many:
        assert client.get("/").status_code == 200
    assert len(many) == len(few), [q["sql"][:120] for q in many.captured_queries]
