"""Verifications, messages (the outbox), their status history, customer
webhooks, the sandbox inbox, idempotency records and rate-limit buckets."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import ApiKey, Customer
from billing.models import Channel  # R-CH-1, one definition for the whole project
from otpportal.ids import new_id

__all__ = ["Channel"]


def _ver_id() -> str:
    return new_id("ver")


def _msg_id() -> str:
    return new_id("msg")


def _evt_id() -> str:
    return new_id("evt")


def _whk_id() -> str:
    return new_id("whk")


class Verification(models.Model):
    """A code the platform made and will check (api-contract "Verifications").

    Only keyed HMACs of the codes sent are kept (``code_hmacs``: a resend or
    a fallback may send again; each code sent for this verification is valid
    until it expires, and the first correct one approves it).
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        EXPIRED = "expired", _("Expired")
        MAX_ATTEMPTS_REACHED = "max_attempts_reached", _("Max attempts reached")
        CANCELED = "canceled", _("Canceled")

    MAX_CHECKS = 5
    MAX_SENDS = 5

    id = models.CharField(primary_key=True, max_length=32, default=_ver_id, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="verifications")
    api_key = models.ForeignKey(ApiKey, null=True, on_delete=models.SET_NULL, related_name="+")
    is_test = models.BooleanField(default=False)
    to = models.CharField(max_length=20)
    operator = models.CharField(max_length=12, blank=True)
    channel = models.CharField(max_length=12, choices=Channel.choices)
    fallback = models.JSONField(default=list, blank=True)
    locale = models.CharField(max_length=5, default="id")
    code_length = models.PositiveSmallIntegerField(default=6)
    ttl = models.PositiveIntegerField(default=300)
    code_hmacs = models.JSONField(default=list)
    app_hash = models.CharField(max_length=11, blank=True)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.PENDING)
    checks = models.PositiveSmallIntegerField(default=0)
    sends = models.PositiveSmallIntegerField(default=0)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    reference = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("verification")
        verbose_name_plural = _("verifications")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["customer", "to", "created_at"], name="ver_customer_to_time"),
            models.Index(fields=["customer", "created_at"], name="ver_customer_time"),
            models.Index(fields=["status", "expires_at"], name="ver_pending_expiry", condition=Q(status="pending")),
        ]

    def __str__(self) -> str:
        return self.id

    @property
    def attempts_left(self) -> int:
        return max(0, self.MAX_CHECKS - self.checks)


class Message(models.Model):
    """One message to one number: the outbox row (architecture flow 2).

    ``sealed`` holds the clear text (and code) encrypted, only until the
    message reaches a final state; ``body`` is what anyone may read (codes
    masked for verifications).
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        UNDELIVERED = "undelivered", _("Undelivered")
        FAILED = "failed", _("Failed")
        REJECTED = "rejected", _("Rejected")

    FINAL: ClassVar[frozenset[str]] = frozenset({"delivered", "undelivered", "failed", "rejected"})
    # style.md #4: the one table of allowed moves. Statuses only move forward.
    MOVES: ClassVar[dict[str, frozenset[str]]] = {
        "queued": frozenset({"sending", "failed", "rejected"}),
        "sending": frozenset({"queued", "sent", "failed", "rejected", "delivered", "undelivered"}),
        "sent": frozenset({"delivered", "undelivered", "failed"}),
        "delivered": frozenset(),
        "undelivered": frozenset(),
        "failed": frozenset(),
        "rejected": frozenset(),
    }

    id = models.CharField(primary_key=True, max_length=32, default=_msg_id, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="messages")
    verification = models.ForeignKey(
        Verification, null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    fallback_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="fallback_message"
    )
    is_test = models.BooleanField(default=False)
    to = models.CharField(max_length=20)
    operator = models.CharField(max_length=12, blank=True)
    channel = models.CharField(max_length=12, choices=Channel.choices)
    sender_id = models.CharField(max_length=16, blank=True)
    encoding = models.CharField(max_length=5, default="gsm7")
    units = models.PositiveIntegerField(default=1)
    price = models.PositiveIntegerField(default=0)
    charged = models.BooleanField(default=False)
    body = models.TextField()
    sealed = models.TextField(blank=True)
    fallback = models.JSONField(default=list, blank=True)
    reference = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    provider = models.CharField(max_length=20, blank=True)
    provider_message_id = models.CharField(max_length=100, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # every claim by a worker
    # Attempts that reached the provider (refused, or left in doubt): DISPATCH_MAX_ATTEMPTS caps
    # these; an attempt where nothing was submitted (not bound) does not count (Review 8.14).
    submits = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["customer", "created_at"], name="msg_customer_time"),
            models.Index(fields=["customer", "to", "created_at"], name="msg_customer_to_time"),
            models.Index(fields=["provider", "provider_message_id"], name="msg_provider_id"),
            models.Index(
                fields=["status", "next_attempt_at"],
                name="msg_outbox",
                condition=Q(status__in=["queued", "sending"]),
            ),
            # The sweep's tidy-up of sealed bodies (Review 8.22): only in-flight messages and
            # pending verifications' sent ones carry one, so this index stays small.
            models.Index(fields=["status", "updated_at"], name="msg_sealed", condition=~Q(sealed="")),
            # The sweep's re-sent sandbox receipts: a sandbox report held by a killed worker.
            models.Index(fields=["sent_at"], name="msg_sandbox_sent", condition=Q(status="sent", provider="sandbox")),
        ]

    def __str__(self) -> str:
        return self.id

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL


class MessageStatusChange(models.Model):
    """Append-only history of a message's status (style.md #4)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="history")
    old = models.CharField(max_length=12, blank=True)
    new = models.CharField(max_length=12)
    reason = models.CharField(max_length=300, blank=True)
    actor = models.CharField(max_length=40, blank=True)  # "api", "worker", "smpp", "wa_cloud", "sweep"…
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("message status change")

    def __str__(self) -> str:
        return f"{self.message_id}: {self.old or '∅'} → {self.new}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError("Status history is append-only.")
        super().save(*args, **kwargs)


class PendingReport(models.Model):
    """A delivery report that arrived before its message recorded the
    provider's id (a fast receipt racing the submit response)."""

    provider = models.CharField(max_length=20)
    provider_message_id = models.CharField(max_length=100)
    state = models.CharField(max_length=12)
    error_code = models.CharField(max_length=40, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["provider", "provider_message_id"], name="pending_report_lookup")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.provider_message_id} {self.state}"


class ProviderReference(models.Model):
    """Every id a provider gave for a message (one per SMS part), so each
    receipt finds its message; the message is delivered when all parts are."""

    provider = models.CharField(max_length=20)
    provider_message_id = models.CharField(max_length=100)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="provider_refs")
    part = models.PositiveSmallIntegerField(default=1)
    state = models.CharField(max_length=12, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "provider_message_id"], name="provider_ref_unique")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.provider_message_id} → {self.message_id}"


class MessageTemplate(models.Model):
    """A customer's own verification text for a locale; must hold ``{code}``."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="message_templates")
    locale = models.CharField(max_length=5, choices=[("id", "Bahasa Indonesia"), ("en", "English")])
    body = models.CharField(max_length=480)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "locale"], name="template_unique_locale")]

    def __str__(self) -> str:
        return f"{self.customer} [{self.locale}]"


class SandboxMessage(models.Model):
    """What the sandbox provider "sent": readable by the customer, in clear."""

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="sandbox_copy")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    to = models.CharField(max_length=20)
    channel = models.CharField(max_length=12)
    sender_id = models.CharField(max_length=16, blank=True)
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "to", "created_at"], name="sandbox_customer_to")]

    def __str__(self) -> str:
        return f"{self.message_id} to {self.to}"


class RateBucket(models.Model):
    """A token bucket kept in the database, for deployments without Redis."""

    key = models.CharField(primary_key=True, max_length=200)
    tokens = models.FloatField()
    updated = models.FloatField()

    def __str__(self) -> str:
        return self.key


class WebhookEndpoint(models.Model):
    class Event(models.TextChoices):
        MESSAGE_STATUS = "message.status", "message.status"
        VERIFICATION_STATUS = "verification.status", "verification.status"

    id = models.CharField(primary_key=True, max_length=32, default=_whk_id, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=80)
    events = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.url


class WebhookEvent(models.Model):
    id = models.CharField(primary_key=True, max_length=32, default=_evt_id, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=40)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.id} {self.type}"


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_due")]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # A short fixed reason when there is no HTTP answer; never the answer's body (review 8.7).
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"
