"""Staff back-office for customers, users, memberships and API keys."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts import services
from accounts.models import ApiKey, Customer, Membership, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "mode", "status", "billing_email", "created_at"]
    list_filter = ["mode", "status"]
    search_fields = ["name", "slug", "legal_name", "npwp", "billing_email"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]
    actions = ["suspend", "reactivate"]

    @admin.action(description=_("Suspend selected customers"))
    def suspend(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        for customer in queryset:
            services.customer_set_status(customer=customer, status=Customer.Status.SUSPENDED)
        self.message_user(request, _("Suspended %(n)d customer(s).") % {"n": queryset.count()})

    @admin.action(description=_("Reactivate selected customers"))
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        for customer in queryset:
            services.customer_set_status(customer=customer, status=Customer.Status.ACTIVE)
        self.message_user(request, _("Reactivated %(n)d customer(s).") % {"n": queryset.count()})


@admin.register(User)
class UserAdmin(BaseUserAdmin):
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
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "customer", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "customer__name"]
    autocomplete_fields = ["user", "customer"]


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
            ApiKey.objects.filter(pk=obj.pk).update(name=obj.name)
            return
        created = services.api_key_create(
            customer=form.cleaned_data["customer"],
            mode=form.cleaned_data["mode"],
            name=form.cleaned_data["name"],
            created_by=request.user,
        )
        obj.pk = created.api_key.pk
        obj.__dict__.update({k: v for k, v in created.api_key.__dict__.items() if not k.startswith("_")})
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

    @admin.action(description=_("Revoke selected keys"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset:
            services.api_key_revoke(api_key=api_key)
        self.message_user(request, _("Revoked %(n)d key(s).") % {"n": queryset.count()})
