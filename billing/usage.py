"""Pure helpers on billing months and postpaid usage values (no queries)."""

from __future__ import annotations

from datetime import date, datetime, time

from dateutil.relativedelta import relativedelta
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import Channel
from billing.pricing import PriceTable, jakarta_date
from otpportal.errors import ServiceError


def month_of(moment: datetime) -> date:
    """The first day of the Asia/Jakarta month that ``moment`` falls in."""
    return jakarta_date(moment).replace(day=1)


def month_not_ended(period: date) -> ServiceError:
    """The refusal to close (invoice, state) a month before it has ended."""
    return ServiceError(
        "month_not_ended",
        _("%(month)s has not ended yet; it can be closed from %(date)s.")
        % {"month": f"{period:%Y-%m}", "date": f"{period + relativedelta(months=1):%Y-%m-%d}"},
        details={"month": [_("Not ended.")]},
    )


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """[start, end) of a Jakarta month as aware datetimes."""
    first = month.replace(day=1)
    tz = timezone.get_default_timezone()
    start = timezone.make_aware(datetime.combine(first, time.min), tz)
    end = timezone.make_aware(datetime.combine(first + relativedelta(months=1), time.min), tz)
    return start, end


def route_key(channel: str, operator: str) -> str:
    """How the usage counter names a price: SMS per operator, WhatsApp per channel (R-OP-1)."""
    return f"{channel}:{operator if channel == Channel.SMS else ''}"


def month_value(table: PriceTable, units_by_route: dict[str, int], tier: int) -> int:
    """A month's units valued at one tier's prices (R-POST-2, R-POST-3)."""
    total = 0
    for key, units in units_by_route.items():
        if units:
            channel, _, operator = key.partition(":")
            total += table.unit_price(tier, channel, operator) * int(units)
    return total


def previous_month(today: date) -> date:
    """The first day of the month before ``today``'s."""
    return today.replace(day=1) - relativedelta(months=1)
