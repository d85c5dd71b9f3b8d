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
from django.db.models import Max, Min, Q
from django.utils import timezone

from accounts.models import Customer
from billing import notifications
from billing.models import BillingAccount, Charge, DepositLot, LedgerEntry
from billing.pricing import jakarta_date

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
        _, created = LedgerEntry.objects.get_or_create(
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


def inactivity_deadlines() -> list[Inactivity]:
    """Prepaid customers holding usable money, with the date their balance is
    forfeited if nothing is sent (R-PRE-6): 6 months after the last send, or
    after the first top-up when they never sent."""
    rows = (
        Customer.objects.filter(mode=Customer.Mode.PREPAID, deposit_lots__remaining__gt=0, deposit_lots__closed_at=None)
        .annotate(first_lot=Min("deposit_lots__created_at"))
        .values("id", "first_lot")
        .distinct()
    )
    last_sends = dict(
        Charge.objects.filter(customer_id__in=[r["id"] for r in rows])
        .values("customer_id")
        .annotate(last=Max("created_at"))
        .values_list("customer_id", "last")
    )
    result = []
    for row in rows:
        last = last_sends.get(row["id"]) or row["first_lot"]
        deadline = jakarta_date(last) + relativedelta(months=settings.INACTIVITY_FORFEIT_MONTHS)
        result.append(Inactivity(row["id"], last, deadline))
    return result


def inactivity_run(*, today: date, now: datetime) -> tuple[int, int]:
    warned = forfeited = 0
    for item in inactivity_deadlines():
        days_left = (item.deadline - today).days
        if days_left <= 0:
            with transaction.atomic():
                lots = list(
                    DepositLot.objects.select_for_update()
                    .filter(customer_id=item.customer_id, remaining__gt=0, closed_at__isnull=True)
                    .order_by("expires_at", "id")
                )
                amount = _forfeit_lots(
                    lots,
                    reference=f"forfeit:inactive:{item.deadline:%Y%m%d}",
                    memo=f"No sends for {settings.INACTIVITY_FORFEIT_MONTHS} months (R-PRE-6).",
                    now=now,
                )
                if amount:
                    forfeited += 1
                    transaction.on_commit(
                        lambda c=item.customer_id, a=amount: notifications.forfeited(c, a, "inactivity")
                    )
            continue
        for days in sorted(WARNING_DAYS):  # the nearest threshold that applies
            if days_left <= days:
                key = f"{item.deadline:%Y-%m-%d}:{days}"
                account, _ = BillingAccount.objects.get_or_create(customer_id=item.customer_id)
                already = account.inactivity_warned_for
                if already.startswith(f"{item.deadline:%Y-%m-%d}:") and int(already.split(":")[1]) <= days:
                    break
                BillingAccount.objects.filter(pk=account.pk).update(inactivity_warned_for=key)
                balance = sum(
                    DepositLot.objects.filter(
                        customer_id=item.customer_id, remaining__gt=0, closed_at__isnull=True
                    ).values_list("remaining", flat=True)
                )
                transaction.on_commit(
                    lambda c=item.customer_id, d=item.deadline, n=days_left, b=balance: (
                        notifications.inactivity_warning(c, d.isoformat(), n, b)
                    )
                )
                warned += 1
                break
    return warned, forfeited


def daily_run(*, today: date | None = None, now: datetime | None = None) -> dict[str, int]:
    """`run_daily`: expiry, warnings, inactivity forfeiture. Idempotent per day."""
    now = now or timezone.now()
    today = today or jakarta_date(now)
    expired = lots_expire(today=today, now=now)
    warned_lots = expiry_warnings(today=today)
    warned_inactive, forfeited_inactive = inactivity_run(today=today, now=now)
    summary = {
        "lots_expired": expired,
        "expiry_warnings": warned_lots,
        "inactivity_warnings": warned_inactive,
        "inactivity_forfeitures": forfeited_inactive,
    }
    logger.info("run_daily %s: %s", today, summary)
    return summary
