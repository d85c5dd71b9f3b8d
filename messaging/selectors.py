"""Read queries of messaging, always scoped by customer (style.md #2)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils.translation import gettext as _

from accounts.models import Customer
from messaging.models import (
    Message,
    MessageStatusChange,
    MessageTemplate,
    ProviderReference,
    SandboxMessage,
    Verification,
    WebhookDelivery,
    WebhookEndpoint,
)
from otpportal.errors import ServiceError

JAKARTA = ZoneInfo("Asia/Jakarta")


def verification(*, customer: Customer, verification_id: str) -> Verification:
    row = Verification.objects.filter(customer=customer, pk=verification_id).first()
    if row is None:
        raise ServiceError("not_found", _("No such verification."))
    return row


def verifications(*, customer: Customer, status: str | None = None, to: str | None = None) -> QuerySet[Verification]:
    queryset = Verification.objects.filter(customer=customer)
    if status:
        queryset = queryset.filter(status=status)
    if to:
        queryset = queryset.filter(to=to)
    return queryset.order_by("-id")


def latest_message(*, verification: Verification) -> Message | None:
    return Message.objects.filter(verification=verification).order_by("-id").first()


def latest_messages(*, verifications: Sequence[Verification]) -> dict[str, Message]:
    result: dict[str, Message] = {}
    for message in Message.objects.filter(verification__in=list(verifications)).order_by("id"):
        result[message.verification_id] = message  # the newest wins
    return result


def message(*, customer: Customer, message_id: str) -> Message:
    row = Message.objects.filter(customer=customer, pk=message_id).first()
    if row is None:
        raise ServiceError("not_found", _("No such message."))
    return row


def messages(
    *,
    customer: Customer,
    status: str | None = None,
    channel: str | None = None,
    to: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[Message]:
    queryset = Message.objects.filter(customer=customer)
    if status:
        queryset = queryset.filter(status=status)
    if channel:
        queryset = queryset.filter(channel=channel)
    if to:
        queryset = queryset.filter(to=to)
    if created_after:
        queryset = queryset.filter(created_at__gte=created_after)
    if created_before:
        queryset = queryset.filter(created_at__lt=created_before)
    return queryset.order_by("-id")


def message_history(*, customer: Customer, message_id: str) -> tuple[Message, list]:  # type: ignore[type-arg]
    row = message(customer=customer, message_id=message_id)
    return row, list(row.history.order_by("created_at", "id"))


def sandbox_messages(*, customer: Customer, to: str | None = None, limit: int = 100) -> QuerySet[SandboxMessage]:
    queryset = SandboxMessage.objects.filter(customer=customer)
    if to:
        queryset = queryset.filter(to=to)
    return queryset.order_by("-created_at", "-id")[:limit]


def sandbox_messages_after(
    *, customer: Customer, after: int, to: str | None = None, limit: int = 100
) -> QuerySet[SandboxMessage]:
    """The sandbox messages newer than the row ``after`` (the sandbox page's
    poll), newest first."""
    queryset = SandboxMessage.objects.filter(customer=customer, pk__gt=after)
    if to:
        queryset = queryset.filter(to=to)
    return queryset.order_by("-id")[:limit]


def webhook_endpoints(*, customer: Customer) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(customer=customer, deleted_at__isnull=True).order_by("-created_at")


def webhook_deliveries(*, customer: Customer, limit: int = 100) -> QuerySet[WebhookDelivery]:
    return (
        WebhookDelivery.objects.filter(endpoint__customer=customer)
        .select_related("event", "endpoint")
        .prefetch_related("attempt_log")
        .order_by("-created_at", "-id")[:limit]
    )


def message_templates(*, customer: Customer) -> dict[str, MessageTemplate]:
    """The customer's own verification texts by locale."""
    return {t.locale: t for t in MessageTemplate.objects.filter(customer=customer)}


# --- The dashboard's home page: traffic in SQL aggregates, scoped and indexed -------------
#
# Every query below filters on (customer, created_at), the leading columns of
# the indexes msg_customer_time and ver_customer_time, and groups in the
# database: the home page costs the same few queries whatever the traffic.

FINAL_FAILED = ("undelivered", "failed", "rejected")


@dataclass(frozen=True)
class SendCounts:
    today: int
    month: int


def send_counts(*, customer: Customer, today_start: datetime, month_start: datetime, is_test: bool) -> SendCounts:
    """Messages created since the start of today and of the month (Jakarta), one query."""
    since = min(today_start, month_start)
    row = Message.objects.filter(customer=customer, created_at__gte=since, is_test=is_test).aggregate(
        today=Count("id", filter=Q(created_at__gte=today_start)),
        month=Count("id", filter=Q(created_at__gte=month_start)),
    )
    return SendCounts(today=int(row["today"] or 0), month=int(row["month"] or 0))


@dataclass(frozen=True)
class Rate:
    """How many of ``total`` ended well (delivered, or approved), of those that ended."""

    key: str
    total: int
    good: int
    finished: int

    @property
    def percent(self) -> float | None:
        return None if self.finished == 0 else round(100 * self.good / self.finished, 1)


def _rates(rows: Iterable[tuple[str, str, int, int, int]]) -> tuple[list[Rate], list[Rate]]:
    """(channel, operator, total, good, finished) rows summed per channel and per operator."""
    channels: dict[str, list[int]] = {}
    operators: dict[str, list[int]] = {}
    for channel, operator, total, good, finished in rows:
        for table, key in ((channels, channel), (operators, operator)):
            sums = table.setdefault(key, [0, 0, 0])
            sums[0] += total
            sums[1] += good
            sums[2] += finished

    def listed(table: dict[str, list[int]]) -> list[Rate]:
        return [Rate(key, *sums) for key, sums in sorted(table.items(), key=lambda item: (-item[1][0], item[0]))]

    return listed(channels), listed(operators)


def delivery_rates(*, customer: Customer, since: datetime, is_test: bool) -> tuple[list[Rate], list[Rate]]:
    """Delivered messages of those that reached a final status, per channel and
    per operator (busiest first), since ``since``: one GROUP BY."""
    rows = (
        Message.objects.filter(customer=customer, created_at__gte=since, is_test=is_test)
        .values("channel", "operator")
        .annotate(
            total=Count("id"),
            good=Count("id", filter=Q(status=Message.Status.DELIVERED)),
            finished=Count("id", filter=Q(status__in=(Message.Status.DELIVERED, *FINAL_FAILED))),
        )
        .order_by()
        .values_list("channel", "operator", "total", "good", "finished")
    )
    return _rates(rows)


def verification_rates(*, customer: Customer, since: datetime, is_test: bool) -> tuple[list[Rate], list[Rate]]:
    """Conversion: approved verifications of those that ended (approved,
    expired, out of attempts, canceled) per channel and per operator, since
    ``since``: one GROUP BY."""
    rows = (
        Verification.objects.filter(customer=customer, created_at__gte=since, is_test=is_test)
        .values("channel", "operator")
        .annotate(
            total=Count("id"),
            good=Count("id", filter=Q(status=Verification.Status.APPROVED)),
            finished=Count("id", filter=~Q(status=Verification.Status.PENDING)),
        )
        .order_by()
        .values_list("channel", "operator", "total", "good", "finished")
    )
    return _rates(rows)


def daily_sends(*, customer: Customer, since: datetime, is_test: bool) -> dict[tuple[date, str], int]:
    """Messages per Jakarta day and channel since ``since``: one GROUP BY."""
    rows = (
        Message.objects.filter(customer=customer, created_at__gte=since, is_test=is_test)
        .annotate(day=TruncDate("created_at", tzinfo=JAKARTA))
        .values("day", "channel")
        .annotate(count=Count("id"))
        .order_by()
        .values_list("day", "channel", "count")
    )
    return {(day, channel): int(count) for day, channel, count in rows}


# --- Detail pages ---------------------------------------------------------------------------


def message_with_chain(
    *, customer: Customer, message_id: str
) -> tuple[Message, list[MessageStatusChange], list[Message]]:
    """A message, its status history and its fallback chain (the verification's
    messages, first channel first; a plain message alone): three queries."""
    row = Message.objects.filter(customer=customer, pk=message_id).first()
    if row is None:
        raise ServiceError("not_found", _("No such message."))
    history = list(row.history.order_by("created_at", "id"))
    if row.verification_id is None:
        chain = [row]
    else:
        chain = list(
            Message.objects.filter(customer=customer, verification_id=row.verification_id)
            .only("id", "channel", "status", "created_at", "fallback_of_id", "verification_id")
            .order_by("created_at", "id")
        )
    return row, history, chain


def provider_parts(*, message: Message) -> list[ProviderReference]:
    """The provider's ids for a message (one per SMS part) with each part's receipt state."""
    return list(ProviderReference.objects.filter(message=message).order_by("part", "id"))


def verification_with_messages(*, customer: Customer, verification_id: str) -> tuple[Verification, list[Message]]:
    """A verification and every message sent for it, oldest first: two queries."""
    row = verification(customer=customer, verification_id=verification_id)
    messages_sent = list(Message.objects.filter(customer=customer, verification=row).order_by("created_at", "id"))
    return row, messages_sent


# --- CSV exports: the filtered rows, read in chunks ------------------------------------------

MESSAGE_EXPORT_FIELDS = (
    "id",
    "created_at",
    "is_test",
    "to",
    "operator",
    "channel",
    "sender_id",
    "status",
    "encoding",
    "units",
    "price",
    "charged",
    "verification_id",
    "reference",
    "error_code",
    "sent_at",
    "delivered_at",
)
VERIFICATION_EXPORT_FIELDS = (
    "id",
    "created_at",
    "is_test",
    "to",
    "operator",
    "channel",
    "status",
    "sends",
    "checks",
    "expires_at",
    "approved_at",
    "reference",
)


def export_rows(queryset: QuerySet[Any], fields: Sequence[str], *, chunk_size: int = 2000) -> Iterator[tuple[Any, ...]]:
    """Rows of a customer-scoped, filtered list as tuples, streamed from a server-side cursor."""
    return queryset.order_by("-created_at", "-id").values_list(*fields).iterator(chunk_size=chunk_size)
