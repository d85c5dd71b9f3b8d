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
from messaging.crypto import open_secret, seal_secret
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

    id = models.CharField(_("ID"), primary_key=True, max_length=32, default=_ver_id, editable=False)
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="verifications"
    )
    api_key = models.ForeignKey(
        ApiKey, verbose_name=_("API key"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_test = models.BooleanField(_("test mode"), default=False)
    to = models.CharField(_("to"), max_length=20)
    operator = models.CharField(_("operator"), max_length=12, blank=True)
    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices)
    fallback = models.JSONField(_("fallback channels"), default=list, blank=True)
    locale = models.CharField(_("language"), max_length=5, default="id")
    code_length = models.PositiveSmallIntegerField(_("code length"), default=6)
    ttl = models.PositiveIntegerField(_("validity (seconds)"), default=300)
    code_hmacs = models.JSONField(_("code HMACs"), default=list)
    app_hash = models.CharField(_("app hash"), max_length=11, blank=True)
    status = models.CharField(_("status"), max_length=24, choices=Status.choices, default=Status.PENDING)
    checks = models.PositiveSmallIntegerField(_("checks"), default=0)
    sends = models.PositiveSmallIntegerField(_("sends"), default=0)
    last_sent_at = models.DateTimeField(_("last sent at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"))
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)

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

    id = models.CharField(_("ID"), primary_key=True, max_length=32, default=_msg_id, editable=False)
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="messages"
    )
    verification = models.ForeignKey(
        Verification,
        verbose_name=_("verification"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
    )
    fallback_of = models.OneToOneField(
        "self",
        verbose_name=_("fallback of"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="fallback_message",
    )
    is_test = models.BooleanField(_("test mode"), default=False)
    to = models.CharField(_("to"), max_length=20)
    operator = models.CharField(_("operator"), max_length=12, blank=True)
    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices)
    sender_id = models.CharField(_("sender ID"), max_length=16, blank=True)
    encoding = models.CharField(_("encoding"), max_length=5, default="gsm7")
    units = models.PositiveIntegerField(_("units"), default=1)
    price = models.PositiveIntegerField(_("price"), default=0)
    charged = models.BooleanField(_("charged"), default=False)
    body = models.TextField(_("body"))
    sealed = models.TextField(_("sealed text"), blank=True)
    fallback = models.JSONField(_("fallback channels"), default=list, blank=True)
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.QUEUED)
    provider = models.CharField(_("provider"), max_length=20, blank=True)
    provider_message_id = models.CharField(_("provider message ID"), max_length=100, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)  # every claim by a worker
    # Attempts that reached the provider (refused, or left in doubt): DISPATCH_MAX_ATTEMPTS caps
    # these; an attempt where nothing was submitted (not bound) does not count (Review 8.14).
    submits = models.PositiveSmallIntegerField(_("submits"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    error_code = models.CharField(_("error code"), max_length=40, blank=True)
    error_message = models.CharField(_("error message"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

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
            # The back office's windows over all customers (provider health, failing messages in the last hour).
            models.Index(fields=["created_at"], name="msg_created"),
        ]

    def __str__(self) -> str:
        return self.id

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL


class MessageStatusChange(models.Model):
    """Append-only history of a message's status (style.md #4)."""

    message = models.ForeignKey(Message, verbose_name=_("message"), on_delete=models.CASCADE, related_name="history")
    old = models.CharField(_("old status"), max_length=12, blank=True)
    new = models.CharField(_("new status"), max_length=12)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    actor = models.CharField(_("actor"), max_length=40, blank=True)  # "api", "worker", "smpp", "wa_cloud", "sweep"…
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name_plural = _("message status changes")
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

    provider = models.CharField(_("provider"), max_length=20)
    provider_message_id = models.CharField(_("provider message ID"), max_length=100)
    state = models.CharField(_("state"), max_length=12)
    error_code = models.CharField(_("error code"), max_length=40, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("early delivery report")
        verbose_name_plural = _("early delivery reports")
        indexes = [models.Index(fields=["provider", "provider_message_id"], name="pending_report_lookup")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.provider_message_id} {self.state}"


class ProviderReference(models.Model):
    """Every id a provider gave for a message (one per SMS part), so each
    receipt finds its message; the message is delivered when all parts are."""

    provider = models.CharField(_("provider"), max_length=20)
    provider_message_id = models.CharField(_("provider message ID"), max_length=100)
    message = models.ForeignKey(
        Message, verbose_name=_("message"), on_delete=models.CASCADE, related_name="provider_refs"
    )
    part = models.PositiveSmallIntegerField(_("part"), default=1)
    state = models.CharField(_("state"), max_length=12, blank=True)

    class Meta:
        verbose_name = _("provider reference")
        verbose_name_plural = _("provider references")
        constraints = [models.UniqueConstraint(fields=["provider", "provider_message_id"], name="provider_ref_unique")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.provider_message_id} → {self.message_id}"


class MessageTemplate(models.Model):
    """A customer's own verification text for a locale; must hold ``{code}``."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="message_templates"
    )
    locale = models.CharField(_("language"), max_length=5, choices=[("id", "Bahasa Indonesia"), ("en", "English")])
    body = models.CharField(_("body"), max_length=480)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("verification text")
        verbose_name_plural = _("verification texts")
        constraints = [models.UniqueConstraint(fields=["customer", "locale"], name="template_unique_locale")]

    def __str__(self) -> str:
        return f"{self.customer} [{self.locale}]"


class SandboxMessage(models.Model):
    """What the sandbox provider "sent": readable by the customer, in clear."""

    message = models.OneToOneField(
        Message, verbose_name=_("message"), on_delete=models.CASCADE, related_name="sandbox_copy"
    )
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+")
    to = models.CharField(_("to"), max_length=20)
    channel = models.CharField(_("channel"), max_length=12)
    sender_id = models.CharField(_("sender ID"), max_length=16, blank=True)
    text = models.TextField(_("text"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("sandbox message")
        verbose_name_plural = _("sandbox messages")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "to", "created_at"], name="sandbox_customer_to")]

    def __str__(self) -> str:
        return f"{self.message_id} to {self.to}"


class RateBucket(models.Model):
    """A token bucket kept in the database, for deployments without Redis."""

    key = models.CharField(_("key"), primary_key=True, max_length=200)
    tokens = models.FloatField(_("tokens"))
    updated = models.FloatField(_("updated (epoch seconds)"))

    class Meta:
        verbose_name = _("rate-limit bucket")
        verbose_name_plural = _("rate-limit buckets")

    def __str__(self) -> str:
        return self.key


class WebhookEndpoint(models.Model):
    class Event(models.TextChoices):
        MESSAGE_STATUS = "message.status", "message.status"
        VERIFICATION_STATUS = "verification.status", "verification.status"

    id = models.CharField(_("ID"), primary_key=True, max_length=32, default=_whk_id, editable=False)
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(_("URL"), max_length=500)
    # The signing secret, sealed (messaging.crypto.seal_secret): read and set it as ``secret``.
    secret_sealed = models.CharField(_("sealed secret"), max_length=255)
    events = models.JSONField(_("events"), default=list)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.url

    @property
    def secret(self) -> str:
        """The signing secret in clear (shown to the customer once, used to sign deliveries);
        the database keeps it sealed."""
        return open_secret(self.secret_sealed)

    @secret.setter
    def secret(self, plain: str) -> None:
        self.secret_sealed = seal_secret(plain)


class WebhookEvent(models.Model):
    id = models.CharField(_("ID"), primary_key=True, max_length=32, default=_evt_id, editable=False)
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+")
    type = models.CharField(_("event type"), max_length=40)
    payload = models.JSONField(_("payload"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.id} {self.type}"


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    event = models.ForeignKey(
        WebhookEvent, verbose_name=_("event"), on_delete=models.CASCADE, related_name="deliveries"
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, verbose_name=_("endpoint"), on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_due")]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(
        WebhookDelivery, verbose_name=_("delivery"), on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveSmallIntegerField(_("attempt"))
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    # A short fixed reason when there is no HTTP answer; never the answer's body (review 8.7).
    error = models.CharField(_("error"), max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"


class SmppBindStatus(models.Model):
    """The heartbeat of one ``smpp_bind`` bind: its account, in one process,
    written every few seconds (``messaging.services.bind_heartbeat``), so the
    back office's provider health shows each bind's state without asking the
    process. A row whose ``last_seen`` is old means the process is gone."""

    class State(models.TextChoices):
        BOUND = "bound", _("Bound")
        CONNECTING = "connecting", _("Not bound (binding again)")
        STOPPED = "stopped", _("Stopped")

    account = models.CharField(_("SMPP account"), max_length=40)
    process = models.CharField(_("process"), max_length=80, help_text=_("host:pid of the smpp_bind process"))
    mode = models.CharField(_("bind mode"), max_length=12)
    state = models.CharField(_("state"), max_length=12, choices=State.choices)
    state_since = models.DateTimeField(_("in this state since"))
    last_seen = models.DateTimeField(_("last heartbeat"))
    last_error = models.CharField(_("last error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("SMPP bind")
        verbose_name_plural = _("SMPP binds")
        ordering = ["account", "process"]
        constraints = [models.UniqueConstraint(fields=["account", "process"], name="smppbind_account_process")]

    def __str__(self) -> str:
        return f"{self.account} @ {self.process}: {self.state}"
