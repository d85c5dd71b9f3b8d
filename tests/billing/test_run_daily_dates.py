"""`run_daily --date` and the daily run's day (Review 8.3): a past day
catches up, a day after today (Asia/Jakarta) is refused everywhere, since it
would forfeit irreversibly every lot that expires before it (R-PRE-5)."""

from __future__ import annotations

from datetime import date, datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from pytest_django.fixtures import Settings

from accounts.models import Customer
from billing import services, tasks
from billing.models import DepositLot, LedgerEntry
from otpportal.errors import ServiceError
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
WIB = ZoneInfo("Asia/Jakarta")


@pytest.fixture
def lot(settings: Settings) -> DepositLot:
    """A lot created 2026-03-01 that expires at 00:00 WIB on 2026-03-11."""
    settings.DEPOSIT_VALIDITY_DAYS = 10
    settings.INACTIVITY_FORFEIT_MONTHS = 24  # keep R-PRE-6 out of the way
    customer: Customer = CustomerFactory(slug="toko")
    with time_machine.travel(datetime(2026, 3, 1, 9, 0, tzinfo=WIB)):
        return services.lot_create(customer=customer, amount=10_000, reference="a")


def untouched(lot: DepositLot) -> bool:
    lot.refresh_from_db()
    return lot.remaining == 10_000 and lot.closed_at is None and not LedgerEntry.objects.filter(kind="forfeiture")


def test_review_8_3_run_daily_refuses_a_future_date_and_forfeits_nothing(lot: DepositLot) -> None:
    refused = pytest.raises(CommandError, match=r"--date 2026-03-11 is after today \(2026-03-05, Asia/Jakarta\)")
    with time_machine.travel(datetime(2026, 3, 5, 9, 0, tzinfo=WIB)), refused:
        call_command("run_daily", "--date", "2026-03-11", stdout=StringIO())
    assert untouched(lot)


@pytest.mark.django_db(transaction=True)  # the command line closes the connections when it exits
def test_review_8_3_run_daily_exits_non_zero_from_the_command_line(lot: DepositLot) -> None:
    from django.core.management import ManagementUtility

    with time_machine.travel(datetime(2026, 3, 5, 9, 0, tzinfo=WIB)), pytest.raises(SystemExit) as exit_:
        ManagementUtility(["manage.py", "run_daily", "--date", "2026-03-11"]).execute()
    assert exit_.value.code != 0
    assert untouched(lot)


@pytest.mark.parametrize(
    ("moment", "day", "allowed"),
    [
        (datetime(2026, 3, 5, 23, 59, 59, tzinfo=WIB), "2026-03-06", False),  # tomorrow, one second early
        (datetime(2026, 3, 5, 23, 59, 59, tzinfo=WIB), "2026-03-05", True),  # today
        (datetime(2026, 3, 5, 17, 0, tzinfo=ZoneInfo("UTC")), "2026-03-06", True),  # 00:00 WIB on the 6th
    ],
)
def test_review_8_3_today_is_the_jakarta_date(lot: DepositLot, moment: datetime, day: str, allowed: bool) -> None:
    with time_machine.travel(moment):
        if allowed:
            call_command("run_daily", "--date", day, stdout=StringIO())
        else:
            with pytest.raises(CommandError, match="after today"):
                call_command("run_daily", "--date", day, stdout=StringIO())


def test_review_8_3_a_past_date_catches_up_once(lot: DepositLot) -> None:
    with time_machine.travel(datetime(2026, 3, 20, 9, 0, tzinfo=WIB)):
        out = StringIO()
        call_command("run_daily", "--date", "2026-03-11", stdout=out)
        assert "lots_expired=1" in out.getvalue()
        again = StringIO()
        call_command("run_daily", "--date", "2026-03-11", stdout=again)  # re-running changes nothing
        assert "lots_expired=0" in again.getvalue()
    assert LedgerEntry.objects.filter(kind="forfeiture").count() == 1
    assert services.reconcile() == []


def test_review_8_3_the_service_refuses_a_day_after_the_jakarta_date_of_now(lot: DepositLot) -> None:
    with pytest.raises(ServiceError) as refused:
        services.daily_run(today=date(2026, 3, 11), now=datetime(2026, 3, 10, 23, 59, tzinfo=WIB))
    assert refused.value.code == "invalid_request"
    assert "after today" in refused.value.message
    assert untouched(lot)
    summary = services.daily_run(today=date(2026, 3, 11), now=datetime(2026, 3, 11, 0, 10, tzinfo=WIB))
    assert summary["lots_expired"] == 1


def test_review_8_3_the_celery_task_cannot_run_a_future_day_either(lot: DepositLot) -> None:
    with time_machine.travel(datetime(2026, 3, 5, 9, 0, tzinfo=WIB)):
        result = tasks.run_daily.apply(args=["2026-03-11"])
    assert result.failed()
    assert "ServiceError" in repr(result.result) and "after today (2026-03-05" in str(result.result)
    assert untouched(lot)
