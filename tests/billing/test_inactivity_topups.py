"""R-PRE-6 counts top-ups as activity (Review 8.1): the 6 months run from the
later of the last send and the last top-up, so a fresh deposit is never
forfeited for inactivity, and a moved deadline gets its own warnings."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from accounts.models import Customer
from billing import selectors, services
from billing.models import DepositLot, LedgerEntry
from tests.factories import CustomerFactory
from tests.helpers import Capture

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]
WIB = ZoneInfo("Asia/Jakarta")


@pytest.fixture
def customer() -> Customer:
    return CustomerFactory(slug="toko", billing_email="finance@toko.test")


def at(day: str, clock: str = "09:00") -> time_machine.travel:
    return time_machine.travel(datetime.fromisoformat(f"{day}T{clock}:00+07:00"))


def run_daily(day: str, capture: Capture) -> dict[str, int]:
    """The beat's run at 00:10 WIB on ``day``."""
    with at(day, "00:10"), capture(execute=True):
        return services.daily_run()


def inactivity_emails() -> list[mail.EmailMessage]:
    return [m for m in mail.outbox if "akan hangus" in m.subject]


def forfeited_from(lot: DepositLot) -> int:
    return -sum(LedgerEntry.objects.filter(lot=lot, kind=LedgerEntry.Kind.FORFEITURE).values_list("amount", flat=True))


def _first_lot_forfeited_on_its_deadline(customer: Customer, capture: Capture) -> DepositLot:
    """Lot of Rp 100.000 on 2026-01-10, one send on 2026-01-15: the deadline
    is 2026-07-15, whose run forfeits the rest (correct)."""
    with at("2026-01-10"):
        lot = services.lot_create(customer=customer, amount=100_000, reference="bca-1")
    with at("2026-01-15"):
        services.charge(customer=customer, channel="sms", operator="telkomsel", units=1, reference="m-1")
    assert run_daily("2026-07-14", capture)["inactivity_forfeitures"] == 0
    assert run_daily("2026-07-15", capture)["inactivity_forfeitures"] == 1
    assert forfeited_from(lot) == 100_000 - 650
    assert selectors.balance(customer=customer) == 0
    return lot


def test_review_8_1_a_top_up_after_a_forfeiture_is_not_forfeited_the_next_day(
    customer: Customer, django_capture_on_commit_callbacks: Capture
) -> None:
    """The review's reproduction: before the fix the run of 2026-08-02 took
    the whole Rp 5.000.000 topped up on 2026-08-01, with no warning."""
    _first_lot_forfeited_on_its_deadline(customer, django_capture_on_commit_callbacks)
    with at("2026-08-01", "10:00"):
        fresh = services.lot_create(customer=customer, amount=5_000_000, reference="bca-2")
    mail.outbox.clear()
    summary = run_daily("2026-08-02", django_capture_on_commit_callbacks)
    assert summary["inactivity_forfeitures"] == 0
    assert summary["inactivity_warnings"] == 0
    fresh.refresh_from_db()
    assert (fresh.remaining, fresh.closed_at) == (5_000_000, None)
    assert forfeited_from(fresh) == 0
    with at("2026-08-02", "12:00"):
        assert selectors.balance(customer=customer) == 5_000_000
    assert mail.outbox == []
    assert services.reconcile() == []


def test_review_8_1_the_clock_restarts_at_the_top_up_with_new_warnings(
    customer: Customer, django_capture_on_commit_callbacks: Capture
) -> None:
    """R-PRE-6 policy: warned 30 and 7 days before each deadline. The
    warnings are keyed by the deadline, so the deadline moved by the top-up
    (2026-08-01 + 6 months = 2027-02-01) gets its own two."""
    capture = django_capture_on_commit_callbacks
    with at("2026-01-10"):
        services.lot_create(customer=customer, amount=100_000, reference="bca-1")
    with at("2026-01-15"):
        services.charge(customer=customer, channel="sms", operator="telkomsel", units=1, reference="m-1")
    assert run_daily("2026-06-15", capture)["inactivity_warnings"] == 1  # 30 days before 2026-07-15
    assert run_daily("2026-07-08", capture)["inactivity_warnings"] == 1  # 7 days before
    assert run_daily("2026-07-15", capture)["inactivity_forfeitures"] == 1
    with at("2026-08-01", "10:00"):
        fresh = services.lot_create(customer=customer, amount=5_000_000, reference="bca-2")
    assert len(inactivity_emails()) == 2
    mail.outbox.clear()

    assert set(run_daily("2026-08-02", capture).values()) == {0}  # nothing forfeited, nobody warned
    assert run_daily("2027-01-01", capture)["inactivity_warnings"] == 0  # 31 days before
    assert run_daily("2027-01-02", capture)["inactivity_warnings"] == 1  # 30 days before 2027-02-01
    assert run_daily("2027-01-03", capture)["inactivity_warnings"] == 0  # once
    assert run_daily("2027-01-25", capture)["inactivity_warnings"] == 1  # 7 days before
    warnings = inactivity_emails()
    assert [m.subject for m in warnings] == [
        "Saldo Anda sebesar Rp 5.000.000 akan hangus dalam 30 hari",
        "Saldo Anda sebesar Rp 5.000.000 akan hangus dalam 7 hari",
    ]
    assert all("1 Februari 2027" in m.body for m in warnings)

    assert run_daily("2027-01-31", capture)["inactivity_forfeitures"] == 0
    assert run_daily("2027-02-01", capture)["inactivity_forfeitures"] == 1  # still no send: R-PRE-6 applies
    assert forfeited_from(fresh) == 5_000_000
    assert services.reconcile() == []


def test_review_8_1_the_later_of_the_last_send_and_the_last_top_up_counts(
    customer: Customer, django_capture_on_commit_callbacks: Capture
) -> None:
    """A top-up older than the last send does not pull the deadline back."""
    with at("2026-01-05"):
        services.lot_create(customer=customer, amount=100_000, reference="bca-1")
    with at("2026-02-01"):
        services.lot_create(customer=customer, amount=200_000, reference="bca-2")
    with at("2026-03-01"):
        services.charge(customer=customer, channel="sms", operator="xl", units=1, reference="m-1")
    assert run_daily("2026-08-01", django_capture_on_commit_callbacks)["inactivity_forfeitures"] == 0
    assert run_daily("2026-08-31", django_capture_on_commit_callbacks)["inactivity_forfeitures"] == 0
    assert run_daily("2026-09-01", django_capture_on_commit_callbacks)["inactivity_forfeitures"] == 1
    assert selectors.balance(customer=customer, now=datetime(2026, 9, 1, 12, tzinfo=WIB)) == 0


def test_review_8_1_a_never_used_top_up_runs_six_months_from_the_latest_one(
    customer: Customer, django_capture_on_commit_callbacks: Capture
) -> None:
    """No send at all: the clock runs from the latest top-up, not the first."""
    with at("2026-01-05"):
        services.lot_create(customer=customer, amount=100_000, reference="bca-1")
    with at("2026-06-20"):
        services.lot_create(customer=customer, amount=100_000, reference="bca-2")
    assert run_daily("2026-07-05", django_capture_on_commit_callbacks)["inactivity_forfeitures"] == 0
    assert run_daily("2026-12-19", django_capture_on_commit_callbacks)["inactivity_forfeitures"] == 0
    assert run_daily("2026-12-20", django_capture_on_commit_callbacks)["inactivity_forfeitures"] == 1
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.FORFEITURE).count() == 2
