"""R-PRE-2, R-PRE-3, R-PRE-4: drawing lots, refusing, reversing."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.models import Customer
from billing import selectors, services
from billing.models import Charge, LedgerEntry
from otpportal.errors import ServiceError
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
WIB = ZoneInfo("Asia/Jakarta")


@pytest.fixture
def customer() -> Customer:
    return CustomerFactory(slug="toko")


def send(customer: Customer, ref: str, units: int = 1, channel: str = "sms", operator: str = "telkomsel") -> Charge:
    return services.charge(
        customer=customer, channel=channel, operator=operator, units=units, reference=ref, phone="+6281234567890"
    )


def test_a_charge_draws_from_the_lot_that_expires_first(customer: Customer) -> None:
    with time_machine.travel("2026-01-01 10:00 +0700"):
        older = services.lot_create(customer=customer, amount=100_000, reference="old")  # tier 1
    with time_machine.travel("2026-02-01 10:00 +0700"):
        newer = services.lot_create(customer=customer, amount=2_000_000, reference="new")  # tier 3
        charge = send(customer, "m1")
    assert (charge.tier, charge.unit_price, charge.amount) == (1, 650, 650)
    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.remaining, newer.remaining) == (100_000 - 650, 2_000_000)


def test_a_charge_spanning_two_lots_of_different_tiers_is_priced_at_the_first(customer: Customer) -> None:
    """R-PRE-2: if that lot holds less than the price, the rest comes from the
    next lot at the same price."""
    with time_machine.travel("2026-01-01 10:00 +0700"):
        first = services.lot_create(customer=customer, amount=1_000, reference="a")  # tier 1, expires first
    with time_machine.travel("2026-01-02 10:00 +0700"):
        second = services.lot_create(customer=customer, amount=2_000_000, reference="b")  # tier 3
        charge = send(customer, "m1", units=2)  # 2 × 650 = 1300: 1000 from the first, 300 from the second
    assert (charge.tier, charge.unit_price, charge.amount) == (1, 650, 1300)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.remaining, second.remaining) == (0, 2_000_000 - 300)
    drawn = sorted((e.lot_id, e.amount) for e in LedgerEntry.objects.filter(charge=charge))
    assert drawn == sorted([(first.pk, -1000), (second.pk, -300)])
    with time_machine.travel("2026-01-02 10:01 +0700"):
        next_charge = send(customer, "m2")
    assert (next_charge.tier, next_charge.unit_price) == (3, 610)


def test_whatsapp_is_one_price_whatever_the_operator(customer: Customer) -> None:
    services.lot_create(customer=customer, amount=500_000, reference="a")  # tier 2
    assert send(customer, "w1", channel="wa", operator="").amount == 340
    assert send(customer, "w2", channel="wa_official", operator="xl").amount == 430


def test_a_send_the_balance_cannot_cover_is_refused_and_nothing_is_written(customer: Customer) -> None:
    services.lot_create(customer=customer, amount=1_000, reference="a")
    send(customer, "m1")  # 650, leaves 350
    with pytest.raises(ServiceError) as exc:
        send(customer, "m2")
    assert exc.value.code == "insufficient_balance"
    assert exc.value.details == {"balance": 350, "price": 650}
    assert selectors.balance(customer=customer) == 350
    assert not Charge.objects.filter(reference="m2").exists()
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CHARGE).count() == 1


def test_no_lots_means_insufficient_balance(customer: Customer) -> None:
    with pytest.raises(ServiceError) as exc:
        send(customer, "m1")
    assert exc.value.code == "insufficient_balance"


def test_the_same_reference_charges_once(customer: Customer) -> None:
    services.lot_create(customer=customer, amount=10_000, reference="a")
    first = send(customer, "msg_1")
    again = send(customer, "msg_1")
    assert first.pk == again.pk
    assert selectors.balance(customer=customer) == 10_000 - 650


def test_an_expired_lot_is_not_drawn_on_the_exact_day(customer: Customer, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DEPOSIT_VALIDITY_DAYS = 365
    with time_machine.travel(datetime(2026, 1, 10, 9, 0, tzinfo=WIB)):
        services.lot_create(customer=customer, amount=10_000, reference="a")
    with time_machine.travel(datetime(2027, 1, 9, 23, 59, 59, tzinfo=WIB)):
        assert send(customer, "last-moment").amount == 650
    with time_machine.travel(datetime(2027, 1, 10, 0, 0, 0, tzinfo=WIB)):
        with pytest.raises(ServiceError) as exc:
            send(customer, "too-late")
        assert exc.value.code == "insufficient_balance"
        assert selectors.balance(customer=customer) == 0


def test_reversal_puts_the_money_back_into_the_lots_it_came_from(customer: Customer) -> None:
    """R-PRE-4: a message the provider refused is not charged."""
    with time_machine.travel("2026-01-01 10:00 +0700"):
        first = services.lot_create(customer=customer, amount=1_000, reference="a")
    with time_machine.travel("2026-01-02 10:00 +0700"):
        second = services.lot_create(customer=customer, amount=5_000, reference="b")
        charge = send(customer, "m1", units=2)
        services.reverse(charge=charge, reason="SMSC refused: invalid destination")
        services.reverse(charge=charge, reason="twice")  # idempotent
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.remaining, second.remaining) == (1_000, 5_000)
    charge.refresh_from_db()
    assert charge.reversed_at is not None and charge.reversal_reason.startswith("SMSC refused")
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REVERSAL).count() == 2
    assert services.reconcile() == []


def test_a_reversal_into_an_expired_lot_is_forfeited_at_once(customer: Customer, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DEPOSIT_VALIDITY_DAYS = 1
    with time_machine.travel(datetime(2026, 1, 10, 23, 0, tzinfo=WIB)):
        lot = services.lot_create(customer=customer, amount=10_000, reference="a")
        charge = send(customer, "m1")
    with time_machine.travel(datetime(2026, 1, 11, 0, 5, tzinfo=WIB)):
        services.reverse(charge=charge, reason="late refusal")
    lot.refresh_from_db()
    assert lot.remaining == 10_000 - 650
    kinds = list(LedgerEntry.objects.filter(charge=charge).order_by("id").values_list("kind", "amount"))
    assert kinds == [("charge", -650), ("reversal", 650), ("forfeiture", -650)]
    assert services.reconcile() == []


def test_ledger_entries_are_append_only(customer: Customer) -> None:
    services.lot_create(customer=customer, amount=10_000, reference="a")
    entry = LedgerEntry.objects.get()
    entry.amount = 1
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()


def test_quote_uses_the_tier_of_the_lot_drawn_first(customer: Customer) -> None:
    assert services.quote(customer=customer, channel="sms", operator="xl", units=2).price == 1380  # no lot: tier 1
    services.lot_create(customer=customer, amount=8_000_000, reference="a")  # tier 4
    q = services.quote(customer=customer, channel="sms", operator="xl", units=2)
    assert (q.tier, q.unit_price, q.price) == (4, 640, 1280)


@pytest.mark.parametrize(
    ("channel", "operator", "units", "code"),
    [
        ("fax", "", 1, "invalid_request"),
        ("sms", "", 1, "invalid_phone_number"),
        ("sms", "telkomsel", 0, "invalid_request"),
    ],
)
def test_charge_refuses_bad_arguments(customer: Customer, channel: str, operator: str, units: int, code: str) -> None:
    services.lot_create(customer=customer, amount=10_000, reference="a")
    with pytest.raises(ServiceError) as exc:
        services.charge(customer=customer, channel=channel, operator=operator, units=units, reference="r")
    assert exc.value.code == code
    assert not Charge.objects.exists()


def test_low_balance_alert_is_sent_once_per_crossing(
    customer: Customer,
    eager_celery,
    mailoutbox,  # type: ignore[no-untyped-def]
    django_capture_on_commit_callbacks,
) -> None:
    customer.billing_email = "finance@toko.test"
    customer.save()
    services.lot_create(customer=customer, amount=2_000, reference="a")
    services.low_balance_threshold_set(customer=customer, threshold=1_000)
    with django_capture_on_commit_callbacks(execute=True):
        send(customer, "m1")  # 2000 -> 1350: above
    assert len(mailoutbox) == 0
    with django_capture_on_commit_callbacks(execute=True):
        send(customer, "m2")  # 1350 -> 700: crosses
    assert len(mailoutbox) == 1
    assert "finance@toko.test" in mailoutbox[0].to
    with django_capture_on_commit_callbacks(execute=True):
        services.lot_create(customer=customer, amount=1_000, reference="b")  # 1700: back above
        send(customer, "m3")  # 1050: above
        send(customer, "m4")  # 400: crosses again
    assert len(mailoutbox) == 2
