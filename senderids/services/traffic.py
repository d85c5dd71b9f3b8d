"""The traffic rules of custom sender IDs: the monthly minimum (R-SID-5,
a step of billing's month-end run) and the quarterly minimum (R-SID-6
Three, R-SID-7 Telkomsel), with its warning two weeks before a quarter ends.

SMS are counted from billing's own charges (``sms_units_by_operator``:
billed units, reversed charges left out, test keys never charged), one
``GROUP BY`` per run. Every function here is idempotent: a rerun for the
same month or quarter bills, suspends and emails nothing twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.models import Customer
from billing import selectors as billing_selectors
from billing import services as billing
from billing.models import Operator
from billing.pricing import jakarta_date
from billing.usage import month_bounds
from otpportal.errors import ServiceError
from senderids import notifications, policy, selectors
from senderids.models import Registration, TrafficReview
from senderids.services.registrations import registration_move

logger = logging.getLogger(__name__)
S = Registration.Status

REASON_THREE = "Fewer than 100 SMS in the quarter; it can be reactivated for a fee."
REASON_TELKOMSEL = "Fewer than 100 SMS on this route in the quarter; it needs a new registration."
MSG_QUARTER_NOT_ENDED = gettext_noop("That quarter has not ended yet.")


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


# --- R-SID-5: the monthly minimum, at month end ---------------------------------------


def shortfalls_charge(*, month: date, now: datetime) -> dict[str, int]:
    """Bill each customer that held an active sender ID on the month's first
    day (policy: the month a sender ID is activated in is not counted) and
    sent fewer than 1.000 SMS in the month (all operators, billed units) for
    the shortfall: its units at the customer's current Telkomsel SMS price
    (``billing.services.quote``; postpaid: at the tier the month reached
    with the shortfall counted). Prepaid: drawn from the deposit as far as
    it goes; postpaid: a line on that month's invoice. Once per customer and
    month (the fee's reference); registered with billing's month-end run,
    which calls it before the invoices are built."""
    month = month.replace(day=1)
    start, end = month_bounds(month)
    holders = sorted(set(selectors.active_at(start).values_list("customer_id", flat=True)))
    summary = {"customers": 0, "amount": 0}
    if not holders:
        return summary
    sent: dict[int, int] = defaultdict(int)
    for (customer_id, _operator), units in billing_selectors.sms_units_by_operator(
        start=start, end=end, customer_ids=holders
    ).items():
        sent[customer_id] += units
    for customer in Customer.objects.filter(pk__in=holders).exclude(status=Customer.Status.TERMINATED).order_by("pk"):
        short = policy.MONTHLY_MINIMUM_SMS - sent[customer.pk]
        if short <= 0:
            continue
        postpaid = customer.mode == Customer.Mode.POSTPAID
        priced_at = end - timedelta(microseconds=1) if postpaid else now
        try:
            price = billing.quote(
                customer=customer, channel="sms", operator=Operator.TELKOMSEL, units=short, now=priced_at
            )
        except ServiceError:
            logger.exception("sender-ID shortfall of %s for %s could not be priced", customer.slug, month)
            continue
        label = f"{month:%Y-%m}"
        charged = billing.fee_charge(
            customer=customer,
            amount=price.price,
            reference=f"sid:shortfall:{customer.pk}:{label}",
            description=f"Sender ID monthly minimum {label}: {short} SMS short of {policy.MONTHLY_MINIMUM_SMS}",
            kind="shortfall",
            month=month if postpaid else None,
            allow_partial=not postpaid,
            now=now,
        )
        if charged.already:
            continue
        summary["customers"] += 1
        summary["amount"] += price.price
        notifications.shortfall_charged(
            customer.pk,
            month=label,
            sent=sent[customer.pk],
            short=short,
            unit_price=price.unit_price,
            amount=price.price,
            drawn=charged.drawn,
            invoiced=charged.invoiced,
        )
    return summary


# --- R-SID-6, R-SID-7: the quarterly minimum --------------------------------------------


def _judged(quarter_start: datetime) -> list[Registration]:
    """Registrations the quarter is judged for: Three and Telkomsel ones that
    were active when it began (policy: a registration activated during a
    quarter is first judged on the next one) and are active still."""
    return list(
        selectors.active_at(quarter_start)
        .filter(operator__in=policy.QUARTERLY_OPERATORS, status=S.ACTIVE)
        .order_by("customer_id", "pk")
    )


def _units(registration: Registration, counts: dict[tuple[int, str], int]) -> int:
    """SMS of a registration's operator. Every SMS of this platform is an OTP
    (R-CH-3), so Telkomsel's traffic is its premium route's; the regular
    (notification) route carries none (R-SID-7)."""
    if registration.route == Registration.Route.REGULAR:
        return 0
    return counts.get((registration.customer_id, registration.operator), 0)


def quarter_review(*, quarter: date | None = None, now: datetime | None = None) -> dict[str, int]:
    """At the start of a quarter, judge the one that ended: a Three
    registration (R-SID-6) or a Telkomsel route (R-SID-7) with fewer than 100
    SMS in it is suspended (Three can be reactivated for its fee; Telkomsel
    needs a new registration). Once per registration and quarter: a
    registration reactivated since is not suspended again by a rerun."""
    now = now or timezone.now()
    today = jakarta_date(now)
    quarter = policy.quarter_of(quarter) if quarter else policy.previous_quarter(today)
    following = policy.next_quarter(quarter)
    if following > today:
        raise ServiceError(
            "invalid_request", _(MSG_QUARTER_NOT_ENDED), details={"quarter": [policy.quarter_label(quarter)]}
        )
    start, end = _midnight(quarter), _midnight(following)
    registrations = [
        r
        for r in _judged(start)
        if not TrafficReview.objects.filter(
            registration=r, quarter=quarter, kind=TrafficReview.Kind.SUSPENSION
        ).exists()
    ]
    summary = {"judged": len(registrations), "suspended": 0}
    if not registrations:
        return summary
    counts = billing_selectors.sms_units_by_operator(
        start=start, end=end, customer_ids=sorted({r.customer_id for r in registrations})
    )
    for registration in registrations:
        units = _units(registration, counts)
        if units >= policy.QUARTERLY_MINIMUM_SMS:
            continue
        reason = REASON_TELKOMSEL if registration.operator == Operator.TELKOMSEL else REASON_THREE
        try:
            with transaction.atomic():
                TrafficReview.objects.create(
                    registration=registration,
                    quarter=quarter,
                    kind=TrafficReview.Kind.SUSPENSION,
                    units=units,
                    created_at=now,
                )
                registration_move(registration=registration, new=S.SUSPENDED, note=reason, actor=None, now=now)
        except (IntegrityError, ServiceError) as error:  # a concurrent run did it, or staff moved it meanwhile
            logger.info("quarter review of registration %s skipped: %s", registration.pk, error)
            continue
        summary["suspended"] += 1
    return summary


def quarter_warn(*, now: datetime | None = None) -> dict[str, int]:
    """From two weeks before a quarter ends, warn each customer whose judged
    registrations (see ``quarter_review``) have fewer than 100 SMS so far in
    the quarter, once per registration and quarter. Runs daily; before the
    warning day it does nothing."""
    now = now or timezone.now()
    today = jakarta_date(now)
    quarter = policy.quarter_of(today)
    if today < policy.warning_day(quarter):
        return {"warned": 0}
    start = _midnight(quarter)
    registrations = [
        r
        for r in _judged(start)
        if not TrafficReview.objects.filter(registration=r, quarter=quarter, kind=TrafficReview.Kind.WARNING).exists()
    ]
    if not registrations:
        return {"warned": 0}
    counts = billing_selectors.sms_units_by_operator(
        start=start, end=now, customer_ids=sorted({r.customer_id for r in registrations})
    )
    by_customer: dict[int, list[int]] = defaultdict(list)
    units_of: dict[str, int] = {}
    for registration in registrations:
        units = _units(registration, counts)
        if units >= policy.QUARTERLY_MINIMUM_SMS:
            continue
        try:
            with transaction.atomic():
                TrafficReview.objects.create(
                    registration=registration,
                    quarter=quarter,
                    kind=TrafficReview.Kind.WARNING,
                    units=units,
                    created_at=now,
                )
        except IntegrityError:
            continue
        by_customer[registration.customer_id].append(registration.pk)
        units_of[str(registration.pk)] = units
    following = policy.next_quarter(quarter)
    for customer_id, ids in by_customer.items():
        facts: dict[str, Any] = {
            "quarter": policy.quarter_label(quarter),
            "quarter_end": (following - timedelta(days=1)).isoformat(),
            "minimum": policy.QUARTERLY_MINIMUM_SMS,
            "units": {key: units_of[key] for key in map(str, ids)},
        }
        notifications.quarter_warning(customer_id, ids, **facts)
    return {"warned": sum(len(ids) for ids in by_customer.values())}
