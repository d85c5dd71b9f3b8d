"""The back office's additions to the apps' admins (loaded after theirs):

* the customer page becomes the customer's file: the list shows mode,
  status, balance or guarantee, the month's usage and the last send, and a
  customer's page shows its members, keys (prefix only), lots, ledger,
  invoices, sender IDs and recent messages; terminating is one more action
  (billing's page, R-POST-7);
* the audit log's list searches by our users' email and shows the reason;
* every audited model's page shows its audit trail.

Accounts may not import billing, sender IDs or messaging (architecture.md),
so the customer page that gathers them is the back office's.
"""

from __future__ import annotations

from typing import Any

from auditlog.admin import LogEntryAdmin
from auditlog.models import LogEntry
from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from accounts.admin import CustomerAdmin
from accounts.models import ApiKey, Customer
from backoffice.audit import attach_trail
from backoffice.selectors import customers_with_overview
from billing import selectors as billing_selectors
from billing.models import DepositLot, Invoice, LedgerEntry
from billing.templatetags.money import format_rupiah
from messaging.models import Message
from senderids.models import Registration

RECENT_MESSAGES = 20
RECENT_LEDGER = 10
RECENT_INVOICES = 12


def _link(name: str, pk: Any, text: Any) -> str:
    return format_html('<a href="{}">{}</a>', reverse(f"admin:{name}", args=[quote(pk)]), text)


def _table(headers: list[Any], rows: list[tuple[Any, ...]], more: tuple[str, Any] | None = None) -> str:
    """A small read-only table on the customer's page, with a link to the full list."""
    if not rows:
        body = format_html('<tr><td colspan="{}">—</td></tr>', len(headers))
    else:
        body = format_html_join(
            "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),) for row in rows)
        )
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    link = format_html('<p><a href="{}">{}</a></p>', more[0], more[1]) if more else ""
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>{}", head, body, link)


def _when(moment: Any) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}" if moment else "—"


PANELS = [
    "money_panel",
    "keys_panel",
    "lots_panel",
    "ledger_panel",
    "invoices_panel",
    "sender_ids_panel",
    "messages_panel",
]


class BackOfficeCustomerAdmin(CustomerAdmin):
    list_display = [
        "name",
        "slug",
        "mode",
        "status",
        "balance_display",
        "month_usage",
        "last_send",
    ]
    list_filter = ["mode", "status"]
    actions = [*CustomerAdmin.actions, "terminate"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Customer]:
        return customers_with_overview(super().get_queryset(request))

    def get_readonly_fields(self, request: HttpRequest, obj: Customer | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        return fields + PANELS if obj is not None else fields

    def get_fieldsets(self, request: HttpRequest, obj: Customer | None = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is None:
            return fieldsets
        return [
            *fieldsets,
            (_("Money"), {"fields": ["money_panel", "lots_panel", "ledger_panel", "invoices_panel"]}),
            (_("API keys (prefix only)"), {"fields": ["keys_panel"]}),
            (_("Sender IDs"), {"fields": ["sender_ids_panel"]}),
            (_("Recent messages"), {"fields": ["messages_panel"]}),
        ]

    # --- the list --------------------------------------------------------------------------

    @admin.display(description=_("balance or guarantee"), ordering="balance")
    def balance_display(self, obj: Customer) -> str:
        if obj.mode == Customer.Mode.POSTPAID:
            return format_html(
                "{} <span class='help'>{}</span>", format_rupiah(obj.guarantee_held or 0), _("guarantee")
            )
        return format_rupiah(obj.balance)

    @admin.display(description=_("this month"), ordering="month_amount")
    def month_usage(self, obj: Customer) -> str:
        return format_html("{} · {}", obj.month_units, format_rupiah(obj.month_amount))

    @admin.display(description=_("last send"), ordering="last_send")
    def last_send(self, obj: Customer) -> str:
        return _when(obj.last_send)

    # --- the customer's page ------------------------------------------------------------------

    @admin.display(description=_("balance"))
    def money_panel(self, obj: Customer) -> str:
        if obj.mode == Customer.Mode.POSTPAID:
            position = billing_selectors.postpaid_position(customer=obj)
            guarantee = billing_selectors.guarantee(customer=obj)
            facts = [
                (_("guarantee held"), format_rupiah(position.guarantee)),
                (_("monthly cap"), f"{format_rupiah(position.cap)} ({position.cap_percent}%)"),
                (_("this month so far (before VAT)"), format_rupiah(position.month.amount)),
            ]
            if guarantee is not None:
                facts.append((_("guarantee"), _link("billing_guarantee_change", guarantee.pk, _("open"))))
        else:
            facts = [(_("prepaid balance"), format_rupiah(billing_selectors.balance(customer=obj)))]
        return format_html_join("", "<div><strong>{}</strong>: {}</div>", facts)

    @admin.display(description=_("API keys"))
    def keys_panel(self, obj: Customer) -> str:
        keys = ApiKey.objects.filter(customer=obj).order_by("-created_at")
        rows = [
            (
                _link("accounts_apikey_change", key.pk, format_html("<code>{}…</code>", key.prefix)),
                key.name or "—",
                key.get_mode_display(),
                _when(key.created_at),
                _when(key.last_used_at),
                _when(key.revoked_at),
            )
            for key in keys
        ]
        return _table([_("prefix"), _("name"), _("mode"), _("created at"), _("last used at"), _("revoked at")], rows)

    @admin.display(description=_("deposit lots"))
    def lots_panel(self, obj: Customer) -> str:
        lots = DepositLot.objects.filter(customer=obj).order_by("-created_at")[:RECENT_LEDGER]
        rows = [
            (
                _link("billing_depositlot_change", lot.pk, f"#{lot.pk}"),
                format_rupiah(lot.amount),
                format_rupiah(lot.remaining),
                lot.tier,
                lot.reference,
                _when(lot.created_at),
                _when(lot.expires_at),
            )
            for lot in lots
        ]
        url = reverse("admin:billing_depositlot_changelist") + f"?customer__id__exact={obj.pk}"
        return _table(
            [_("lot"), _("amount"), _("remaining"), _("tier"), _("bank reference"), _("created at"), _("expires at")],
            rows,
            (url, _("All lots")),
        )

    @admin.display(description=_("ledger"))
    def ledger_panel(self, obj: Customer) -> str:
        entries = LedgerEntry.objects.filter(customer=obj).order_by("-created_at", "-id")[:RECENT_LEDGER]
        rows = [
            (_when(e.created_at), e.get_book_display(), e.get_kind_display(), format_rupiah(e.amount), e.reference)
            for e in entries
        ]
        url = reverse("admin:billing_ledgerentry_changelist") + f"?customer__id__exact={obj.pk}"
        return _table(
            [_("created at"), _("book"), _("kind"), _("amount"), _("reference")], rows, (url, _("The whole ledger"))
        )

    @admin.display(description=_("invoices"))
    def invoices_panel(self, obj: Customer) -> str:
        invoices = Invoice.objects.filter(customer=obj).order_by("-issue_date", "-number")[:RECENT_INVOICES]
        rows = [
            (
                _link("billing_invoice_change", i.pk, i.number),
                f"{i.period:%Y-%m}",
                format_rupiah(i.total),
                i.get_status_display(),
                f"{i.due_date:%Y-%m-%d}",
            )
            for i in invoices
        ]
        url = reverse("admin:billing_invoice_changelist") + f"?customer__id__exact={obj.pk}"
        return _table([_("number"), _("month"), _("total"), _("status"), _("due date")], rows, (url, _("All invoices")))

    @admin.display(description=_("sender IDs"))
    def sender_ids_panel(self, obj: Customer) -> str:
        registrations = Registration.objects.filter(customer=obj).order_by("name", "operator", "route")
        rows = [
            (
                _link("senderids_registration_change", r.pk, r.name),
                r.operator_label,
                r.get_status_display(),
                f"{r.expected_by:%Y-%m-%d}",
            )
            for r in registrations
        ]
        return _table([_("sender name"), _("operator"), _("status"), _("expected by")], rows)

    @admin.display(description=_("recent messages"))
    def messages_panel(self, obj: Customer) -> str:
        recent = Message.objects.filter(customer=obj).order_by("-created_at")[:RECENT_MESSAGES]
        rows = [
            (
                _link("messaging_message_change", m.pk, m.pk),
                m.to,
                m.get_channel_display(),
                m.get_status_display(),
                m.provider or "—",
                _when(m.created_at),
            )
            for m in recent
        ]
        url = reverse("admin:messaging_message_changelist") + f"?customer__id__exact={obj.pk}"
        return _table(
            [_("message"), _("to"), _("channel"), _("status"), _("provider"), _("created at")],
            rows,
            (url, _("All messages")),
        )

    # --- terminate (R-POST-7) -----------------------------------------------------------------

    def has_terminate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("billing.change_guarantee")

    @admin.action(description=_("Terminate the selected customer…"), permissions=["terminate"])
    def terminate(self, request: HttpRequest, queryset: QuerySet[Customer]) -> HttpResponse | None:
        """One customer at a time: billing's page shows what termination does
        (the guarantee settled, the refund due) and asks for a reason."""
        customers = list(queryset[:2])
        if len(customers) != 1:
            self.message_user(request, _("Select exactly one customer to terminate."), messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:billing_guarantee_terminate", args=[customers[0].pk]))


class BackOfficeLogEntryAdmin(LogEntryAdmin):
    """django-auditlog's list, searchable by our users' email, with the reason."""

    search_fields = ["object_repr", "=object_pk", "actor__email", "actor_email"]
    list_display = ["created", "resource_url", "action", "msg_short", "user_url", "why"]

    @admin.display(description=_("why"))
    def why(self, entry: LogEntry) -> str:
        data = entry.additional_data if isinstance(entry.additional_data, dict) else {}
        return " ".join(filter(None, [data.get("action", ""), data.get("reason", "")])) or "—"


admin.site.unregister(Customer)
admin.site.register(Customer, BackOfficeCustomerAdmin)
admin.site.unregister(LogEntry)
admin.site.register(LogEntry, BackOfficeLogEntryAdmin)
attach_trail(admin.site)
