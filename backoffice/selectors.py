"""The back office's reads: the work queues, the customer overview, the
revenue report, provider health and the reconciliation results.

Everything is aggregated in SQL (one ``GROUP BY`` per question, on indexed
columns), never by looping over rows in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db.models import Count, IntegerField, Min, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Customer
from billing.models import Charge, DepositLot, Guarantee, GuaranteeRefund, Invoice, Reconciliation, TopUpRequest
from billing.usage import month_bounds, month_of
from messaging.admin import FAILED_STATUSES, STUCK_AFTER, failing_q, stuck_q
from messaging.models import Message, SmppBindStatus
from messaging.providers.smpp import accounts_from_settings
from otpportal.workdays import working_days_between
from senderids.models import Registration

# --- Work queues ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    """One line of a queue split by operator or provider."""

    label: str
    count: int
    oldest: datetime | date | None
    url: str
    late: int = 0
    detail: str = ""


@dataclass(frozen=True)
class Queue:
    """Work waiting for staff: how much, since when, where to do it."""

    key: str
    title: Any
    count: int
    oldest: datetime | date | None
    url: str
    late: int = 0  # how many are past their deadline (SLA, due date)
    late_label: Any = ""
    rows: tuple[QueueRow, ...] = ()
    help: Any = ""

    @property
    def empty(self) -> bool:
        return self.count == 0


def _changelist(label: str, query: str = "") -> str:
    app, model = label.split(".")
    url = reverse(f"admin:{app}_{model}_changelist")
    return f"{url}?{query}" if query else url


def _topups(now: datetime, today: date) -> Queue:
    row = TopUpRequest.objects.filter(status=TopUpRequest.Status.PENDING).aggregate(
        n=Count("id"), oldest=Min("created_at")
    )
    return Queue(
        "topups",
        _("Top-ups to approve"),
        row["n"],
        row["oldest"],
        _changelist("billing.topuprequest", "status__exact=pending"),
        help=_("Check the transfer proof, then approve (a deposit lot, R-PRE-1) or reject with a note."),
    )


def _registrations(now: datetime, today: date) -> Queue:
    """R-SID-4: per operator, oldest first, with those past their expected date
    (30 working days after submission)."""
    waiting = (
        Registration.objects.filter(status__in=(Registration.Status.SUBMITTED, Registration.Status.IN_REVIEW))
        .values("operator")
        .annotate(n=Count("id"), oldest=Min("submitted_at"), late=Count("id", filter=Q(expected_by__lt=today)))
        .order_by("oldest")
    )
    labels = dict(Registration._meta.get_field("operator").choices)
    rows = tuple(
        QueueRow(
            str(labels.get(row["operator"], row["operator"])),
            row["n"],
            row["oldest"],
            _changelist("senderids.registration", f"waiting=yes&operator__exact={row['operator']}"),
            late=row["late"],
            detail=str(
                _("oldest waiting %(days)d working days")
                % {"days": working_days_between(timezone.localtime(row["oldest"]).date(), today)}
            ),
        )
        for row in waiting
    )
    return Queue(
        "registrations",
        _("Sender-ID registrations waiting, per operator"),
        sum(r.count for r in rows),
        min((r.oldest for r in rows if r.oldest), default=None),
        _changelist("senderids.registration", "waiting=yes"),
        late=sum(r.late for r in rows),
        late_label=_("past the expected date (7 to 30 working days, R-SID-4)"),
        rows=rows,
    )


def _to_post(now: datetime, today: date) -> Queue:
    row = (
        Invoice.objects.filter(posted_at__isnull=True)
        .exclude(status=Invoice.Status.VOID)
        .aggregate(n=Count("id"), oldest=Min("issue_date"))
    )
    return Queue(
        "to_post",
        _("Invoices to post on paper"),
        row["n"],
        row["oldest"],
        _changelist("billing.invoice", "paper=queue"),
        help=_("Print a posting batch, post it, then record the courier and tracking number (R-POST-4)."),
    )


def _overdue(now: datetime, today: date) -> Queue:
    row = Invoice.objects.filter(kind=Invoice.Kind.INVOICE, status=Invoice.Status.ISSUED, due_date__lt=today).aggregate(
        n=Count("id"), oldest=Min("due_date")
    )
    return Queue(
        "overdue",
        _("Invoices overdue"),
        row["n"],
        row["oldest"],
        _changelist("billing.invoice", "overdue=yes"),
        help=_("Unpaid after the due date (R-POST-5); unpaid at the month's end they are paid from the guarantee."),
    )


def _refunds(now: datetime, today: date) -> Queue:
    row = GuaranteeRefund.objects.filter(status=GuaranteeRefund.Status.DUE).aggregate(
        n=Count("id"), oldest=Min("due_date"), late=Count("id", filter=Q(due_date__lt=today))
    )
    return Queue(
        "refunds",
        _("Guarantee refunds to transfer"),
        row["n"],
        row["oldest"],
        _changelist("billing.guaranteerefund", "status__exact=due"),
        late=row["late"],
        late_label=_("past the transfer date (7 working days, R-POST-7)"),
        help=_("Transfer the refund, then record the bank reference."),
    )


def stuck_by_route(now: datetime) -> QuerySet[Message, dict[str, Any]]:
    """Served by the outbox's partial index (``msg_outbox``)."""
    return (
        Message.objects.filter(stuck_q(now))
        .values("channel", "provider")
        .annotate(n=Count("id"), oldest=Min("created_at"))
        .order_by()
    )


def failing_by_route(now: datetime) -> QuerySet[Message, dict[str, Any]]:
    """Served by the index on the messages' creation time (``msg_created``)."""
    return (
        Message.objects.filter(failing_q(now))
        .values("channel", "provider")
        .annotate(n=Count("id"), oldest=Min("created_at"))
        .order_by()
    )


def _messages(now: datetime, today: date) -> Queue:
    """Stuck (still queued or sending after a few minutes) and failing (in the
    last hour), per channel and provider."""
    stuck = {(r["channel"], r["provider"]): r for r in stuck_by_route(now)}
    failing = {(r["channel"], r["provider"]): r for r in failing_by_route(now)}
    channels = dict(Message._meta.get_field("channel").choices)
    rows = []
    for key in sorted(set(stuck) | set(failing)):
        channel, provider = key
        stuck_n = stuck[key]["n"] if key in stuck else 0
        failing_n = failing[key]["n"] if key in failing else 0
        oldest = (stuck.get(key) or failing[key])["oldest"]
        attention = "stuck" if stuck_n else "failing"
        rows.append(
            QueueRow(
                f"{channels.get(channel, channel)} · {provider or _('not dispatched yet')}",
                stuck_n + failing_n,
                oldest,
                _changelist("messaging.message", f"attention={attention}&channel__exact={channel}&provider={provider}"),
                late=stuck_n,
                detail=str(_("%(stuck)d stuck, %(failing)d failing") % {"stuck": stuck_n, "failing": failing_n}),
            )
        )
    return Queue(
        "messages",
        _("Messages stuck or failing, per provider (last hour)"),
        sum(r.count for r in rows),
        min((r.oldest for r in rows), default=None),
        _changelist("messaging.message", "attention=stuck"),
        late=sum(r.late for r in rows),
        late_label=_("stuck for more than %(minutes)d minutes") % {"minutes": STUCK_AFTER.seconds // 60},
        rows=tuple(rows),
    )


QUEUES = (
    ("billing.view_topuprequest", _topups),
    ("senderids.view_registration", _registrations),
    ("billing.view_invoice", _to_post),
    ("billing.view_invoice", _overdue),
    ("billing.view_guaranteerefund", _refunds),
    ("messaging.view_message", _messages),
)


def work_queues(*, user: Any, now: datetime | None = None) -> list[Queue]:
    """The queues ``user`` may look at (a role sees the queues of the pages it may open)."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    return [build(now, today) for permission, build in QUEUES if user.has_perm(permission)]


# --- Reconciliation ---------------------------------------------------------------------------


def latest_reconciliation() -> Reconciliation | None:
    return Reconciliation.objects.order_by("-ran_at", "-id").first()


def reconciliations(*, limit: int = 30) -> QuerySet[Reconciliation]:
    return Reconciliation.objects.order_by("-ran_at", "-id")[:limit]


# --- Customers ------------------------------------------------------------------------------


def customers_with_overview(queryset: QuerySet[Customer], *, now: datetime | None = None) -> QuerySet[Customer]:
    """The customer list's figures, each a correlated subquery on an indexed
    column, so the list costs the same for 3 customers as for 100: the
    prepaid balance (usable lots, R-PRE-2), the guarantee held (R-POST-1),
    this month's units and charged amount, and the last send."""
    now = now or timezone.now()
    month_start, _end = month_bounds(month_of(now))
    lots = (
        DepositLot.objects.filter(customer=OuterRef("pk"), remaining__gt=0, expires_at__gt=now, closed_at__isnull=True)
        .values("customer")
        .annotate(total=Sum("remaining"))
        .values("total")
    )
    held = Guarantee.objects.filter(customer=OuterRef("pk")).values("held")[:1]
    month = (
        Charge.objects.filter(customer=OuterRef("pk"), created_at__gte=month_start, reversed_at__isnull=True)
        .values("customer")
        .annotate(units=Sum("units"), amount=Sum("amount"))
    )
    last = Message.objects.filter(customer=OuterRef("pk")).order_by("-created_at").values("created_at")[:1]
    return queryset.annotate(
        balance=Coalesce(Subquery(lots, output_field=IntegerField()), Value(0)),
        guarantee_held=Subquery(held, output_field=IntegerField()),
        month_units=Coalesce(Subquery(month.values("units"), output_field=IntegerField()), Value(0)),
        month_amount=Coalesce(Subquery(month.values("amount"), output_field=IntegerField()), Value(0)),
        last_send=Subquery(last),
    )


# --- Revenue ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RevenueLine:
    channel: str
    operator: str
    mode: str
    messages: int
    units: int
    amount: int


@dataclass(frozen=True)
class RevenueReport:
    month: date
    lines: list[RevenueLine]
    messages: int = 0
    units: int = 0
    amount: int = 0
    by_mode: dict[str, int] = field(default_factory=dict)


def revenue_month(*, month: date) -> RevenueReport:
    """A month's charges (reversed ones left out, R-PRE-4) per channel,
    operator and mode: one ``GROUP BY`` on the charges' (created_at) range."""
    start, end = month_bounds(month)
    rows = (
        Charge.objects.filter(created_at__gte=start, created_at__lt=end, reversed_at__isnull=True)
        .values("channel", "operator", "mode")
        .annotate(messages=Count("id"), units=Sum("units"), amount=Sum("amount"))
        .order_by("channel", "operator", "mode")
    )
    lines = [RevenueLine(r["channel"], r["operator"], r["mode"], r["messages"], r["units"], r["amount"]) for r in rows]
    by_mode: dict[str, int] = {}
    for line in lines:
        by_mode[line.mode] = by_mode.get(line.mode, 0) + line.amount
    return RevenueReport(
        month=month,
        lines=lines,
        messages=sum(line.messages for line in lines),
        units=sum(line.units for line in lines),
        amount=sum(line.amount for line in lines),
        by_mode=by_mode,
    )


def revenue_by_month(*, last: date, months: int = 12) -> list[dict[str, Any]]:
    """The totals of the ``months`` months up to ``last``, newest first (one
    ``GROUP BY`` on the month in Asia/Jakarta)."""
    first = last - relativedelta(months=months - 1)
    start, _end = month_bounds(first)
    _start, end = month_bounds(last)
    rows = (
        Charge.objects.filter(created_at__gte=start, created_at__lt=end, reversed_at__isnull=True)
        .annotate(month=TruncMonth("created_at", tzinfo=timezone.get_default_timezone()))
        .values("month")
        .annotate(messages=Count("id"), units=Sum("units"), amount=Sum("amount"))
        .order_by("-month")
    )
    return [
        {**r, "month": timezone.localtime(r["month"]).date() if isinstance(r["month"], datetime) else r["month"]}
        for r in rows
    ]


# --- Provider health --------------------------------------------------------------------------

SENT = ("sent", "delivered", "undelivered")
SILENT_AFTER = timedelta(seconds=15)  # three missed heartbeats of smpp_bind (every 5 s)


@dataclass
class Route:
    """One provider (an SMPP account for SMS over SMPP) and its figures."""

    channel: str
    provider: str
    account: str = ""
    sent: int = 0  # reached the provider in the window
    errors: int = 0  # submits refused or failed in the window (an error code recorded)
    delivered: int = 0  # delivered, among those made in the last hour
    reported: int = 0  # delivered or undelivered, among those made in the last hour
    waiting: int = 0  # queued or sending now
    binds: list[SmppBindStatus] = field(default_factory=list)

    @property
    def delivery_rate(self) -> int | None:
        return round(100 * self.delivered / self.reported) if self.reported else None


@dataclass
class ProviderHealth:
    minutes: int
    routes: list[Route]
    binds: list[tuple[SmppBindStatus, bool]]  # each bind and whether it is silent

    def throughput(self, route: Route) -> float:
        return round(route.sent / self.minutes, 1)


def _account_for(channel: str, provider: str, operator: str) -> str:
    """SMS over SMPP: the account an operator's messages use (``SMS_ROUTES``)."""
    if channel != "sms" or provider != "smpp":
        return ""
    routes = dict(item.split("=", 1) for item in settings.SMS_ROUTES if "=" in item)
    account = routes.get(operator) or routes.get("default")
    if account:
        return account
    accounts = accounts_from_settings()
    return accounts[0].name if accounts else ""


def recent_by_route(*, now: datetime, window: datetime, hour: datetime) -> QuerySet[Message, dict[str, Any]]:
    """The last hour's messages per route, counted in one pass (``msg_created``)."""
    return (
        Message.objects.filter(created_at__gte=min(window, hour))
        .values("channel", "provider", "operator")
        .annotate(
            sent=Count("id", filter=Q(created_at__gte=window, status__in=SENT)),
            errors=Count("id", filter=Q(created_at__gte=window) & ~Q(error_code="")),
            delivered=Count("id", filter=Q(status="delivered")),
            reported=Count("id", filter=Q(status__in=("delivered", "undelivered"))),
        )
        .order_by()
    )


def waiting_by_route() -> QuerySet[Message, dict[str, Any]]:
    """Messages queued or sending now (``msg_outbox``)."""
    return (
        Message.objects.filter(status__in=("queued", "sending"))
        .values("channel", "provider", "operator")
        .annotate(n=Count("id"))
        .order_by()
    )


def provider_health(*, now: datetime | None = None, minutes: int = 5) -> ProviderHealth:
    """Per provider and SMPP account: messages sent per minute and submit
    errors over the last ``minutes``, the delivery rate over the last hour,
    the messages waiting now, and each ``smpp_bind`` bind's heartbeat."""
    now = now or timezone.now()
    window = now - timedelta(minutes=minutes)
    hour = now - timedelta(hours=1)
    recent = recent_by_route(now=now, window=window, hour=hour)
    waiting = waiting_by_route()
    routes: dict[tuple[str, str, str], Route] = {}

    def route(row: dict[str, Any]) -> Route:
        account = _account_for(row["channel"], row["provider"], row["operator"])
        key = (row["channel"], row["provider"], account)
        if key not in routes:
            routes[key] = Route(row["channel"], row["provider"], account)
        return routes[key]

    for row in recent:
        r = route(row)
        r.sent += row["sent"]
        r.errors += row["errors"]
        r.delivered += row["delivered"]
        r.reported += row["reported"]
    for row in waiting:
        route(row).waiting += row["n"]
    # Every configured route shows, even when quiet: an outage is a route with nothing moving.
    for channel, provider in (
        ("sms", settings.PROVIDER_SMS),
        ("wa", settings.PROVIDER_WA),
        ("wa_official", settings.PROVIDER_WA_OFFICIAL),
    ):
        if provider == "smpp":
            for account in accounts_from_settings():
                routes.setdefault(("sms", "smpp", account.name), Route("sms", "smpp", account.name))
        else:
            routes.setdefault((channel, provider, ""), Route(channel, provider, ""))
    binds = list(SmppBindStatus.objects.order_by("account", "process"))
    for bind in binds:
        r = routes.get(("sms", "smpp", bind.account))
        if r is not None:
            r.binds.append(bind)
    ordered = sorted(routes.values(), key=lambda r: (r.channel, r.provider, r.account))
    return ProviderHealth(
        minutes=minutes,
        routes=ordered,
        binds=[(b, b.state != SmppBindStatus.State.STOPPED and b.last_seen < now - SILENT_AFTER) for b in binds],
    )


__all__ = [
    "FAILED_STATUSES",
    "ProviderHealth",
    "Queue",
    "QueueRow",
    "RevenueReport",
    "customers_with_overview",
    "latest_reconciliation",
    "provider_health",
    "reconciliations",
    "revenue_by_month",
    "revenue_month",
    "work_queues",
]
