"""Staff back-office for customers, users, memberships and API keys.

Every state change goes through ``accounts.services`` (Review 8.23): a
customer's status and mode are read-only in its form and change through the
list's actions, which ask for a reason; key renames, memberships added,
re-roled or removed (inline or on their own page) call their use case.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import models
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts import services
from accounts.models import ApiKey, Customer, IdempotencyRecord, Membership, User
from otpportal.admin_mixins import ReadOnlyAdmin
from otpportal.audit import staff_change
from otpportal.errors import ServiceError


def _adopt(obj: models.Model, created: models.Model) -> None:
    """Make the admin's unsaved ``obj`` the row a use case created, so the
    admin's redirect, messages and inlines refer to that row."""
    for field in created._meta.concrete_fields:
        setattr(obj, field.attname, getattr(created, field.attname))
    obj._state.adding = False
    obj._state.db = created._state.db


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Kept in the customer's history."),
    )


# --- memberships -----------------------------------------------------------


class CustomerMembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


class UserMembershipInline(CustomerMembershipInline):
    autocomplete_fields = ["customer"]
    fields = ["customer", "role", "created_at"]


class MembershipsThroughServices:
    """Saves the membership inline through the use cases, never the formset."""

    def save_formset(
        self, request: HttpRequest, form: forms.ModelForm, formset: BaseInlineFormSet, change: bool
    ) -> None:
        if formset.model is not Membership:
            super().save_formset(request, form, formset, change)  # type: ignore[misc]
            return
        actor = request.user
        formset.save(commit=False)  # fills deleted/changed/new_objects; writes nothing
        for membership in formset.deleted_objects:
            services.membership_remove(membership=membership, actor=actor)  # type: ignore[arg-type]
        for membership, changed in formset.changed_objects:
            if {"user", "customer"} & set(changed):  # another person or customer: a new membership
                before = Membership.objects.select_related("user", "customer").get(pk=membership.pk)
                services.membership_remove(membership=before, actor=actor)  # type: ignore[arg-type]
                _adopt(membership, _membership_add(membership, actor))
            else:
                with staff_change(action="set_member_role", actor=actor, watch=membership):
                    services.membership_set_role(membership=membership, role=membership.role, actor=actor)  # type: ignore[arg-type]
        for membership in formset.new_objects:
            _adopt(membership, _membership_add(membership, actor))


def _membership_add(membership: Membership, actor: Any) -> Membership:
    return services.membership_add(
        customer=membership.customer, email=membership.user.email, role=membership.role, actor=actor
    )


class MembershipAddForm(forms.ModelForm):
    email = forms.EmailField(
        label=_("email address"), help_text=_("A new address gets a user account; it sets its password by reset.")
    )

    class Meta:
        model = Membership
        fields = ["customer", "email", "role"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "customer", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "customer__name"]
    autocomplete_fields = ["customer"]
    list_select_related = ["user", "customer"]

    def get_form(self, request: HttpRequest, obj: Membership | None = None, **kwargs: Any) -> type[forms.ModelForm]:
        if obj is None:
            kwargs["form"] = MembershipAddForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Membership | None = None) -> list[str]:
        return ["customer", "email", "role"] if obj is None else ["customer", "user", "role", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Membership | None = None) -> list[str]:
        return [] if obj is None else ["customer", "user", "created_at"]

    def save_model(self, request: HttpRequest, obj: Membership, form: forms.ModelForm, change: bool) -> None:
        if change:
            with staff_change(action="set_member_role", actor=request.user, watch=obj):
                services.membership_set_role(membership=obj, role=form.cleaned_data["role"], actor=request.user)  # type: ignore[arg-type]
            return
        created = services.membership_add(
            customer=form.cleaned_data["customer"],
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            actor=request.user,  # type: ignore[arg-type]
        )
        _adopt(obj, created)

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        services.membership_remove(membership=obj, actor=request.user)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in queryset.select_related("user", "customer"):
            self.delete_model(request, membership)


# --- customers ---------------------------------------------------------------


def _reason_action(name: str, description: str, **with_reason: Any) -> Callable[..., TemplateResponse | None]:
    """A customer-list action that asks for a reason, then calls a use case per customer."""

    def action(admin_: CustomerAdmin, request: HttpRequest, queryset: QuerySet[Customer]) -> TemplateResponse | None:
        return admin_.with_reason(request, queryset, action=name, **with_reason)

    action.__name__ = name
    return admin.action(description=description, permissions=["change"])(action)


@admin.register(Customer)
class CustomerAdmin(MembershipsThroughServices, admin.ModelAdmin):
    list_display = ["name", "slug", "mode", "status", "billing_email", "created_at"]
    list_filter = ["mode", "status"]
    search_fields = ["name", "slug", "legal_name", "npwp", "billing_email", "memberships__user__email"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [CustomerMembershipInline]
    actions = ["suspend", "reactivate", "switch_to_prepaid", "switch_to_postpaid"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "brand_name", "billing_email"]}),
        (_("Legal"), {"fields": ["legal_name", "npwp", "postal_address"]}),
        (
            _("Status and mode"),
            {
                "fields": ["mode", "status", "created_at"],
                "description": _(
                    "Status and mode change through the actions of the customer list, with a reason; "
                    "termination is billing's (it settles the guarantee, R-POST-7)."
                ),
            },
        ),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Customer | None = None) -> list[str]:
        return ["status", "created_at"] if obj is None else ["status", "mode", "created_at"]

    def save_model(self, request: HttpRequest, obj: Customer, form: forms.ModelForm, change: bool) -> None:
        if change:
            # Only what the form changed: never write back a status or mode read earlier.
            columns = {field.name for field in Customer._meta.concrete_fields}
            changed = [name for name in form.changed_data if name in columns]
            if changed:
                obj.save(update_fields=changed)
            return
        data = form.cleaned_data
        created = services.customer_create(
            name=data["name"],
            slug=data["slug"],
            billing_email=data["billing_email"],
            mode=data["mode"],
            legal_name=data["legal_name"],
            npwp=data["npwp"],
            postal_address=data["postal_address"],
            brand_name=data["brand_name"],
        )
        _adopt(obj, created)

    def with_reason(
        self,
        request: HttpRequest,
        queryset: QuerySet[Customer],
        *,
        action: str,
        title: str,
        apply: Callable[..., object],
        done: str,
    ) -> TemplateResponse | None:
        """An action that asks for a reason first, then calls ``apply`` per customer."""
        form = ReasonForm(request.POST if "post" in request.POST else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": title,
                "opts": self.model._meta,
                "objects": queryset,
                "form": form,
                "action": request.POST.get("action", ""),
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/accounts/customer/action_with_reason.html", context)
        reason = form.cleaned_data["reason"]
        changed = 0
        for customer in queryset:
            try:
                with staff_change(action=action, reason=reason, actor=request.user, watch=customer):
                    apply(customer=customer, reason=reason, actor=request.user)
            except ServiceError as error:
                self.message_user(request, f"{customer}: {error.message}", messages.ERROR)
                continue
            self.log_change(request, customer, f"{title}: {reason}")
            changed += 1
        self.message_user(request, done % {"n": changed})
        return None

    suspend = _reason_action(
        "suspend",
        _("Suspend selected customers"),
        title=_("Suspend customers"),
        apply=partial(services.customer_set_status, status=Customer.Status.SUSPENDED),
        done=_("Suspended %(n)d customer(s)."),
    )
    reactivate = _reason_action(
        "reactivate",
        _("Reactivate selected customers"),
        title=_("Reactivate customers"),
        apply=partial(services.customer_set_status, status=Customer.Status.ACTIVE),
        done=_("Reactivated %(n)d customer(s)."),
    )
    switch_to_prepaid = _reason_action(
        "switch_to_prepaid",
        _("Switch selected customers to prepaid"),
        title=_("Switch customers to prepaid"),
        apply=partial(services.customer_set_mode, mode=Customer.Mode.PREPAID),
        done=_("Switched %(n)d customer(s) to prepaid."),
    )
    switch_to_postpaid = _reason_action(
        "switch_to_postpaid",
        _("Switch selected customers to postpaid"),
        title=_("Switch customers to postpaid"),
        apply=partial(services.customer_set_mode, mode=Customer.Mode.POSTPAID),
        done=_("Switched %(n)d customer(s) to postpaid."),
    )


# --- users -------------------------------------------------------------------------


@admin.register(User)
class UserAdmin(MembershipsThroughServices, BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "full_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal info"), {"fields": ("full_name",)}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    readonly_fields = ["last_login", "date_joined"]  # kept by the sign-in, never typed
    inlines = [UserMembershipInline]


# --- API keys -------------------------------------------------------------------------


class ApiKeyAddForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["customer", "name", "mode"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix_display", "customer", "name", "mode", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["mode", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "name", "customer__name", "customer__slug"]
    autocomplete_fields = ["customer"]
    readonly_fields = ["prefix", "mode", "customer", "created_at", "created_by", "last_used_at", "revoked_at"]
    fields = ["customer", "name", "mode", "prefix", "created_at", "created_by", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    @admin.display(description=_("prefix"))
    def prefix_display(self, obj: ApiKey) -> str:
        return format_html("<code>{}…</code>", obj.prefix)

    def get_form(self, request: HttpRequest, obj: ApiKey | None = None, **kwargs: Any) -> type[forms.ModelForm]:
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        return ["customer", "name", "mode"] if obj is None else self.fields

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        return [] if obj is None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ApiKey, form: forms.ModelForm, change: bool) -> None:
        if change:
            with staff_change(action="rename_api_key", actor=request.user, watch=obj):
                services.api_key_rename(api_key=obj, name=form.cleaned_data["name"])
            return
        created = services.api_key_create(
            customer=form.cleaned_data["customer"],
            mode=form.cleaned_data["mode"],
            name=form.cleaned_data["name"],
            created_by=request.user,
        )
        _adopt(obj, created.api_key)
        messages.warning(
            request,
            format_html(
                "{} <code>{}</code>",
                _("Copy the new key now; it will not be shown again:"),
                created.secret,
            ),
        )

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False

    @admin.action(description=_("Revoke selected keys"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset:
            with staff_change(action="revoke_api_key", actor=request.user, watch=api_key):
                services.api_key_revoke(api_key=api_key)
        self.message_user(request, _("Revoked %(n)d key(s).") % {"n": queryset.count()})


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ["customer", "key", "method", "path", "status_code", "created_at"]
    list_filter = ["method", "status_code"]
    search_fields = ["=key", "customer__slug", "path"]
    list_select_related = ["customer"]
    fields = ["customer", "key", "method", "path", "request_hash", "status_code", "response", "created_at"]
    readonly_fields = fields
