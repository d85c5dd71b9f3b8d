"""Staff back-office for sender IDs: the applications with their
registrations (read-only) and the signed form, downloadable by staff only;
the registrations, moved through their state machine by actions that ask
for a note and call ``services.registration_move`` (R-SID-4); the
quarterly traffic records (R-SID-6, R-SID-7).

Nothing is edited directly: every change is a service call.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from billing.forms import service_error_text
from otpportal.admin_mixins import ReadOnlyAdmin, ReadOnlyInline
from otpportal.audit import staff_change
from otpportal.errors import ServiceError
from otpportal.workdays import working_days_between
from senderids import services
from senderids.forms import MoveForm
from senderids.models import Registration, RegistrationStatusChange, SenderId, TrafficReview
from senderids.views import form_response

S = Registration.Status


class RegistrationInline(ReadOnlyInline):
    model = Registration
    fields = [
        "registration_link",
        "status",
        "submitted_at",
        "expected_from",
        "expected_by",
        "activated_at",
        "reactivation_requested_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("operator"))
    def registration_link(self, obj: Registration) -> str:
        url = reverse("admin:senderids_registration_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.operator_label)


@admin.register(SenderId)
class SenderIdAdmin(ReadOnlyAdmin):
    """Applications (R-SID-2): check the name against the brand and the signed
    form, then move each operator's registration on the registrations page."""

    list_display = ["name", "customer", "brand", "statuses", "created_at"]
    search_fields = ["name", "brand", "customer__name", "customer__slug"]
    list_select_related = ["customer"]
    date_hierarchy = "created_at"
    fields = [
        "id",
        "customer",
        "name",
        "brand",
        "form_link",
        "form_kind",
        "form_original_name",
        "applied_by",
        "created_at",
    ]
    readonly_fields = fields
    inlines = [RegistrationInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[SenderId]:
        return super().get_queryset(request).prefetch_related("registrations")

    @admin.display(description=_("status per operator"))
    def statuses(self, obj: SenderId) -> str:
        return ", ".join(f"{r.operator_label}: {r.get_status_display()}" for r in obj.registrations.all())

    @admin.display(description=_("signed appointment form"))
    def form_link(self, obj: SenderId) -> str:
        if not obj.pk or not obj.form:
            return "—"
        url = reverse("admin:senderids_senderid_form", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Download"))

    def get_urls(self) -> list[URLPattern]:
        form = path("<str:object_id>/form/", self.admin_site.admin_view(self.form_view), name="senderids_senderid_form")
        return [form, *super().get_urls()]

    def form_view(self, request: HttpRequest, object_id: str) -> FileResponse:
        """The signed form, to staff only (never from a public media URL)."""
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        return form_response(obj)


class HistoryInline(ReadOnlyInline):
    model = RegistrationStatusChange
    fields = ["created_at", "old", "new", "reason", "actor"]
    readonly_fields = fields
    ordering = ["created_at", "id"]


WAITING = (S.SUBMITTED, S.IN_REVIEW)


def _today() -> date:
    return timezone.localdate()


class WaitingFilter(admin.SimpleListFilter):
    """The work queue: registrations waiting for the operator, oldest first,
    and those past their expected date (30 working days, R-SID-4)."""

    title = _("waiting")
    parameter_name = "waiting"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [
            ("yes", _("Waiting (submitted or in review), oldest first")),
            ("late", _("Waiting past the expected date (R-SID-4)")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Registration]) -> QuerySet[Registration]:
        if self.value() == "yes":
            return queryset.filter(status__in=WAITING)
        if self.value() == "late":
            return queryset.filter(status__in=WAITING, expected_by__lt=_today())
        return queryset


MOVE_ACTIONS: dict[str, tuple[str, Any]] = {
    "move_in_review": (S.IN_REVIEW, _("Take into review")),
    "move_active": (S.ACTIVE, _("Activate (the operator approved; reactivates a suspended one)")),
    "move_rejected": (S.REJECTED, _("Reject (with a note)")),
    "move_suspended": (S.SUSPENDED, _("Suspend (with a note)")),
}


def _move_action(name: str, target: str, description: Any) -> Any:
    def action(modeladmin: RegistrationAdmin, request: HttpRequest, queryset: QuerySet[Registration]) -> Any:
        return modeladmin.move(request, queryset, target, name)

    action.__name__ = name
    return admin.action(description=description, permissions=["change"])(action)


@admin.register(Registration)
class RegistrationAdmin(admin.ModelAdmin):
    """Each operator's registration (R-SID-4). Staff move it with an action
    and a note the customer reads: submitted → in review → active or
    rejected; active → suspended → active (Three: after the customer asked
    and its Rp 300.000 fee is charged, R-SID-6; Telkomsel: never, it needs a
    new registration, R-SID-7)."""

    list_display = [
        "name",
        "customer",
        "operator_label",
        "status",
        "submitted_at",
        "working_days_waiting",
        "expected_by",
        "past_expected",
        "reactivation_requested_at",
    ]
    list_filter = [WaitingFilter, "status", "operator", "route"]
    search_fields = ["name", "customer__name", "customer__slug"]
    list_select_related = ["customer"]
    date_hierarchy = "submitted_at"
    fields = [
        "application",
        "customer",
        "name",
        "operator",
        "route",
        "status",
        "submitted_at",
        "expected_from",
        "expected_by",
        "status_changed_at",
        "activated_at",
        "reactivation_requested_at",
        "reactivation_requested_by",
    ]
    readonly_fields = fields
    inlines = [HistoryInline]
    actions = [_move_action(name, target, description) for name, (target, description) in MOVE_ACTIONS.items()]

    @admin.display(description=_("operator"), ordering="operator")
    def operator_label(self, obj: Registration) -> str:
        return obj.operator_label

    @admin.display(description=_("working days waiting"))
    def working_days_waiting(self, obj: Registration) -> int | str:
        if obj.status not in WAITING:
            return "—"
        return working_days_between(timezone.localtime(obj.submitted_at).date(), _today())

    @admin.display(description=_("past the expected date"), boolean=True)
    def past_expected(self, obj: Registration) -> bool | None:
        return obj.expected_by < _today() if obj.status in WAITING else None

    def get_ordering(self, request: HttpRequest) -> list[str]:
        if request.GET.get(WaitingFilter.parameter_name):
            return ["submitted_at", "pk"]  # the work queue: oldest first
        return list(super().get_ordering(request))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # customers apply from the dashboard or the API

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Registration, form: Any, change: bool) -> None:
        """Nothing is saved directly: the actions call the state machine."""

    def move(
        self, request: HttpRequest, queryset: QuerySet[Registration], target: str, action: str
    ) -> HttpResponse | None:
        """Ask for the note on an intermediate page, then move each selected
        registration through ``services.registration_move``."""
        form = MoveForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            moved = 0
            for registration in queryset.order_by("pk"):
                try:
                    with staff_change(
                        action=action, reason=form.cleaned_data["note"], actor=request.user, watch=registration
                    ):
                        services.registration_move(
                            registration=registration,
                            new=target,
                            note=form.cleaned_data["note"],
                            actor=request.user,  # type: ignore[arg-type]
                        )
                except ServiceError as error:
                    self.message_user(request, f"{registration}: {service_error_text(error)}", messages.ERROR)
                else:
                    moved += 1
            if moved:
                self.message_user(
                    request,
                    _("Moved %(n)d registration(s) to %(status)s; the customers are emailed.")
                    % {"n": moved, "status": S(target).label},
                    messages.SUCCESS,
                )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Move registrations to %(status)s") % {"status": S(target).label},
            "opts": self.model._meta,
            "registrations": queryset.order_by("pk"),
            "form": form,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "senderids/admin/move.html", context)


@admin.register(TrafficReview)
class TrafficReviewAdmin(ReadOnlyAdmin):
    list_display = ["registration", "quarter", "kind", "units", "created_at"]
    list_filter = ["kind", "quarter"]
    list_select_related = ["registration", "registration__customer"]
