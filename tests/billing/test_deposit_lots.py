"""R-PRE-1 and R-PRE-5: a top-up is a lot with its own tier and expiry."""

from __future__ import annotations

from datetime import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command

from accounts.models import Customer
from billing import selectors, services
from billing.models import DepositLot, LedgerEntry
from otpportal.errors import ServiceError
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
WIB = ZoneInfo("Asia/Jakarta")


@pytest.fixture
def customer() -> Customer:
    return CustomerFactory(slug="toko")


def test_each_top_up_is_a_lot_with_the_tier_its_own_amount_buys(customer: Customer) -> None:
    small = services.lot_create(customer=customer, amount=499_999, reference="a")
    big = services.lot_create(customer=customer, amount=2_000_000, reference="b")
    assert (small.tier, big.tier) == (1, 3)
    assert selectors.balance(customer=customer) == 2_499_999
    entries = LedgerEntry.objects.filter(customer=customer, kind=LedgerEntry.Kind.DEPOSIT)
    assert sorted(e.amount for e in entries) == [499_999, 2_000_000]


def test_a_lot_expires_at_midnight_wib_after_the_validity_period(customer: Customer, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DEPOSIT_VALIDITY_DAYS = 365
    # 23:30 WIB on 10 Jan is still 10 Jan in Jakarta (16:30 UTC).
    with time_machine.travel(datetime(2026, 1, 10, 23, 30, tzinfo=WIB)):
        lot = services.lot_create(customer=customer, amount=100_000, reference="a")
    assert lot.expires_at == datetime(2027, 1, 10, 0, 0, tzinfo=WIB)


@pytest.mark.parametrize("amount", [0, -5, "abc", "1.5", 1.5, True, None, "", 10**11])
def test_bad_amounts_are_refused_and_nothing_is_written(customer: Customer, amount: object) -> None:
    with pytest.raises(ServiceError) as exc:
        services.lot_create(customer=customer, amount=amount, reference="x")
    assert exc.value.code == "invalid_request"
    assert "amount" in exc.value.details
    assert not DepositLot.objects.exists() and not LedgerEntry.objects.exists()


def test_the_same_bank_reference_is_recorded_once(customer: Customer) -> None:
    services.lot_create(customer=customer, amount=100_000, reference="BCA-991")
    with pytest.raises(ServiceError, match="already recorded"):
        services.lot_create(customer=customer, amount=100_000, reference="BCA-991")
    assert DepositLot.objects.count() == 1


def test_postpaid_customers_do_not_top_up(customer: Customer) -> None:
    Customer.objects.filter(pk=customer.pk).update(mode=Customer.Mode.POSTPAID)
    customer.refresh_from_db()
    with pytest.raises(ServiceError, match="postpaid"):
        services.lot_create(customer=customer, amount=100_000)


def test_topup_command_records_a_transfer(customer: Customer) -> None:
    out = StringIO()
    call_command("topup", "toko", "2000000", "--reference", "BCA-1", stdout=out)
    assert "tier 3" in out.getvalue()
    assert "balance Rp 2.000.000" in out.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody", "1000"], "No customer"),
        (["toko", "-1"], "whole number"),
        (["toko", "0"], "positive"),
        (["toko", "12.5"], "whole number"),
    ],
)
def test_topup_command_refuses_bad_input(customer: Customer, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("topup", *args, stdout=StringIO())
    assert not DepositLot.objects.exists()
