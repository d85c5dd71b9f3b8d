"""The billing emails: each template renders a subject line (its first line)
and a body in Indonesian, with amounts in rupiah."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.template import Context, Template
from django.utils import timezone, translation
from django.utils.formats import date_format
from pytest_django.fixtures import Settings

from accounts.models import User
from billing import notifications, services
from billing.templatetags.money import format_rupiah
from tests.conftest import Cast
from tests.helpers import media_root_fixture, topup_request  # noqa: F401 - media_root is autouse

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


@pytest.fixture(autouse=True)
def finance_admins(settings: Settings) -> None:
    settings.ADMINS = [("Finance", "finance@otp.test")]


RULE_NUMBER = re.compile(r"R-[A-Z]+-\d")


def indonesian(msgid: str) -> str:
    """A sentence of the emails as the catalogue writes it in Indonesian (emails are always Indonesian)."""
    with translation.override("id"):
        return translation.gettext(msgid)


def only_email() -> mail.EmailMessage:
    assert len(mail.outbox) == 1, [m.subject for m in mail.outbox]
    return mail.outbox[0]


def assert_well_formed(message: mail.EmailMessage) -> None:
    assert message.subject.strip() == message.subject
    assert "\n" not in message.subject
    assert message.body.strip()
    assert "{%" not in message.body and "{{" not in message.body
    assert "Acme Shop" in message.body  # the greeting names the customer
    assert "PT. Adsmedia Digital Indonesia" in message.body


def test_rupiah_filters_use_indonesian_grouping_without_decimals() -> None:
    template = Template("{% load money %}{{ a|rupiah }}|{{ a|rupiah_signed }}|{{ b|rupiah_signed }}|{{ c|rupiah }}")
    rendered = template.render(Context({"a": 2_500_000, "b": -650, "c": 0}))
    assert rendered == "Rp 2.500.000|+Rp 2.500.000|-Rp 650|Rp 0"
    assert format_rupiah(None) == ""


def test_low_balance_email_names_balance_and_threshold(cast: Cast) -> None:
    notifications.low_balance(cast.acme.pk, 150_000, 200_000)  # through the Celery task (eager)
    message = only_email()
    assert_well_formed(message)
    assert message.subject == "Saldo menipis: tersisa Rp 150.000"
    assert "Rp 200.000" in message.body
    # Issue 12: the rule is said in words, never cited by number (R-PRE-3)
    assert (
        indonesian(
            'Please top up soon: a message that the balance cannot cover is refused. Sign in to the OTP Portal and open "Top up".'
        )
        in message.body
    )
    assert not RULE_NUMBER.search(message.body)
    assert message.to == ["billing@acme.test", "owner@acme.test"]  # billing email + owner, never the developer


def test_topup_requested_email_to_customer_and_staff(cast: Cast) -> None:
    request = topup_request(cast)
    notifications.deliver("topup_requested", request_id=request.pk)
    customer_mail = next(m for m in mail.outbox if "billing@acme.test" in m.to)
    assert_well_formed(customer_mail)
    assert customer_mail.subject == "Permintaan isi saldo diterima: Rp 2.500.000"
    assert "BCA-777" in customer_mail.body
    staff_mail = next(m for m in mail.outbox if "finance@otp.test" in m.to)
    assert f"/admin/billing/topuprequest/{request.pk}/change/" in staff_mail.body


def test_topup_approved_email_gives_tier_and_expiry(cast: Cast) -> None:
    request = topup_request(cast)
    services.topup_request_approve(request=request, reviewed_by=cast.staff, note="Dana sudah masuk")
    notifications.deliver("topup_decided", request_id=request.pk)
    message = only_email()
    assert_well_formed(message)
    assert message.subject == "Isi saldo disetujui: Rp 2.500.000"
    request.refresh_from_db()
    lot = request.lot
    sentence = indonesian(
        "This deposit buys at tier %(tier)s and expires on %(expires)s WIB; what is left of it then is forfeited."
    )
    with translation.override("id"):
        expires = date_format(timezone.localtime(lot.expires_at), "j F Y H:i")
    assert sentence % {"tier": 3, "expires": expires} in message.body  # Rp 2.500.000 buys tier 3 (R-PL-2)
    assert not RULE_NUMBER.search(message.body)
    assert "Catatan dari staf kami: Dana sudah masuk" in message.body


def test_topup_rejected_email_carries_the_note(cast: Cast) -> None:
    request = topup_request(cast, amount=1_000_000)
    services.topup_request_reject(request=request, reviewed_by=cast.staff, note="Bukti transfer tidak terbaca")
    notifications.deliver("topup_decided", request_id=request.pk)
    message = only_email()
    assert_well_formed(message)
    assert message.subject == "Permintaan isi saldo ditolak: Rp 1.000.000"
    assert "Bukti transfer tidak terbaca" in message.body
    assert "tingkat" not in message.body


def test_expiry_warning_email(cast: Cast) -> None:
    lot = services.lot_create(customer=cast.acme, amount=750_000, reference="BCA-1")
    notifications.deliver("expiry_warning", lot_id=lot.pk, days=7)
    message = only_email()
    assert_well_formed(message)
    assert message.subject == "Deposit Anda sebesar Rp 750.000 kedaluwarsa dalam 7 hari"
    assert f"#{lot.pk}" in message.body
    assert (
        indonesian(
            "What is left in a deposit when its active period ends is forfeited and is not refunded. Messages are always drawn from the deposit that expires first."
        )
        in message.body
    )  # R-PRE-5, R-PRE-4
    assert not RULE_NUMBER.search(message.body)


def test_inactivity_warning_email(cast: Cast) -> None:
    notifications.deliver(
        "inactivity_warning", customer_id=cast.acme.pk, deadline="2026-05-31", days=30, balance=1_234_000
    )
    message = only_email()
    assert_well_formed(message)
    assert message.subject == "Saldo Anda sebesar Rp 1.234.000 akan hangus dalam 30 hari"
    sentence = indonesian(
        "Your account has sent no OTP messages for a long time. If nothing is sent before %(deadline)s, your whole remaining balance of %(balance)s is forfeited."
    )
    assert sentence % {"deadline": "31 Mei 2026", "balance": "Rp 1.234.000"} in message.body  # R-PRE-6
    assert not RULE_NUMBER.search(message.body)


@pytest.mark.parametrize(
    ("reason", "why"),
    [
        ("expiry", "The active period of your deposit ended, so the %(amount)s left in it was forfeited."),  # R-PRE-5
        (
            "inactivity",  # R-PRE-6
            "Your account sent no OTP messages during the inactivity period, so its remaining balance of %(amount)s "
            "was forfeited.",
        ),
    ],
)
def test_forfeited_email_names_amount_and_reason(cast: Cast, reason: str, why: str) -> None:
    notifications.deliver("forfeited", customer_id=cast.acme.pk, amount=320_500, reason=reason)
    message = only_email()
    assert_well_formed(message)
    assert message.subject == "Rp 320.500 dari deposit Anda hangus"
    assert indonesian(why) % {"amount": "Rp 320.500"} in message.body
    assert not RULE_NUMBER.search(message.body)


def test_emails_are_indonesian_whatever_the_active_language(cast: Cast) -> None:
    with translation.override("en"):
        notifications.deliver("forfeited", customer_id=cast.acme.pk, amount=1000, reason="expiry")
    assert only_email().subject == "Rp 1.000 dari deposit Anda hangus"


def test_customer_names_are_not_html_escaped(cast: Cast) -> None:
    cast.acme.name = "Acme Shop & Sons <Jakarta>"
    cast.acme.save(update_fields=["name"])
    notifications.deliver("low_balance", customer_id=cast.acme.pk, balance=1, threshold=2)
    assert "Acme Shop & Sons <Jakarta>" in only_email().body


def test_no_email_without_recipients(cast: Cast) -> None:
    cast.acme.billing_email = ""
    cast.acme.save(update_fields=["billing_email"])
    User.objects.filter(pk=cast.owner.pk).update(email="")
    notifications.deliver("low_balance", customer_id=cast.acme.pk, balance=1, threshold=2)
    assert mail.outbox == []


def test_expiry_warning_counts_days_to_the_lot_expiry(cast: Cast) -> None:
    lot = services.lot_create(customer=cast.acme, amount=500_000, reference="BCA-2")
    expected_date = timezone.localtime(lot.expires_at).date()
    assert lot.expires_at - lot.created_at <= timedelta(days=365)
    notifications.deliver("expiry_warning", lot_id=lot.pk, days=1)
    message = only_email()
    assert message.subject.endswith("dalam 1 hari")
    months = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober"]
    months += ["November", "Desember"]
    assert f"{expected_date.day} {months[expected_date.month - 1]} {expected_date.year}" in message.body
