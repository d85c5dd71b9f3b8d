"""Building blocks shared by billing's back-office pages.

Every write in the admin goes through one ``billing.services`` use case. The
forms run it while they validate (``ServiceForm`` for the admin's own add and
edit forms, ``ServiceActionForm`` for the extra pages: record a payment, void
an invoice, record posting…), so a refusal is shown as a form error and
nothing is written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from billing.forms import add_service_error
from billing.pricing import jakarta_date
from billing.templatetags.money import format_rupiah
from otpportal.audit import staff_change
from otpportal.errors import ServiceError


class _PerformsService:
    """Run ``perform`` (one service call) once the input is valid; a
    ``ServiceError`` becomes a form error (on the field its ``details`` name,
    mapped through ``error_fields``) and ``result`` stays ``None``.

    The call is one staff operation for the audit log
    (``otpportal.audit.staff_change``): named after the form, with the
    reason or note staff typed, watching the row(s) it acts on."""

    user: Any = None
    error_fields: ClassVar[dict[str, str]] = {}
    result: Any = None

    def perform(self, data: dict[str, Any]) -> Any:
        raise TypeError(f"{type(self).__name__} must define perform(), which calls one service")

    def audit_watch(self) -> Any:
        return getattr(self, "target", None) or getattr(self, "instance", None)

    def audit_action(self) -> str:
        """The form that defines the use case (the admin subclasses it for each model)."""
        return next(cls.__name__ for cls in type(self).__mro__ if "perform" in cls.__dict__)

    def full_clean(self) -> None:
        super().full_clean()  # type: ignore[misc]
        if not self.is_bound or self._errors or self.result is not None:  # type: ignore[attr-defined]
            return
        data = self.cleaned_data  # type: ignore[attr-defined]
        reason = data.get("reason") or data.get("note") or ""
        try:
            with staff_change(action=self.audit_action(), reason=reason, actor=self.user, watch=self.audit_watch()):
                self.result = self.perform(data)
        except ServiceError as error:
            add_service_error(self, error, self.error_fields)  # type: ignore[arg-type]


class ServiceForm(_PerformsService, forms.ModelForm):
    """A model form whose use case runs once the input is valid.

    ``perform`` calls one service and returns the row it wrote; a
    ``ServiceError`` becomes a form error (on the field its ``details`` name,
    mapped through ``error_fields``). The admin sets ``user``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.result: models.Model | None = None


class ServiceActionForm(_PerformsService, forms.Form):
    """A plain form on one of the admin's extra pages, with the same rule:
    valid input runs the use case; a refusal is a form error. ``target`` is
    the row (or rows) the page acts on."""

    def __init__(self, *args: Any, user: Any = None, target: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.target = target
        self.result = None


class ServiceFormAdmin(admin.ModelAdmin):
    """Hands the signed-in staff user to the form; adopts what it wrote."""

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if issubclass(form, ServiceForm):
            form = type(form.__name__, (form,), {"user": request.user})
        return form

    def save_model(self, request: HttpRequest, obj: models.Model, form: forms.ModelForm, change: bool) -> None:
        result = getattr(form, "result", None)
        if result is None:  # pragma: no cover - a ServiceForm is valid only once it performed
            raise RuntimeError("The form did not run its use case.")
        obj.__dict__.update({k: v for k, v in result.__dict__.items() if k != "_state"})
        obj._state.adding = False
        obj._state.db = result._state.db


def bank_reference_field() -> forms.CharField:
    """The reference of a bank transfer staff record (a lot, a guarantee deposit)."""
    return forms.CharField(
        label=_("Bank reference"),
        max_length=100,
        help_text=_("The bank transfer's reference. The same reference is never recorded twice for a customer."),
    )


def rupiah(value: int | None) -> str:
    return format_rupiah(value)


_GROUPED_RUPIAH = re.compile(r"^\d{1,3}(\.\d{3})+$")


def parse_rupiah_text(text: str) -> str:
    """Accept the Indonesian way of writing rupiah (``Rp 2.500.000``); the
    use case decides what a valid amount is."""
    text = text.strip()
    text = re.sub(r"^rp\.?\s*", "", text, flags=re.IGNORECASE)
    return text.replace(".", "") if _GROUPED_RUPIAH.match(text) else text


class RupiahField(forms.CharField):
    """An amount as staff type it: ``2500000``, ``2.500.000`` or ``Rp 2.500.000``."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 30)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        return parse_rupiah_text(super().clean(value))


def form_page(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    *,
    title: str,
    form: forms.BaseForm,
    submit: str,
    obj: models.Model | None = None,
    objects: Any = None,
    intro: str = "",
    facts: list[tuple[str, Any]] | None = None,
    action: str = "",
    danger: bool = False,
    status: int = 200,
) -> TemplateResponse:
    """One of the admin's extra pages: facts about the rows concerned, a form
    and its button. With ``action`` set it is the intermediate page of a
    changelist action: the selection and the action ride along."""
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": opts,
        "original": obj,
        "objects": objects,
        "form": form,
        "submit": submit,
        "intro": intro,
        "facts": facts or [],
        "action": action,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
        "danger": danger,
        "media": model_admin.media + form.media,
    }
    return TemplateResponse(request, "billing/admin/form_page.html", context, status=status)


# --- The extra pages' plumbing ---------------------------------------------------------


def jakarta_today() -> date:
    """Business days are Asia/Jakarta days."""
    return jakarta_date(timezone.now())


def require_permission(request: HttpRequest, permission: str) -> None:
    """The extra pages change money: they need the model permission the
    operation belongs to (the change pages themselves are read-only)."""
    if not request.user.has_perm(f"billing.{permission}"):
        raise PermissionDenied


def tool_links(*links: tuple[str, str] | None) -> list[dict[str, str]]:
    return [{"label": str(label), "url": url} for label, url in filter(None, links)]


class ToolsMixin:
    """Buttons above a read-only change page or a changelist, each leading to
    one operation's page (``billing/admin/change_form_tools.html``)."""

    change_form_template = "billing/admin/change_form_tools.html"
    change_list_template = "billing/admin/change_list_tools.html"

    def object_tools(self, request: HttpRequest, obj: Any) -> list[dict[str, str]]:
        return []

    def list_tools(self, request: HttpRequest) -> list[dict[str, str]]:
        return []

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)  # type: ignore[attr-defined]
        tools = self.object_tools(request, obj) if obj is not None else []
        return super().change_view(  # type: ignore[misc]
            request, object_id, form_url, {**(extra_context or {}), "billing_tools": tools}
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return super().changelist_view(  # type: ignore[misc]
            request, {**(extra_context or {}), "billing_tools": self.list_tools(request)}
        )


@dataclass(frozen=True)
class Done:
    """What an operation's page says and where it goes once the use case ran;
    ``log`` is kept in the admin's history of ``logged``."""

    message: str
    url: str
    log: str = ""
    logged: models.Model | None = None


def operation_page(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    *,
    form_class: type[ServiceActionForm],
    target: Any,
    done: Callable[[Any], Done],
    initial: dict[str, Any] | None = None,
    **page: Any,
) -> HttpResponse:
    """One operation on one row: the form (``form_page``) on GET; on POST
    the form runs the use case and, once it did, the page says so and
    redirects; a refusal is shown on the form and nothing is written."""
    data = request.POST if request.method == "POST" else None
    form = form_class(data, user=request.user, target=target, initial=initial)
    if form.is_bound and form.is_valid():
        outcome = done(form)
        if outcome.log and outcome.logged is not None:
            model_admin.log_change(request, outcome.logged, outcome.log)
        model_admin.message_user(request, outcome.message, messages.SUCCESS)
        return HttpResponseRedirect(outcome.url)
    return form_page(model_admin, request, form=form, **page)


def change_url(obj: Any) -> str:
    return reverse(f"admin:billing_{obj._meta.model_name}_change", args=[obj.pk])


def admin_link(obj: Any, text: Any = None) -> str:
    if obj is None:
        return "—"
    return format_html('<a href="{}">{}</a>', change_url(obj), text if text is not None else obj)
