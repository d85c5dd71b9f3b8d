"""Read queries of messaging, always scoped by customer (style.md #2)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from accounts.models import Customer
from messaging.models import (
    Message,
    MessageTemplate,
    SandboxMessage,
    Verification,
    WebhookDelivery,
    WebhookEndpoint,
)
from otpportal.errors import ServiceError


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
