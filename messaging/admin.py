"""Staff back-office for messaging: verifications, messages and their status
history, webhooks and their deliveries, customers' verification texts, the
sandbox inbox and early delivery reports (idempotency records: the accounts admin).

Almost everything is read-only. Nothing here edits a message's status: the
one message action re-enqueues dispatch (``sending.enqueue_dispatch``), and
the dispatcher's atomic claim decides what happens. Secrets stay hidden: no
``code_hmacs``, no ``sealed`` text, no webhook signing secret.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from billing.admin import ServiceForm, ServiceFormAdmin
from billing.templatetags.money import format_rupiah
from messaging import phones, services
from messaging.models import (
    Message,
    MessageStatusChange,
    MessageTemplate,
    PendingReport,
    SandboxMessage,
    Verification,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from messaging.services.sending import enqueue_dispatch
from otpportal.admin_mixins import ReadOnlyAdmin, ReadOnlyInline
from otpportal.audit import staff_change
from otpportal.errors import ServiceError


class PhoneSearchMixin:
    """Staff type numbers as they read them (``0812-3456-7890``); rows keep E.164."""

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any], search_term: str) -> tuple[Any, bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)  # type: ignore[misc]
        term = search_term.strip()
        if term and any(ch.isdigit() for ch in term):
            try:
                e164 = phones.normalize(term)
            except ServiceError:
                return results, may_have_duplicates
            results |= queryset.filter(to=e164)
        return results, may_have_duplicates


# --- Verifications ------------------------------------------------------------------

VERIFICATION_FIELDS = [
    "id",
    "customer",
    "api_key",
    "is_test",
    "to",
    "operator",
    "channel",
    "fallback",
    "locale",
    "code_length",
    "ttl",
    "app_hash",
    "status",
    "checks",
    "sends",
    "last_sent_at",
    "expires_at",
    "reference",
    "created_at",
    "updated_at",
    "approved_at",
]  # never code_hmacs


@admin.register(Verification)
class VerificationAdmin(PhoneSearchMixin, ReadOnlyAdmin):
    list_display = [
        "id",
        "customer",
        "to",
        "channel",
        "status",
        "is_test",
        "sends",
        "checks",
        "expires_at",
        "created_at",
    ]
    list_filter = ["status", "channel", "is_test"]
    search_fields = ["=id", "to", "reference"]
    list_select_related = ["customer"]
    date_hierarchy = "created_at"
    fields = VERIFICATION_FIELDS
    readonly_fields = VERIFICATION_FIELDS


# --- Messages -----------------------------------------------------------------------

# A message still queued or sending this long after it was made needs a look (the sweep
# re-enqueues after OUTBOX_SWEEP_AFTER and retakes claims after DISPATCH_CLAIM_TIMEOUT).
STUCK_AFTER = timedelta(minutes=5)
FAILING_WINDOW = timedelta(hours=1)
FAILED_STATUSES = ("failed", "rejected", "undelivered")


def stuck_q(now: datetime) -> Q:
    """Messages stuck on their way out (the back office's work queue)."""
    return Q(status__in=("queued", "sending"), created_at__lt=now - STUCK_AFTER)


def failing_q(now: datetime) -> Q:
    """Messages made in the last hour that failed, were refused or were not delivered."""
    return Q(status__in=FAILED_STATUSES, created_at__gte=now - FAILING_WINDOW)


class AttentionFilter(admin.SimpleListFilter):
    title = _("needs attention")
    parameter_name = "attention"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [
            ("stuck", _("Stuck: still queued or sending after 5 minutes")),
            ("failing", _("Failing: failed, refused or undelivered in the last hour")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Message]) -> QuerySet[Message]:
        if self.value() == "stuck":
            return queryset.filter(stuck_q(timezone.now()))
        if self.value() == "failing":
            return queryset.filter(failing_q(timezone.now()))
        return queryset


class MessageStatusChangeInline(ReadOnlyInline):
    model = MessageStatusChange
    fields = ["created_at", "old", "new", "reason", "actor"]
    readonly_fields = fields
    ordering = ["created_at", "id"]
    verbose_name_plural = _("status history")


MESSAGE_FIELDS = [
    "id",
    "customer",
    "verification",
    "fallback_of",
    "is_test",
    "to",
    "operator",
    "channel",
    "sender_id",
    "encoding",
    "units",
    "price_display",
    "charged",
    "body",
    "fallback",
    "reference",
    "status",
    "provider",
    "provider_message_id",
    "attempts",
    "next_attempt_at",
    "claimed_at",
    "error_code",
    "error_message",
    "created_at",
    "updated_at",
    "sent_at",
    "delivered_at",
]  # never sealed (the clear text and code)


@admin.register(Message)
class MessageAdmin(PhoneSearchMixin, ReadOnlyAdmin):
    list_display = [
        "id",
        "customer",
        "to",
        "channel",
        "operator",
        "status",
        "provider",
        "is_test",
        "units",
        "price_display",
        "created_at",
    ]
    list_filter = [AttentionFilter, "status", "channel", "operator", "provider", "is_test"]
    search_fields = ["=id", "to", "=provider_message_id", "=reference"]
    list_select_related = ["customer"]
    date_hierarchy = "created_at"
    fields = MESSAGE_FIELDS
    readonly_fields = MESSAGE_FIELDS
    inlines = [MessageStatusChangeInline]
    actions = ["requeue"]

    def get_ordering(self, request: HttpRequest) -> list[str]:
        if request.GET.get(AttentionFilter.parameter_name) == "stuck":
            return ["created_at"]  # the work queue: the longest stuck first
        return list(super().get_ordering(request))

    @admin.display(description=_("price"), ordering="price")
    def price_display(self, obj: Message) -> str:
        return format_rupiah(obj.price)

    def has_requeue_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("messaging.change_message")

    @admin.action(description=_("Re-queue for dispatch (messages stuck in queued)"), permissions=["requeue"])
    def requeue(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        queued = list(queryset.filter(status=Message.Status.QUEUED).values_list("id", "channel"))
        for message_id, channel in queued:
            enqueue_dispatch(message_id, channel=channel)
        skipped = queryset.count() - len(queued)
        self.message_user(
            request,
            ngettext("Re-queued %(n)d message for dispatch.", "Re-queued %(n)d messages for dispatch.", len(queued))
            % {"n": len(queued)},
            messages.SUCCESS if queued else messages.WARNING,
        )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "Skipped %(n)d message that is not queued.", "Skipped %(n)d messages that are not queued.", skipped
                )
                % {"n": skipped},
                messages.WARNING,
            )


# --- Webhooks -------------------------------------------------------------------------


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ["id", "customer", "url", "events", "is_active", "created_at", "deleted_at"]
    list_filter = ["is_active", ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["=id", "url", "customer__name", "customer__slug"]
    list_select_related = ["customer"]
    fields = ["id", "customer", "url", "events", "is_active", "created_at", "deleted_at"]  # never the secret
    readonly_fields = fields
    actions = ["deactivate"]

    def has_deactivate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("messaging.change_webhookendpoint")

    @admin.action(description=_("Deactivate selected endpoints (no more deliveries)"), permissions=["deactivate"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        count = 0
        for endpoint in queryset:
            with staff_change(action="deactivate_webhook_endpoint", actor=request.user, watch=endpoint):
                count += services.endpoint_deactivate(endpoint=endpoint)
        self.message_user(
            request, ngettext("Deactivated %(n)d endpoint.", "Deactivated %(n)d endpoints.", count) % {"n": count}
        )


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ["number", "created_at", "status_code", "error", "duration_ms"]  # no answer body (review 8.7)
    readonly_fields = fields
    ordering = ["created_at", "id"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """Deliveries of customers' webhooks; support and operations may send one
    again (``delivery_resend``, the dashboard's "send again")."""

    list_display = ["id", "event_type", "event", "endpoint", "status", "attempts", "last_status_code", "created_at"]
    list_filter = ["status", "event__type"]
    search_fields = ["=event__id", "=endpoint__id", "endpoint__url"]
    list_select_related = ["event", "endpoint"]
    fields = [
        "event",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "created_at",
        "completed_at",
        "payload",
    ]
    readonly_fields = fields
    inlines = [WebhookAttemptInline]
    actions = ["resend"]

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("messaging.add_webhookdelivery")

    @admin.action(description=_("Send the selected webhooks again"), permissions=["resend"])
    def resend(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        sent = 0
        for delivery in queryset.select_related("endpoint__customer"):
            try:
                services.delivery_resend(customer=delivery.endpoint.customer, delivery_id=delivery.pk)
            except ServiceError as error:
                self.message_user(request, f"#{delivery.pk}: {error.message}", messages.ERROR)
            else:
                sent += 1
        if sent:
            self.message_user(
                request,
                ngettext("Sent %(n)d webhook again.", "Sent %(n)d webhooks again.", sent) % {"n": sent},
                messages.SUCCESS,
            )

    @admin.display(description=_("event type"), ordering="event__type")
    def event_type(self, obj: WebhookDelivery) -> str:
        return obj.event.type

    @admin.display(description=_("payload"))
    def payload(self, obj: WebhookDelivery) -> Any:
        return obj.event.payload


# --- Verification texts ---------------------------------------------------------------


class MessageTemplateForm(ServiceForm):
    """Saved by ``template_set``, so a staff edit is validated like a customer's."""

    class Meta:
        model = MessageTemplate
        fields = ["customer", "locale", "body"]

    def perform(self, data: dict[str, Any]) -> MessageTemplate:
        return services.template_set(
            customer=data.get("customer") or self.instance.customer,
            locale=data.get("locale") or self.instance.locale,
            body=data["body"],
        )


@admin.register(MessageTemplate)
class MessageTemplateAdmin(ServiceFormAdmin):
    form = MessageTemplateForm
    list_display = ["customer", "locale", "body", "updated_at"]
    list_filter = ["locale"]
    search_fields = ["customer__name", "customer__slug", "body"]
    list_select_related = ["customer"]
    autocomplete_fields = ["customer"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["customer", "locale", "updated_at"] if obj is not None else ["updated_at"]

    def delete_model(self, request: HttpRequest, obj: MessageTemplate) -> None:
        services.template_delete(customer=obj.customer, locale=obj.locale)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[MessageTemplate]) -> None:
        for template in queryset.select_related("customer"):
            services.template_delete(customer=template.customer, locale=template.locale)


# --- Sandbox, early reports, idempotency -------------------------------------------------


@admin.register(SandboxMessage)
class SandboxMessageAdmin(PhoneSearchMixin, ReadOnlyAdmin):
    list_display = ["message", "customer", "to", "channel", "sender_id", "created_at"]
    list_filter = ["channel"]
    search_fields = ["=message__id", "to"]
    list_select_related = ["customer"]
    fields = ["message", "customer", "to", "channel", "sender_id", "text", "created_at"]
    readonly_fields = fields


@admin.register(PendingReport)
class PendingReportAdmin(ReadOnlyAdmin):
    list_display = ["provider", "provider_message_id", "state", "error_code", "occurred_at", "created_at"]
    list_filter = ["provider", "state"]
    search_fields = ["=provider_message_id"]
    fields = list_display
    readonly_fields = list_display
