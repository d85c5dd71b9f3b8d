"""The month-end run (`close_month`, beat at 00:05 WIB on the 1st).

Other apps bill their own month-end charges through billing before the
invoices are built (the sender-ID shortfall, R-SID-5), so that a postpaid
customer's shortfall is a line on the same month's invoice. They register
a step here from their AppConfig.ready(); billing never imports them
(architecture: senderids → billing, never the reverse).

Every step must be idempotent for a month: the whole run is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from django.utils import timezone

from billing.pricing import jakarta_date
from billing.usage import month_not_ended, previous_month

Step = Callable[..., Any]
_steps: dict[str, Step] = {}


def register_step(name: str, step: Step) -> None:
    """Run ``step(month=<first day>, now=<datetime>)`` before the invoices."""
    _steps[name] = step


def month_end_run(*, month: date | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Registered steps, then invoices (R-POST-3), then prepaid statements.
    A month that has not ended is refused (``month_not_ended``) before any
    step runs."""
    from billing import services

    now = now or timezone.now()
    today = jakarta_date(now)
    period = (month or previous_month(today)).replace(day=1)
    if period + relativedelta(months=1) > today:
        raise month_not_ended(period)
    result: dict[str, Any] = {"month": period.strftime("%Y-%m")}
    for name, step in sorted(_steps.items()):
        result[name] = step(month=period, now=now)
    summary = services.month_close(month=period, now=now)
    result.update(invoices=summary.issued, skipped=summary.skipped)
    result["statements"] = services.statements_issue(month=period, now=now)
    return result
