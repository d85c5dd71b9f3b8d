"""Dashboard pages of messaging: messages and their history, verifications,
the sandbox inbox (with a test send), webhooks, the customer's own
verification texts, and API keys.

Every read goes through ``messaging.selectors`` / ``accounts.selectors``
scoped to ``request.customer``; every write through one service; a
``ServiceError`` is shown as a form error or a message, never a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import ApiKey, Customer, Membership
from accounts.views import customer_required, roles_required
from billing.forms import add_service_error, service_error_text
from messaging import content, phones, selectors, services
from messaging.filters import MessageFilter, VerificationFilter
from messaging.forms import (
    ApiKeyCreateForm,
    NumberFilterForm,
    SandboxSendForm,
    TemplateForm,
    WebhookEndpointForm,
)
from messaging.models import Message, MessageTemplate
from otpportal.errors import ServiceError

PAGE_SIZE = 50
SANDBOX_ROWS = 100
DELIVERY_ROWS = 50
BUILDER_ROLES = (Membership.Role.OWNER, Membership.Role.DEVELOPER)
LOCALES = tuple(MessageTemplate._meta.get_field("locale").choices or ())
PREVIEW_CODE = "482913"
PREVIEW_TTL = 300


def _customer(request: HttpRequest) -> Customer:
    return request.customer  # type: ignore[attr-defined,no-any-return]


def _is_builder(request: HttpRequest) -> bool:
    return request.membership.role in BUILDER_ROLES  # type: ignore[attr-defined]


def _operator_label(value: str) -> str:
    try:
        return phones.Operator(value).label
    except ValueError:
        return value


def _status_label(value: str) -> str:
    return str(Message.Status(value).label) if value in Message.Status.values else value


def _message_row(message: Message) -> dict[str, Any]:
    return {"message": message, "to": phones.mask(message.to), "operator": _operator_label(message.operator)}


# --- Messages ------------------------------------------------------------------


@require_GET
@customer_required
def message_list(request: HttpRequest) -> HttpResponse:
    # The API's FilterSet (Review 8.26); the dashboard shows both modes unless asked.
    filters = MessageFilter(request.GET, queryset=selectors.messages(customer=_customer(request)))
    page = Paginator(filters.result(), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": filters.form, "page": page, "rows": [_message_row(m) for m in page.object_list]}
    return render(request, "messaging/message_list.html", context, status=400 if filters.errors else 200)


@require_GET
@customer_required
def message_detail(request: HttpRequest, message_id: str) -> HttpResponse:
    try:
        message, history = selectors.message_history(customer=_customer(request), message_id=message_id)
    except ServiceError:
        raise Http404(_("No such message.")) from None
    changes = [
        {"change": change, "old": _status_label(change.old) if change.old else "", "new": _status_label(change.new)}
        for change in history
    ]
    context = {"row": _message_row(message), "message": message, "history": changes}
    return render(request, "messaging/message_detail.html", context)


# --- Verifications ---------------------------------------------------------------


@require_GET
@customer_required
def verification_list(request: HttpRequest) -> HttpResponse:
    filters = VerificationFilter(request.GET, queryset=selectors.verifications(customer=_customer(request)))
    page = Paginator(filters.result(), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"verification": v, "to": phones.mask(v.to)} for v in page.object_list]
    context = {"form": filters.form, "page": page, "rows": rows}
    return render(request, "messaging/verification_list.html", context, status=400 if filters.errors else 200)


# --- Sandbox ------------------------------------------------------------------------


def _sandbox_key(customer: Customer) -> ApiKey | None:
    """The customer's most recent active test key: the dashboard's test sends use it."""
    keys = account_selectors.customer_api_keys(customer=customer)
    return keys.filter(mode=ApiKey.Mode.TEST, revoked_at__isnull=True).first()


def _sandbox_page(request: HttpRequest, send_form: SandboxSendForm | None = None, status: int = 200) -> HttpResponse:
    customer = _customer(request)
    filter_form = NumberFilterForm(request.GET, auto_id="filter_%s")  # the send form has its own "to"
    to = filter_form.cleaned_data["to"] if filter_form.is_valid() else None
    rows = selectors.sandbox_messages(customer=customer, to=to or None, limit=SANDBOX_ROWS) if to is not None else []
    can_send = _is_builder(request)
    context = {
        "filter_form": filter_form,
        "rows": rows,
        "can_send": can_send,
        "send_form": (send_form or SandboxSendForm()) if can_send else None,
        "test_key": _sandbox_key(customer) if can_send else None,
    }
    return render(request, "messaging/sandbox.html", context, status=status)


@require_GET
@customer_required
def sandbox(request: HttpRequest) -> HttpResponse:
    return _sandbox_page(request)


@require_POST
@customer_required
@roles_required(*BUILDER_ROLES)
def sandbox_send(request: HttpRequest) -> HttpResponse:
    form = SandboxSendForm(request.POST)
    if form.is_valid():
        api_key = _sandbox_key(_customer(request))
        if api_key is None:
            form.add_error(None, _("Create a test API key first: test sends use it."))
        else:
            try:
                verification, _message = services.verification_start(
                    api_key=api_key,
                    to=form.cleaned_data["to"],
                    channel=form.cleaned_data["channel"],
                    locale=form.cleaned_data["locale"],
                    reference="dashboard-sandbox",
                )
            except ServiceError as error:
                add_service_error(form, error)
            else:
                messages.success(
                    request,
                    _("Test code sent to %(to)s (verification %(id)s). It is shown below, free of charge.")
                    % {"to": phones.mask(verification.to), "id": verification.id},
                )
                return redirect("messaging:sandbox")
    return _sandbox_page(request, send_form=form, status=400)


# --- Webhooks -----------------------------------------------------------------------


def _webhooks_page(request: HttpRequest, form: WebhookEndpointForm | None = None, status: int = 200) -> HttpResponse:
    customer = _customer(request)
    context = {
        "form": form or WebhookEndpointForm(),
        "endpoints": selectors.webhook_endpoints(customer=customer),
        "deliveries": selectors.webhook_deliveries(customer=customer, limit=DELIVERY_ROWS),
    }
    return render(request, "messaging/webhooks.html", context, status=status)


@require_GET
@customer_required
@roles_required(*BUILDER_ROLES)
def webhooks(request: HttpRequest) -> HttpResponse:
    return _webhooks_page(request)


@require_POST
@customer_required
@roles_required(*BUILDER_ROLES)
def webhook_create(request: HttpRequest) -> HttpResponse:
    form = WebhookEndpointForm(request.POST)
    if form.is_valid():
        try:
            endpoint = services.endpoint_create(
                customer=_customer(request), url=form.cleaned_data["url"], events=form.cleaned_data["events"]
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(
                request,
                _("Endpoint %(url)s added. Its signing secret is shown only this once; store it now: %(secret)s")
                % {"url": endpoint.url, "secret": endpoint.secret},
                extra_tags="secret",
            )
            return redirect("messaging:webhooks")
    return _webhooks_page(request, form=form, status=400)


def _webhook_action(request: HttpRequest, action: Callable[..., object], success: str, **kwargs: Any) -> HttpResponse:
    """Run one webhook use case; report its refusal as a message."""
    try:
        action(customer=_customer(request), **kwargs)
    except ServiceError as error:
        messages.error(request, service_error_text(error))
    else:
        messages.success(request, success)
    return redirect("messaging:webhooks")


@require_POST
@customer_required
@roles_required(*BUILDER_ROLES)
def webhook_delete(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    return _webhook_action(request, services.endpoint_delete, _("The endpoint is deleted."), endpoint_id=endpoint_id)


@require_POST
@customer_required
@roles_required(*BUILDER_ROLES)
def webhook_test(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    return _webhook_action(
        request,
        services.test_event_send,
        _("A test event is on its way; see the deliveries below."),
        endpoint_id=endpoint_id,
    )


@require_POST
@customer_required
@roles_required(*BUILDER_ROLES)
def delivery_resend(request: HttpRequest, delivery_id: int) -> HttpResponse:
    return _webhook_action(
        request, services.delivery_resend, _("The event is being sent again."), delivery_id=delivery_id
    )


# --- Verification texts -------------------------------------------------------------


def _preview(body: str, locale: str, customer: Customer) -> str:
    return content.render_verification_text(
        template=body,
        locale=locale,
        brand=customer.display_brand,
        code=PREVIEW_CODE,
        ttl_seconds=PREVIEW_TTL,
        channel="sms",
    )


def _templates_page(
    request: HttpRequest, bound: dict[str, TemplateForm] | None = None, status: int = 200
) -> HttpResponse:
    """One card per language; ``bound`` holds a refused form to show again with its errors."""
    customer = _customer(request)
    bound = bound or {}
    own = selectors.message_templates(customer=customer)
    sections = []
    for locale, language in LOCALES:
        template = own.get(locale)
        body = template.body if template else content.DEFAULT_TEMPLATES[locale]
        form = bound.get(locale) or TemplateForm(initial={"body": body}, prefix=locale)
        sections.append(
            {
                "locale": locale,
                "language": language,
                "template": template,
                "preview": _preview(body, locale, customer),
                "form": form,
            }
        )
    context = {"sections": sections, "preview_code": PREVIEW_CODE, "preview_minutes": PREVIEW_TTL // 60}
    return render(request, "messaging/templates.html", context, status=status)


def _locale_or_404(locale: str) -> str:
    if locale not in dict(LOCALES):
        raise Http404(_("Unknown language."))
    return locale


@require_GET
@customer_required
@roles_required(*BUILDER_ROLES)
def templates(request: HttpRequest) -> HttpResponse:
    return _templates_page(request)


@require_POST
@customer_required
@roles_required(*BUILDER_ROLES)
def template_set(request: HttpRequest, locale: str) -> HttpResponse:
    locale = _locale_or_404(locale)
    form = TemplateForm(request.POST, prefix=locale)
    if form.is_valid():
        try:
            services.template_set(customer=_customer(request), locale=locale, body=form.cleaned_data["body"])
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("The text is saved; new verifications use it."))
            return redirect("messaging:templates")
    return _templates_page(request, bound={locale: form}, status=400)


@require_POST
@customer_required
@roles_required(*BUILDER_ROLES)
def template_delete(request: HttpRequest, locale: str) -> HttpResponse:
    services.template_delete(customer=_customer(request), locale=_locale_or_404(locale))
    messages.success(request, _("The standard text is used again."))
    return redirect("messaging:templates")


# --- API keys ------------------------------------------------------------------------


def _api_keys_page(request: HttpRequest, form: ApiKeyCreateForm | None = None, status: int = 200) -> HttpResponse:
    context = {
        "form": form or ApiKeyCreateForm(),
        "keys": account_selectors.customer_api_keys(customer=_customer(request)),
    }
    return render(request, "messaging/api_keys.html", context, status=status)


@require_GET
@customer_required
@roles_required(*BUILDER_ROLES)
def api_keys(request: HttpRequest) -> HttpResponse:
    return _api_keys_page(request)


@require_POST
@customer_required
@roles_required(*BUILDER_ROLES)
def api_key_create(request: HttpRequest) -> HttpResponse:
    form = ApiKeyCreateForm(request.POST)
    if form.is_valid():
        try:
            created = account_services.api_key_create(
                customer=_customer(request),
                mode=form.cleaned_data["mode"],
                name=form.cleaned_data["name"],
                created_by=request.user,  # type: ignore[arg-type]
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            # The clear key is only in this response: never stored, never redirected through a session.
            response = render(
                request, "messaging/api_key_created.html", {"key": created.api_key, "secret": created.secret}
            )
            add_never_cache_headers(response)
            return response
    return _api_keys_page(request, form=form, status=400)


@require_POST
@customer_required
@roles_required(*BUILDER_ROLES)
def api_key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    api_key = account_selectors.customer_api_keys(customer=_customer(request)).filter(pk=key_id).first()
    if api_key is None:
        raise Http404(_("No such API key."))
    account_services.api_key_revoke(api_key=api_key)
    messages.success(
        request, _("Key %(prefix)s… is revoked; requests with it are refused from now on.") % {"prefix": api_key.prefix}
    )
    return redirect("messaging:api_keys")
