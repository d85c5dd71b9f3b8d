"""The daily run: lot expiry (R-PRE-5), inactivity forfeiture (R-PRE-6) and
their warnings. Running it twice for the same day changes nothing: every
forfeiture has a unique ledger reference, every warning is recorded."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Customer
from billing import notifications
from billing.models import BillingAccount, Charge, DepositLot, LedgerEntry
from billing.pricing import jakarta_date
from billing.services.invoicing import invoices_remind, invoices_settle_overdue
from otpportal.errors import ServiceError

logger = logging.getLogger(__name__)

WARNING_DAYS = (30, 7)  # R-PRE-6 policy: warn 30 and 7 days before


def start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


def _forfeit_lots(lots: list[DepositLot], *, reference: str, memo: str, now: datetime) -> int:
    """Forfeit what is left in each lot (locked by the caller)."""
    total = 0
    for lot in lots:
        if lot.remaining <= 0 and lot.closed_at is not None:
            continue
        amount = lot.remaining
        _entry, created = LedgerEntry.objects.get_or_create(
            reference=f"{reference}:{lot.pk}",
            defaults={
                "customer_id": lot.customer_id,
                "kind": LedgerEntry.Kind.FORFEITURE,
                "amount": -amount,
                "lot": lot,
                "memo": memo,
                "created_at": now,
            },
        )
        if created:
            DepositLot.objects.filter(pk=lot.pk).update(remaining=0, closed_at=now)
            total += amount
    return total


def lots_expire(*, today: date, now: datetime) -> int:
    """R-PRE-5: forfeit every lot whose active period ended by 00:00 WIB today."""
    cutoff = start_of(today)
    expired_ids = list(
        DepositLot.objects.filter(expires_at__lte=cutoff, closed_at__isnull=True).values_list("id", flat=True)
    )
    count = 0
    for lot_id in expired_ids:
        with transaction.atomic():
            lot = DepositLot.objects.select_for_update().get(pk=lot_id)
            if lot.closed_at is not None:
                continue
            amount = _forfeit_lots([lot], reference="forfeit:expiry", memo="Deposit lot expired (R-PRE-5).", now=now)
            count += 1
            if amount:
                transaction.on_commit(lambda c=lot.customer_id, a=amount: notifications.forfeited(c, a, "expiry"))
    return count


def expiry_warnings(*, today: date) -> int:
    sent = 0
    for days in sorted(WARNING_DAYS):  # nearest first: one email per lot per day
        horizon = start_of(today + timedelta(days=days))
        lots = DepositLot.objects.filter(
            closed_at__isnull=True, remaining__gt=0, expires_at__gt=start_of(today), expires_at__lte=horizon
        ).filter(Q(expiry_warned_days__isnull=True) | Q(expiry_warned_days__gt=days))
        for lot in lots:
            if (
                DepositLot.objects.filter(pk=lot.pk)
                .exclude(expiry_warned_days__lte=days)
                .update(expiry_warned_days=days)
            ):
                transaction.on_commit(lambda i=lot.pk, d=days: notifications.expiry_warning(i, d))
                sent += 1
    return sent


@dataclass(frozen=True)
class Inactivity:
    customer_id: int
    last_activity: datetime
    deadline: date


def inactivity_deadline(last_activity: datetime) -> date:
    """R-PRE-6: the Jakarta day whose 00:10 run forfeits a balance that
    nobody used or topped up since ``last_activity``."""
    return jakarta_date(last_activity) + relativedelta(months=settings.INACTIVITY_FORFEIT_MONTHS)


def _last_activity(customer_ids: list[int]) -> dict[int, datetime]:
    """R-PRE-6: a customer's latest activity is the later of its last send
    (a charge) and its last top-up (a deposit lot). Two aggregate queries."""
    latest: dict[int, datetime] = {}
    for model in (Charge, DepositLot):
        for customer_id, moment in (
            model.objects.filter(customer_id__in=customer_ids)
            .values("customer_id")
            .annotate(last=Max("created_at"))
            .values_list("customer_id", "last")
        ):
            if customer_id not in latest or moment > latest[customer_id]:
                latest[customer_id] = moment
    return latest


def inactivity_deadlines() -> list[Inactivity]:
    """Prepaid customers holding usable money, with the date their balance is
    forfeited if they neither send nor top up (R-PRE-6).

    Policy (Review 8.1): the 6 months (``INACTIVITY_FORFEIT_MONTHS``) run
    from the later of the last send and the last top-up, so a fresh deposit
    is never forfeited for inactivity; activity up to the moment the
    forfeiture is written counts (``_inactivity_forfeit`` checks again under
    the lots' lock), so a late or catch-up run never forfeits a balance that
    was used or topped up since its deadline.
    """
    customer_ids = list(
        Customer.objects.filter(mode=Customer.Mode.PREPAID, deposit_lots__remaining__gt=0, deposit_lots__closed_at=None)
        .order_by()
        .values_list("id", flat=True)
        .distinct()
    )
    latest = _last_activity(customer_ids)
    return [
        Inactivity(customer_id, latest[customer_id], inactivity_deadline(latest[customer_id]))
        for customer_id in sorted(customer_ids)
    ]


def _inactivity_forfeit(item: Inactivity, *, today: date, now: datetime) -> int:
    """Forfeit the customer's remaining balance for inactivity (R-PRE-6) if
    its deadline has still come once its lots are locked; return the amount.

    ``item`` was computed before the lock: a send (which locks these lots)
    or a top-up committed since then moves the deadline, so the deadline is
    read again here, under the lock, inside the transaction that forfeits
    (Review 8.1). A lot created on or after the deadline is never forfeited
    by it.
    """
    with transaction.atomic():
        lots = list(
            DepositLot.objects.select_for_update()
            .filter(customer_id=item.customer_id, remaining__gt=0, closed_at__isnull=True)
            .order_by("expires_at", "id")
        )
        latest = _last_activity([item.customer_id]).get(item.customer_id, item.last_activity)
        deadline = inactivity_deadline(latest)
        if deadline > today:
            if lots:
                logger.info("R-PRE-6: customer %s active on %s; nothing forfeited", item.customer_id, latest)
            return 0
        lots = [lot for lot in lots if lot.created_at < start_of(deadline)]
        amount = _forfeit_lots(
            lots,
            reference=f"forfeit:inactive:{deadline:%Y%m%d}",
            memo=f"No sends or top-ups for {settings.INACTIVITY_FORFEIT_MONTHS} months (R-PRE-6).",
            now=now,
        )
        if amount:
            transaction.on_commit(lambda c=item.customer_id, a=amount: notifications.forfeited(c, a, "inactivity"))
    return amount


def _inactivity_warn(item: Inactivity, *, days_left: int) -> bool:
    """R-PRE-6 policy: warn 30 and 7 days before the deadline, once each.
    The record is keyed by the deadline, so a deadline moved by a send or a
    top-up gets its own warnings."""
    for days in sorted(WARNING_DAYS):  # the nearest threshold that applies
        if days_left > days:
            continue
        key = f"{item.deadline:%Y-%m-%d}:{days}"
        account, _created = BillingAccount.objects.get_or_create(customer_id=item.customer_id)
        already = account.inactivity_warned_for
        if already.startswith(f"{item.deadline:%Y-%m-%d}:") and int(already.split(":")[1]) <= days:
            return False
        if not BillingAccount.objects.filter(pk=account.pk, inactivity_warned_for=already).update(
            inactivity_warned_for=key
        ):
            return False  # another run warned meanwhile
        balance = sum(
            DepositLot.objects.filter(
                customer_id=item.customer_id, remaining__gt=0, closed_at__isnull=True
            ).values_list("remaining", flat=True)
        )
        transaction.on_commit(
            lambda c=item.customer_id, d=item.deadline, n=days_left, b=balance: notifications.inactivity_warning(
                c, d.isoformat(), n, b
            )
        )
        return True
    return False


def inactivity_run(*, today: date, now: datetime) -> tuple[int, int]:
    warned = forfeited = 0
    for item in inactivity_deadlines():
        days_left = (item.deadline - today).days
        if days_left <= 0:
            if _inactivity_forfeit(item, today=today, now=now):
                forfeited += 1
        elif _inactivity_warn(item, days_left=days_left):
            warned += 1
    return warned, forfeited


def daily_run(*, today: date | None = None, now: datetime | None = None) -> dict[str, int]:
    """`run_daily`: prepaid expiry, warnings and inactivity forfeiture
    (R-PRE-5, R-PRE-6); postpaid invoice reminders (R-POST-5) and overdue
    invoices paid from the guarantee or suspended (R-POST-6). Idempotent per day.

    ``today`` may be a past day (catch-up) but never a day after the Jakarta
    date of ``now``: forfeiture is irreversible, and a future day would
    forfeit every lot that expires before it (Review 8.3).
    """
    now = now or timezone.now()
    real_today = jakarta_date(now)
    today = today or real_today
    if today > real_today:
        raise ServiceError(
            "invalid_request",
            _(
                "The daily run cannot run for %(date)s, after today (%(today)s, Asia/Jakarta): "
                "forfeiture is irreversible."
            )
            % {"date": f"{today:%Y-%m-%d}", "today": f"{real_today:%Y-%m-%d}"},
            details={"date": [_("Must not be after today.")]},
        )
    expired = lots_expire(today=today, now=now)
    warned_lots = expiry_warnings(today=today)
    warned_inactive, forfeited_inactive = inactivity_run(today=today, now=now)
    overdue = invoices_settle_overdue(today=today, now=now)  # R-POST-6
    summary = {
        "lots_expired": expired,
        "expiry_warnings": warned_lots,
        "inactivity_warnings": warned_inactive,
        "inactivity_forfeitures": forfeited_inactive,
        "invoice_reminders": invoices_remind(today=today, now=now),  # R-POST-5
        "invoices_paid_from_guarantee": overdue.settled,
        "invoices_still_owed": overdue.partly,
        "suspended_for_nonpayment": overdue.suspended,
    }
    logger.info("run_daily %s: %s", today, summary)
    return summary
