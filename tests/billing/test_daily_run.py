"""R-PRE-5 and R-PRE-6 through `run_daily`: expiry, inactivity, warnings."""

from __future__ import annotations

from datetime import date, datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from accounts.models import Customer
from billing import selectors, services
from billing.models import DepositLot, LedgerEntry
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
WIB = ZoneInfo("Asia/Jakarta")


@pytest.fixture
def customer() -> Customer:
    return CustomerFactory(slug="toko", billing_email="finance@toko.test")


def daily(day: str, capture) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with time_machine.travel(datetime.fromisoformat(day + "T00:10:00+07:00")), capture(execute=True):
        return services.daily_run()


def test_a_lot_past_its_date_is_forfeited_once(
    customer: Customer,
    settings,
    eager_celery,
    mailoutbox,  # type: ignore[no-untyped-def]
    django_capture_on_commit_callbacks,
) -> None:
    settings.DEPOSIT_VALIDITY_DAYS = 365
    settings.INACTIVITY_FORFEIT_MONTHS = 24  # keep R-PRE-6 out of the way
    with time_machine.travel(datetime(2026, 1, 10, 9, 0, tzinfo=WIB)):
        lot = services.lot_create(customer=customer, amount=50_000, reference="a")
        services.charge(customer=customer, channel="sms", operator="telkomsel", units=1, reference="m")
    with time_machine.travel(datetime(2027, 1, 9, 0, 10, tzinfo=WIB)), django_capture_on_commit_callbacks(execute=True):
        assert services.daily_run()["lots_expired"] == 0  # the last usable day
    assert daily("2027-01-10", django_capture_on_commit_callbacks)["lots_expired"] == 1
    assert daily("2027-01-10", django_capture_on_commit_callbacks)["lots_expired"] == 0  # twice: nothing more
    lot.refresh_from_db()
    assert lot.remaining == 0 and lot.closed_at is not None
    forfeits = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.FORFEITURE)
    assert [f.amount for f in forfeits] == [-(50_000 - 650)]
    assert services.reconcile() == []
    assert any("50.000" in m.body or "49.350" in m.body for m in mailoutbox)


def test_expiry_warnings_30_and_7_days_before_each_once(
    customer: Customer,
    settings,
    eager_celery,
    mailoutbox,  # type: ignore[no-untyped-def]
    django_capture_on_commit_callbacks,
) -> None:
    settings.DEPOSIT_VALIDITY_DAYS = 365
    with time_machine.travel(datetime(2026, 1, 10, 9, 0, tzinfo=WIB)):
        services.lot_create(customer=customer, amount=50_000, reference="a")
    settings.INACTIVITY_FORFEIT_MONTHS = 24  # keep R-PRE-6 out of the way
    for day in ("2026-12-09", "2026-12-10", "2026-12-11"):
        daily(day, django_capture_on_commit_callbacks)
    warnings = [m for m in mailoutbox if "30" in m.subject or "30" in m.body]
    assert len(warnings) == 1
    daily("2027-01-03", django_capture_on_commit_callbacks)
    daily("2027-01-04", django_capture_on_commit_callbacks)
    assert DepositLot.objects.get().expiry_warned_days == 7


def test_six_months_without_a_send_forfeits_the_whole_balance(
    customer: Customer,
    eager_celery,
    mailoutbox,  # type: ignore[no-untyped-def]
    django_capture_on_commit_callbacks,
) -> None:
    """R-PRE-6, counted from the last send."""
    with time_machine.travel(datetime(2026, 1, 5, 9, 0, tzinfo=WIB)):
        services.lot_create(customer=customer, amount=100_000, reference="a")
        services.lot_create(customer=customer, amount=600_000, reference="b")
    with time_machine.travel(datetime(2026, 2, 15, 9, 0, tzinfo=WIB)):
        services.charge(customer=customer, channel="sms", operator="xl", units=1, reference="m")
    # deadline = 2026-08-15; warnings on 2026-07-16 (30 days) and 2026-08-08 (7 days)
    assert daily("2026-07-15", django_capture_on_commit_callbacks)["inactivity_warnings"] == 0
    assert daily("2026-07-16", django_capture_on_commit_callbacks)["inactivity_warnings"] == 1
    assert daily("2026-07-17", django_capture_on_commit_callbacks)["inactivity_warnings"] == 0
    assert daily("2026-08-08", django_capture_on_commit_callbacks)["inactivity_warnings"] == 1
    assert daily("2026-08-14", django_capture_on_commit_callbacks)["inactivity_forfeitures"] == 0
    assert selectors.balance(customer=customer) == 700_000 - 690
    assert daily("2026-08-15", django_capture_on_commit_callbacks)["inactivity_forfeitures"] == 1
    assert daily("2026-08-15", django_capture_on_commit_callbacks)["inactivity_forfeitures"] == 0
    assert selectors.balance(customer=customer) == 0
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.FORFEITURE).count() == 2
    assert services.reconcile() == []
    subjects = [m.subject for m in mailoutbox]
    assert len(subjects) == 3  # two warnings and the forfeiture notice


def test_a_send_moves_the_inactivity_deadline(
    customer: Customer, django_capture_on_commit_callbacks, eager_celery
) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(datetime(2026, 1, 5, 9, 0, tzinfo=WIB)):
        services.lot_create(customer=customer, amount=100_000, reference="a")
    with time_machine.travel(datetime(2026, 7, 1, 9, 0, tzinfo=WIB)):
        services.charge(customer=customer, channel="sms", operator="xl", units=1, reference="m")
    assert daily("2026-07-05", django_capture_on_commit_callbacks)["inactivity_forfeitures"] == 0
    assert selectors.balance(customer=customer) == 100_000 - 690


def test_run_daily_command_takes_a_date(customer: Customer, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DEPOSIT_VALIDITY_DAYS = 10
    settings.INACTIVITY_FORFEIT_MONTHS = 24
    with time_machine.travel(datetime(2026, 3, 1, 9, 0, tzinfo=WIB)):
        services.lot_create(customer=customer, amount=10_000, reference="a")
    out = StringIO()
    call_command("run_daily", "--date", "2026-03-11", stdout=out)
    assert "lots_expired=1" in out.getvalue()
    assert selectors.balance(customer=customer, now=datetime(2026, 3, 5, tzinfo=WIB)) == 0
    assert date(2026, 3, 11)


def test_reconcile_command_passes_and_then_names_a_broken_customer(customer: Customer) -> None:
    from django.core.management import CommandError

    services.lot_create(customer=customer, amount=10_000, reference="a")
    services.charge(customer=customer, channel="sms", operator="xl", units=1, reference="m")
    out = StringIO()
    call_command("reconcile", stdout=out)
    assert "OK" in out.getvalue()
    DepositLot.objects.update(remaining=9_999)  # tampering behind the ledger's back
    err = StringIO()
    with pytest.raises(CommandError, match="toko"):
        call_command("reconcile", stdout=StringIO(), stderr=err)
    assert "toko: ledger 9310 != lots 9999" in err.getvalue()
