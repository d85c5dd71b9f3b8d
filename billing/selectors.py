"""Read queries on money, always scoped by customer."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, QuerySet, Sum, Window
from django.utils import timezone

from accounts.models import Customer
from billing.models import BillingAccount, Charge, DepositLot, LedgerEntry, TopUpRequest
from billing.pricing import jakarta_date, table_in_force


def usable_lots(*, customer: Customer, now: datetime | None = None) -> QuerySet[DepositLot]:
    now = now or timezone.now()
    return DepositLot.objects.filter(
        customer=customer, remaining__gt=0, expires_at__gt=now, closed_at__isnull=True
    ).order_by("expires_at", "id")


def balance(*, customer: Customer, now: datetime | None = None) -> int:
    return int(usable_lots(customer=customer, now=now).aggregate(total=Sum("remaining"))["total"] or 0)


def lots(*, customer: Customer) -> QuerySet[DepositLot]:
    return DepositLot.objects.filter(customer=customer).order_by("-created_at", "-id")


def ledger_with_running_balance(*, customer: Customer) -> QuerySet[LedgerEntry]:
    """The ledger, newest first, each entry annotated with ``running_balance``
    (the balance after it) by a window function in the database, so a page
    reads one page of rows, not the whole ledger."""
    return (
        LedgerEntry.objects.filter(customer=customer)
        .select_related("lot", "charge")
        .annotate(running_balance=Window(Sum("amount"), order_by=[F("created_at").asc(), F("id").asc()]))
        .order_by("-created_at", "-id")
    )


def ledger_iter(*, customer: Customer) -> Iterator[LedgerEntry]:
    return (
        LedgerEntry.objects.filter(customer=customer)
        .select_related("lot", "charge")
        .order_by("created_at", "id")
        .iterator(chunk_size=2000)
    )


@dataclass(frozen=True)
class MonthUsage:
    units: int
    tier: int
    amount: int


def postpaid_month(*, customer: Customer, now: datetime | None = None) -> MonthUsage:
    """The running month valued at the tier its total reaches (R-POST-3)."""
    now = now or timezone.now()
    local = timezone.localtime(now)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    rows = (
        Charge.objects.filter(customer=customer, created_at__gte=start, reversed_at__isnull=True)
        .values("channel", "operator")
        .annotate(units=Sum("units"))
    )
    table = table_in_force(jakarta_date(now))
    units = sum(r["units"] for r in rows)
    tier = table.postpaid_tier(units)
    amount = sum(table.unit_price(tier, r["channel"], r["operator"]) * r["units"] for r in rows)
    return MonthUsage(units=units, tier=tier, amount=amount)


def billing_account(*, customer: Customer) -> BillingAccount | None:
    return BillingAccount.objects.filter(customer=customer).first()


def topup_requests(*, customer: Customer) -> QuerySet[TopUpRequest]:
    return TopUpRequest.objects.filter(customer=customer).order_by("-created_at")
