"""R-SID-6 (Three) and R-SID-7 (Telkomsel): fewer than 100 SMS in a calendar
quarter suspends the registration at the start of the next one; customers
under the threshold are warned two weeks before the quarter ends. Q1 2025
ends on a holiday (Monday 31 March, Idul Fitri) and Q2 begins on one
(1 April): holidays move nothing, the boundary is 00:00 WIB."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.core import mail

from billing import services as billing
from otpportal.errors import ServiceError
from otpportal.workdays import is_working_day
from senderids import policy, services
from senderids.models import Registration, TrafficReview
from tests.conftest import Cast
from tests.senderids.helpers import WIB, activate, apply, registration

pytestmark = pytest.mark.django_db

Q1 = date(2025, 1, 1)
REVIEW_AT = datetime(2025, 4, 1, 0, 20, tzinfo=WIB)  # beat: 00:20 WIB on the quarter's first day


def sms(customer, operator: str, units: int, at: datetime, reference: str) -> None:  # type: ignore[no-untyped-def]
    billing.charge(customer=customer, channel="sms", operator=operator, units=units, reference=reference, now=at)


@pytest.fixture
def active_all_quarter(cast: Cast) -> dict[str, Registration]:
    """TOKOKU active on Three, Telkomsel (premium) and XL since December 2024."""
    billing.lot_create(customer=cast.acme, amount=5_000_000, reference="ACME", now=datetime(2024, 11, 1, tzinfo=WIB))
    result = apply(cast, operators=["three", "telkomsel", "xl"], now=datetime(2024, 11, 5, 10, 0, tzinfo=WIB))
    rows = {}
    for operator in ("three", "telkomsel", "xl"):
        rows[operator] = activate(registration(result, operator), cast.staff, now=datetime(2024, 12, 10, tzinfo=WIB))
    return rows


def status(row: Registration) -> str:
    row.refresh_from_db()
    return row.status


def test_the_quarter_ends_and_begins_on_holidays() -> None:
    assert not is_working_day(date(2025, 3, 31)) and not is_working_day(date(2025, 4, 1))


def test_fewer_than_100_sms_suspends_three_and_telkomsel_across_a_holiday_boundary_r_sid_6_r_sid_7(  # type: ignore[no-untyped-def]
    cast: Cast, active_all_quarter: dict[str, Registration], eager: None, django_capture_on_commit_callbacks
) -> None:
    three, telkomsel, xl = active_all_quarter["three"], active_all_quarter["telkomsel"], active_all_quarter["xl"]
    sms(cast.acme, "three", 99, datetime(2025, 2, 10, 9, 0, tzinfo=WIB), "t-1")
    sms(cast.acme, "three", 1, datetime(2025, 3, 31, 23, 59, 59, tzinfo=WIB), "t-last")  # on the holiday: Q1
    sms(cast.acme, "telkomsel", 99, datetime(2025, 1, 1, 0, 0, 0, tzinfo=WIB), "tsel-first")  # Q1's first second
    sms(cast.acme, "telkomsel", 1, datetime(2025, 4, 1, 0, 0, 0, tzinfo=WIB), "tsel-q2")  # Q2: too late
    sms(cast.acme, "telkomsel", 50, datetime(2024, 12, 31, 23, 59, 59, tzinfo=WIB), "tsel-q4")  # Q4 2024: too early
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        result = services.quarter_review(now=REVIEW_AT)
    assert result == {"judged": 2, "suspended": 1}  # XL has no quarterly rule
    assert (status(three), status(telkomsel), status(xl)) == ("active", "suspended", "active")
    change = telkomsel.history.latest("id")
    assert (change.old, change.new, change.actor) == ("active", "suspended", None)
    assert "new registration" in change.reason
    assert TrafficReview.objects.get(registration=telkomsel).units == 99
    [email] = mail.outbox
    assert "Telkomsel" in email.subject and "R-SID" not in email.body


def test_a_rerun_suspends_nothing_twice_not_even_after_a_paid_reactivation_r_sid_6(
    cast: Cast, active_all_quarter: dict[str, Registration]
) -> None:
    three = active_all_quarter["three"]
    services.quarter_review(now=REVIEW_AT)
    assert status(three) == "suspended"
    services.registration_reactivation_request(
        customer=cast.acme,
        registration_id=three.pk,
        accept_fees=True,
        requested_by=cast.owner,
        now=datetime(2025, 4, 2, tzinfo=WIB),
    )
    services.registration_move(registration=three, new="active", actor=cast.staff, now=datetime(2025, 4, 3, tzinfo=WIB))
    again = services.quarter_review(quarter=Q1, now=datetime(2025, 4, 5, tzinfo=WIB))
    assert again["suspended"] == 0 and status(three) == "active"
    assert TrafficReview.objects.filter(kind="suspension").count() == 2  # three and telkomsel, once each
    assert cast.acme.ledger_entries.filter(kind="fee").count() == 1


def test_a_registration_activated_during_the_quarter_is_judged_from_the_next_one(cast: Cast) -> None:
    billing.lot_create(customer=cast.acme, amount=5_000_000, reference="ACME", now=datetime(2024, 11, 1, tzinfo=WIB))
    row = registration(apply(cast, operators=["three"], now=datetime(2025, 1, 20, tzinfo=WIB)), "three")
    activate(row, cast.staff, now=datetime(2025, 2, 14, tzinfo=WIB))
    assert services.quarter_review(now=REVIEW_AT) == {"judged": 0, "suspended": 0}
    assert status(row) == "active"
    assert services.quarter_review(now=datetime(2025, 7, 1, 0, 20, tzinfo=WIB))["suspended"] == 1


def test_telkomsels_regular_route_counts_no_otp_traffic_r_sid_7(
    cast: Cast, active_all_quarter: dict[str, Registration]
) -> None:
    """All our SMS are OTP: they count for the premium route only."""
    regular = active_all_quarter["telkomsel"]
    Registration.objects.filter(pk=regular.pk).update(route="regular")
    sms(cast.acme, "telkomsel", 5_000, datetime(2025, 2, 10, tzinfo=WIB), "lots")
    services.quarter_review(now=REVIEW_AT)
    assert status(regular) == "suspended"
    assert TrafficReview.objects.get(registration=regular).units == 0


def test_a_quarter_that_has_not_ended_is_refused(active_all_quarter: dict[str, Registration]) -> None:
    with pytest.raises(ServiceError) as caught:
        services.quarter_review(quarter=date(2025, 4, 1), now=datetime(2025, 6, 30, 23, 59, tzinfo=WIB))
    assert caught.value.code == "invalid_request"


def test_the_warning_comes_two_weeks_before_the_quarter_ends_once_r_sid_6_r_sid_7(  # type: ignore[no-untyped-def]
    cast: Cast, active_all_quarter: dict[str, Registration], eager: None, django_capture_on_commit_callbacks
) -> None:
    sms(cast.acme, "three", 120, datetime(2025, 2, 10, tzinfo=WIB), "three-ok")
    sms(cast.acme, "telkomsel", 30, datetime(2025, 2, 10, tzinfo=WIB), "tsel-low")
    assert policy.warning_day(Q1) == date(2025, 3, 18)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.quarter_warn(now=datetime(2025, 3, 17, 23, 59, tzinfo=WIB)) == {"warned": 0}
        assert services.quarter_warn(now=datetime(2025, 3, 18, 9, 0, tzinfo=WIB)) == {"warned": 1}
        assert services.quarter_warn(now=datetime(2025, 3, 19, 9, 0, tzinfo=WIB)) == {"warned": 0}
    [email] = mail.outbox
    assert email.to == ["billing@acme.test", "owner@acme.test"]
    listed = [line for line in email.body.splitlines() if line.startswith("- ")]
    assert listed == ["- TOKOKU, Telkomsel, jalur premium (OTP): 30 SMS sejauh ini"]  # emails are Indonesian
    assert "2025-03-31" in email.body and "R-SID" not in email.body
    warning = TrafficReview.objects.get(kind="warning")
    assert (warning.registration_id, warning.quarter, warning.units) == (active_all_quarter["telkomsel"].pk, Q1, 30)


def test_the_beat_schedule_runs_the_review_each_quarter_and_the_warning_daily() -> None:
    review = settings.CELERY_BEAT_SCHEDULE["senderids-quarter-review"]
    warn = settings.CELERY_BEAT_SCHEDULE["senderids-quarter-warn"]
    assert review["task"] == "senderids.tasks.quarter_review" and warn["task"] == "senderids.tasks.quarter_warn"
    assert review["schedule"] == crontab(hour=0, minute=20, day_of_month=1, month_of_year="1,4,7,10")
    assert warn["schedule"] == crontab(hour=9, minute=0)


def test_the_tasks_call_the_services(active_all_quarter: dict[str, Registration]) -> None:
    import time_machine

    from senderids import tasks

    with time_machine.travel(REVIEW_AT, tick=False):
        assert tasks.quarter_review.apply().get() == {"judged": 2, "suspended": 2}
        assert tasks.quarter_review.apply(kwargs={"quarter": "2025-01-01"}).get() == {"judged": 0, "suspended": 0}
    with time_machine.travel(datetime(2025, 6, 20, 9, 0, tzinfo=WIB), tick=False):
        assert tasks.quarter_warn.apply().get() == {"warned": 0}  # Three was suspended; XL has no rule
