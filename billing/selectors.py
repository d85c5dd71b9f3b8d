"""Read queries on money, always scoped by customer."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db.models import Count, F, Max, QuerySet, Sum, Window
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Customer
from billing.models import (
    BillingAccount,
    Channel,
    Charge,
    DepositLot,
    Guarantee,
    GuaranteeRefund,
    Invoice,
    InvoiceStatusChange,
    LedgerEntry,
    MonthlyUsage,
    Statement,
    TopUpRequest,
)
from billing.pricing import jakarta_date, table_in_force
from billing.usage import month_of, month_value
from otpportal.errors import ServiceError


def usable_lots(*, customer: Customer, now: datetime | None = None) -> QuerySet[DepositLot]:
    now = now or timezone.now()
    return DepositLot.objects.filter(
        customer=customer, remaining__gt=0, expires_at__gt=now, closed_at__isnull=True
    ).order_by("expires_at", "id")


def balance(*, customer: Customer, now: datetime | None = None) -> int:
    return int(usable_lots(customer=customer, now=now).aggregate(total=Sum("remaining"))["total"] or 0)


def lots(*, customer: Customer) -> QuerySet[DepositLot]:
    return DepositLot.objects.filter(customer=customer).order_by("-created_at", "-id")


def ledger_book(customer: Customer) -> str:
    """The book a customer's money lives in: prepaid deposits or the postpaid guarantee."""
    return LedgerEntry.Book.GUARANTEE if customer.mode == Customer.Mode.POSTPAID else LedgerEntry.Book.DEPOSIT


def ledger_with_running_balance(*, customer: Customer) -> QuerySet[LedgerEntry]:
    """The customer's book of the ledger, newest first, each entry annotated
    with ``running_balance`` (the balance after it) by a window function in
    the database, so a page reads one page of rows, not the whole ledger."""
    return (
        LedgerEntry.objects.filter(customer=customer, book=ledger_book(customer))
        .select_related("lot", "charge")
        .annotate(running_balance=Window(Sum("amount"), order_by=[F("created_at").asc(), F("id").asc()]))
        .order_by("-created_at", "-id")
    )


def ledger_iter(*, customer: Customer) -> Iterator[LedgerEntry]:
    return (
        LedgerEntry.objects.filter(customer=customer, book=ledger_book(customer))
        .select_related("lot", "charge")
        .order_by("created_at", "id")
        .iterator(chunk_size=2000)
    )


@dataclass(frozen=True)
class MonthUsage:
    month: date
    units: int
    tier: int
    amount: int


def postpaid_month(*, customer: Customer, now: datetime | None = None) -> MonthUsage:
    """The running month valued at the tier its units reach so far
    (R-POST-2): one read of the month's counter row, never a sum of charges."""
    now = now or timezone.now()
    month = month_of(now)
    usage = MonthlyUsage.objects.filter(customer=customer, month=month).first()
    table = table_in_force(jakarta_date(now))
    units = usage.units if usage else 0
    tier = table.postpaid_tier(units)
    amount = month_value(table, usage.units_by_route, tier) if usage else 0
    return MonthUsage(month=month, units=units, tier=tier, amount=amount)


def guarantee(*, customer: Customer) -> Guarantee | None:
    """R-POST-1: the customer's guarantee deposit row (None before the first)."""
    return Guarantee.objects.filter(customer=customer).first()


@dataclass(frozen=True)
class PostpaidPosition:
    """What a postpaid customer sees: the guarantee, the cap and the month."""

    guarantee: int
    cap: int
    cap_percent: int
    month: MonthUsage

    @property
    def cap_left(self) -> int:
        return max(0, self.cap - self.month.amount)

    @property
    def used_percent(self) -> int:
        return 100 if self.cap <= 0 else min(100, self.month.amount * 100 // self.cap)


def postpaid_position(*, customer: Customer, now: datetime | None = None) -> PostpaidPosition:
    row = guarantee(customer=customer)
    held = row.held if row else 0
    percent = row.cap_percent if row else settings.POSTPAID_CAP_PERCENT
    return PostpaidPosition(
        guarantee=held,
        cap=held * percent // 100,
        cap_percent=percent,
        month=postpaid_month(customer=customer, now=now),
    )


def billing_account(*, customer: Customer) -> BillingAccount | None:
    return BillingAccount.objects.filter(customer=customer).first()


def topup_requests(*, customer: Customer) -> QuerySet[TopUpRequest]:
    return TopUpRequest.objects.filter(customer=customer).order_by("-created_at")


# --- Invoices and statements (R-POST-3 … R-POST-8) -----------------------------------


def invoices(*, customer: Customer) -> QuerySet[Invoice]:
    """The customer's invoices and credit notes, newest first."""
    return Invoice.objects.filter(customer=customer).select_related("credit_note_for").order_by("-issue_date", "-id")


def normalise_invoice_number(number: str) -> str:
    """``INV-2026-000123`` (URL-friendly) or ``INV/2026/000123`` → ``INV/2026/000123``."""
    return (number or "").strip().upper().replace("-", "/")


def invoice(*, customer: Customer, number: str) -> Invoice:
    """One of the customer's invoices by number; another customer's is ``not_found``."""
    row = (
        Invoice.objects.filter(customer=customer, number=normalise_invoice_number(number))
        .select_related("customer", "credit_note_for")
        .prefetch_related("lines", "payments")
        .first()
    )
    if row is None:
        raise ServiceError("not_found", _("No such invoice."))
    return row


def statements(*, customer: Customer) -> QuerySet[Statement]:
    return Statement.objects.filter(customer=customer).order_by("-period")


def statement(*, customer: Customer, period: date) -> Statement:
    row = Statement.objects.filter(customer=customer, period=period).select_related("customer").first()
    if row is None:
        raise ServiceError("not_found", _("No such statement."))
    return row


# --- The postpaid dashboard (R-POST-1, R-POST-2, R-POST-6, R-POST-7) -------------------


@dataclass(frozen=True)
class OpenInvoices:
    """A customer's invoices still owed: how many, and how much in all."""

    count: int
    outstanding: int


def open_invoices(*, customer: Customer) -> OpenInvoices:
    """One aggregate over the customer's issued, unpaid invoices (credit notes left out)."""
    row = Invoice.objects.filter(customer=customer, kind=Invoice.Kind.INVOICE, status=Invoice.Status.ISSUED).aggregate(
        count=Count("id"), owed=Sum(F("total") - F("paid_amount"))
    )
    return OpenInvoices(count=int(row["count"] or 0), outstanding=int(row["owed"] or 0))


def guarantee_refund(*, customer: Customer) -> GuaranteeRefund | None:
    """R-POST-7: the refund of a terminated customer's guarantee, if any."""
    return GuaranteeRefund.objects.filter(customer=customer).first()


@dataclass(frozen=True)
class PostpaidOverview:
    """Everything the postpaid balance page shows, read once."""

    position: PostpaidPosition
    guarantee_active: bool  # R-POST-1: sending needs it
    suspended_for_nonpayment: bool  # R-POST-6
    warn_percent: int  # R-POST-2: POSTPAID_CAP_WARN_PERCENT
    open_invoices: OpenInvoices
    refund: GuaranteeRefund | None  # R-POST-7

    @property
    def near_cap(self) -> bool:
        cap = self.position.cap
        return cap > 0 and self.position.month.amount * 100 >= cap * self.warn_percent

    @property
    def cap_reached(self) -> bool:
        return self.position.cap > 0 and self.position.month.amount >= self.position.cap


def postpaid_overview(*, customer: Customer, now: datetime | None = None) -> PostpaidOverview:
    """The guarantee and its cap, the month so far, and what stops sending."""
    now = now or timezone.now()
    row = guarantee(customer=customer)
    held = row.held if row else 0
    percent = row.cap_percent if row else settings.POSTPAID_CAP_PERCENT
    position = PostpaidPosition(
        guarantee=held,
        cap=held * percent // 100,
        cap_percent=percent,
        month=postpaid_month(customer=customer, now=now),
    )
    account = billing_account(customer=customer)
    return PostpaidOverview(
        position=position,
        guarantee_active=bool(row and row.activated_at and row.held > 0),
        suspended_for_nonpayment=bool(account and account.suspended_for_nonpayment_at),
        warn_percent=settings.POSTPAID_CAP_WARN_PERCENT,
        open_invoices=open_invoices(customer=customer),
        refund=guarantee_refund(customer=customer) if customer.status == Customer.Status.TERMINATED else None,
    )


def credit_note_of(*, invoice: Invoice) -> Invoice | None:
    """The credit note that cancels a void invoice (same customer)."""
    return Invoice.objects.filter(customer_id=invoice.customer_id, credit_note_for=invoice).first()


def invoice_history(*, invoice: Invoice) -> QuerySet[InvoiceStatusChange]:
    """An invoice's status moves, oldest first."""
    return InvoiceStatusChange.objects.filter(invoice=invoice).order_by("created_at", "id")


# --- For other apps' rules (senderids: R-SID-3, R-SID-5 … R-SID-7) ---------------------


def sms_units_by_operator(
    *, start: datetime, end: datetime, customer_ids: list[int] | None = None
) -> dict[tuple[int, str], int]:
    """SMS units billed in [start, end) per (customer, operator), reversed
    charges left out: one ``GROUP BY`` over billing's own usage rows."""
    rows = Charge.objects.filter(
        channel=Channel.SMS, created_at__gte=start, created_at__lt=end, reversed_at__isnull=True
    )
    if customer_ids is not None:
        rows = rows.filter(customer_id__in=customer_ids)
    return {
        (customer_id, operator): int(units)
        for customer_id, operator, units in rows.values("customer_id", "operator")
        .annotate(units=Sum("units"))
        .order_by()
        .values_list("customer_id", "operator", "units")
    }


def largest_deposit(*, customer: Customer) -> int:
    """The largest single top-up a prepaid customer ever made (R-SID-3)."""
    return int(
        LedgerEntry.objects.filter(
            customer=customer, book=LedgerEntry.Book.DEPOSIT, kind=LedgerEntry.Kind.DEPOSIT
        ).aggregate(m=Max("amount"))["m"]
        or 0
    )


def guarantee_active(*, customer: Customer) -> bool:
    """A postpaid customer that has held the minimum guarantee and still holds some (R-POST-1)."""
    row = Guarantee.objects.filter(customer=customer).only("held", "activated_at").first()
    return bool(row and row.activated_at and row.held > 0)


# --- The dashboard's home page (R-PRE-2, R-PRE-5, R-PRE-6, R-POST-2, R-POST-5) -------------

EXPIRY_SOON_DAYS = 30  # the farthest expiry warning of the daily run (daily.WARNING_DAYS)
INACTIVITY_SOON_DAYS = 30  # likewise for the inactivity forfeiture (R-PRE-6)
HOME_LOTS = 5


@dataclass(frozen=True)
class PrepaidSummary:
    """A prepaid customer's money as the home page shows it, read in a few queries."""

    balance: int
    lots: list[DepositLot]  # usable lots, the one drawn first first (R-PRE-2), at most HOME_LOTS
    lot_count: int
    threshold: int  # the low-balance alert threshold, 0 when off
    expiring: list[DepositLot]  # usable lots expiring within EXPIRY_SOON_DAYS (R-PRE-5)
    inactivity_deadline: date | None  # R-PRE-6: the day the balance is forfeited without activity

    @property
    def next_lot(self) -> DepositLot | None:
        return self.lots[0] if self.lots else None

    @property
    def low(self) -> bool:
        return self.threshold > 0 and self.balance < self.threshold


def last_activity(*, customer: Customer) -> datetime | None:
    """R-PRE-6: the later of the customer's last send (a charge) and last
    top-up (a lot). Two indexed aggregates."""
    moments = [
        Charge.objects.filter(customer=customer).aggregate(last=Max("created_at"))["last"],
        DepositLot.objects.filter(customer=customer).aggregate(last=Max("created_at"))["last"],
    ]
    return max((m for m in moments if m is not None), default=None)


def prepaid_summary(*, customer: Customer, now: datetime | None = None) -> PrepaidSummary:
    """Balance, usable lots with the next expiry, the low-balance threshold,
    lots about to expire and the inactivity deadline (R-PRE-2, R-PRE-5, R-PRE-6)."""
    now = now or timezone.now()
    usable = list(usable_lots(customer=customer, now=now))
    account = billing_account(customer=customer)
    horizon = now + timedelta(days=EXPIRY_SOON_DAYS)
    deadline = None
    if usable:
        latest = last_activity(customer=customer)
        if latest is not None:
            deadline = jakarta_date(latest) + relativedelta(months=settings.INACTIVITY_FORFEIT_MONTHS)
    return PrepaidSummary(
        balance=sum(lot.remaining for lot in usable),
        lots=usable[:HOME_LOTS],
        lot_count=len(usable),
        threshold=account.low_balance_threshold if account else 0,
        expiring=[lot for lot in usable if lot.expires_at <= horizon],
        inactivity_deadline=deadline,
    )


def inactivity_days_left(summary: PrepaidSummary, *, now: datetime) -> int | None:
    """Days before the inactivity forfeiture, when it is near enough to warn about (R-PRE-6)."""
    if summary.inactivity_deadline is None:
        return None
    days = (summary.inactivity_deadline - jakarta_date(now)).days
    return days if days <= INACTIVITY_SOON_DAYS else None


def overdue_invoices(*, customer: Customer, now: datetime | None = None) -> OpenInvoices:
    """Invoices still owed after their due date (R-POST-5): one aggregate."""
    today = jakarta_date(now or timezone.now())
    row = Invoice.objects.filter(
        customer=customer, kind=Invoice.Kind.INVOICE, status=Invoice.Status.ISSUED, due_date__lt=today
    ).aggregate(count=Count("id"), owed=Sum(F("total") - F("paid_amount")))
    return OpenInvoices(count=int(row["count"] or 0), outstanding=int(row["owed"] or 0))


@dataclass(frozen=True)
class TierPrices:
    """The unit prices a customer pays now: its tier and one row per route."""

    tier: int
    effective_from: date
    rows: list[tuple[str, str, int]]  # (channel, operator or "", unit price)


def tier_prices(*, tier: int, now: datetime | None = None) -> TierPrices:
    """Every unit price of one tier of the list in force (R-PL-1), read from
    its in-memory cache. The customer's tier comes from ``services.quote``."""
    table = table_in_force(jakarta_date(now or timezone.now()))
    rows = sorted(
        (
            (channel, operator, price)
            for (row_tier, channel, operator), price in table.prices.items()
            if row_tier == tier
        ),
        key=lambda row: (Channel.values.index(row[0]) if row[0] in Channel.values else 9, row[1]),
    )
    return TierPrices(tier=tier, effective_from=table.effective_from, rows=rows)


def charge_for(*, customer: Customer, reference: str) -> Charge | None:
    """The customer's charge for one send (its reference is the message id), or None."""
    return Charge.objects.filter(customer=customer, reference=reference).first()
