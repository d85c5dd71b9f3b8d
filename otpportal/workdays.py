"""Indonesian working days (R-POST-7, R-SID-4).

A working day is a Monday to Friday that is not a public holiday in
Indonesia and, unless ``WORKING_DAYS_SKIP_COLLECTIVE_LEAVE`` is off, not a
collective-leave day (cuti bersama). The calendar is the ``holidays``
package's (``language="id"``): its ``public`` category holds the national
holidays, its ``government`` category the collective-leave days.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays
from django.conf import settings


@lru_cache(maxsize=64)
def _days_off(year: int, collective_leave: bool) -> dict[date, str]:
    categories = ("public", "government") if collective_leave else ("public",)
    return dict(holidays.country_holidays("ID", years=year, language="id", categories=categories))


def day_off_name(day: date) -> str | None:
    """The holiday's name when ``day`` is a holiday (or collective leave)."""
    return _days_off(day.year, settings.WORKING_DAYS_SKIP_COLLECTIVE_LEAVE).get(day)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day_off_name(day) is None


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days after ``start`` (``start`` itself not
    counted): add_working_days(Friday, 1) is the next working Monday."""
    if days < 0:
        raise ValueError("days must not be negative")
    current = start
    left = days
    while left:
        current += timedelta(days=1)
        if is_working_day(current):
            left -= 1
    return current


def working_days_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 if end <= start)."""
    count = 0
    current = start
    while current < end:
        current += timedelta(days=1)
        if is_working_day(current):
            count += 1
    return count
