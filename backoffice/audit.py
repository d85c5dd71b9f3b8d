"""What the audit log records (django-auditlog, one table in its own app).

Every row that holds money, a status or configuration is registered here:
each save, creation and deletion of one writes an entry with who (the
signed-in staff member, ``AuditActorMiddleware``), when, what (the changed
fields, old → new) and, for an admin operation, why
(``otpportal.audit.staff_change`` adds the action and the reason staff
typed). The entries are shown on each audited object's admin page
(``AuditTrailInline``) and in the audit log's own list.

Hot rows are left out on purpose: messages, verifications, charges and the
month's usage counter change on every send (their history has its own
tables: message status changes, the ledger); a charge's ledger rows are
written in bulk and are the record themselves.
"""

from __future__ import annotations

from typing import Any

from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.apps import apps
from django.contrib import admin
from django.contrib.contenttypes.admin import GenericInlineModelAdminChecks, GenericTabularInline
from django.contrib.contenttypes.forms import BaseGenericInlineFormSet
from django.db.models import QuerySet
from django.db.models.signals import pre_save
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from otpportal.audit import stamp_entry

# label -> django-auditlog registration options. Secrets and bookkeeping that
# changes without anyone deciding it (last used, reminders sent, PDFs) are left out.
AUDITED: dict[str, dict[str, Any]] = {
    "accounts.Customer": {},
    "accounts.Membership": {},
    "accounts.ApiKey": {"exclude_fields": ["key_hash", "last_used_at"]},
    "accounts.User": {"exclude_fields": ["password", "last_login"], "m2m_fields": {"groups", "user_permissions"}},
    "auth.Group": {"m2m_fields": {"permissions"}},
    "billing.PriceList": {},
    "billing.DepositLot": {"exclude_fields": ["expiry_warned_days"]},
    "billing.LedgerEntry": {},
    "billing.TopUpRequest": {},
    "billing.BillingAccount": {"exclude_fields": ["low_balance_notified", "inactivity_warned_for"]},
    "billing.Guarantee": {},
    "billing.Invoice": {
        "exclude_fields": ["pdf", "pdf_sha256", "emailed_at", "reminded_before_due_at", "reminded_on_due_at", "bill_to"]
    },
    "billing.Payment": {},
    "billing.GuaranteeRefund": {},
    "senderids.Registration": {},
    "messaging.WebhookEndpoint": {"exclude_fields": ["secret"]},
    "messaging.MessageTemplate": {},
    "django_celery_beat.PeriodicTask": {"exclude_fields": ["last_run_at", "total_run_count", "date_changed"]},
}


def audited_models() -> list[Any]:
    return [apps.get_model(label) for label in AUDITED]


def register_models() -> None:
    """Register the audited models and stamp each entry with the admin
    operation's action and reason (``otpportal.audit``). Called once, from
    the app's ``ready``."""
    for label, options in AUDITED.items():
        model = apps.get_model(label)
        if not auditlog.contains(model):
            auditlog.register(model, **options)
    pre_save.connect(stamp_entry, sender=LogEntry, dispatch_uid="otpportal.audit.stamp_entry")


class _TrailChecks(GenericInlineModelAdminChecks):
    """An audit entry names its object by content type and primary key
    without declaring a GenericForeignKey; the inline needs nothing more."""

    def _check_relation(self, obj: Any, parent_model: Any) -> list[Any]:
        return []


class _TrailFormSet(BaseGenericInlineFormSet):
    """Shown, never submitted: the page's own form is saved whatever the post
    says about the trail (a script, or a page opened before an entry was added)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["data"] = kwargs["files"] = None
        super().__init__(*args, **kwargs)
        self.new_objects: list[Any] = []
        self.changed_objects: list[Any] = []
        self.deleted_objects: list[Any] = []

    def is_valid(self) -> bool:
        return True

    def save(self, commit: bool = True) -> list[Any]:
        return []


class AuditTrailInline(GenericTabularInline):
    """The audit entries of the object on its own admin page, newest first."""

    checks_class = _TrailChecks
    formset = _TrailFormSet
    model = LogEntry
    ct_field = "content_type"
    ct_fk_field = "object_pk"
    extra = 0
    can_delete = False
    show_change_link = False
    verbose_name = _("audit entry")
    verbose_name_plural = _("audit trail (who, when, what and why)")
    fields = ["timestamp", "actor_display", "action", "changes_display", "why"]
    readonly_fields = fields
    ordering = ["-timestamp", "-id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[LogEntry]:
        return super().get_queryset(request).select_related("actor")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("who"))
    def actor_display(self, entry: LogEntry) -> str:
        return str(entry.actor or entry.actor_email or _("the platform"))

    @admin.display(description=_("what"))
    def changes_display(self, entry: LogEntry) -> str:
        changes = entry.changes_dict
        if not changes:
            return "—"
        return format_html_join(
            "",
            "<div><strong>{}</strong>: {} → {}</div>",
            ((name, _short(values, 0), _short(values, 1)) for name, values in changes.items()),
        )

    @admin.display(description=_("why"))
    def why(self, entry: LogEntry) -> str:
        data = entry.additional_data or {}
        if not isinstance(data, dict) or not (data.get("action") or data.get("reason")):
            return "—"
        return format_html("<code>{}</code> {}", data.get("action", ""), data.get("reason", ""))


def _short(values: Any, index: int) -> str:
    try:
        value = values[index]
    except (IndexError, KeyError, TypeError):
        return ""
    text = "—" if value in (None, "None", "") else str(value)
    return text if len(text) <= 80 else text[:79] + "…"


def attach_trail(site: admin.AdminSite) -> None:
    """Show the audit trail on the page of every audited model the site has."""
    for model in audited_models():
        model_admin = site._registry.get(model)
        if model_admin is not None and AuditTrailInline not in model_admin.inlines:
            model_admin.inlines = [*model_admin.inlines, AuditTrailInline]
