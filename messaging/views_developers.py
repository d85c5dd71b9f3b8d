"""The developer pages of the dashboard (owners and developers, ``accounts.roles``):
API keys, webhooks, the sandbox inbox with its "try it" panel, the
verification texts and the quick start.

The sandbox page polls ``sandbox_inbox`` (JSON) every few seconds
(``static/js/developers.js``), so a new message appears without a reload.
"Try it" sends a test verification and checks a code through the same
services as the API, with the customer's newest active test key (one is
made when there is none; its secret is never shown): test sends are never
charged and only reach the sandbox.

Every read goes through a selector scoped to ``request.customer``; every
write through one service; a ``ServiceError`` is shown as a form error, a
message or the API's JSON error shape, never a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.forms import add_service_error, service_error_text
from accounts.models import ApiKey, Customer
from accounts.views import customer_required
from messaging import content, phones, selectors, services
from messaging.forms import ApiKeyCreateForm, NumberFilterForm, SandboxSendForm, TemplateForm, WebhookEndpointForm
from messaging.forms_developers import TryCheckForm
from messaging.models import MessageTemplate, SandboxMessage, Verification
from otpportal.errors import ServiceError

SANDBOX_ROWS = 100
DELIVERY_ROWS = 50
LOCALES = tuple(MessageTemplate._meta.get_field("locale").choices or ())
PREVIEW_CODE = "482913"
PREVIEW_TTL = 300
POLL_SECONDS = 3
TRY_KEY_NAME = "Dashboard: try it"
SANDBOX_REFERENCE = "dashboard-sandbox"


def _customer(request: HttpRequest) -> Customer:
    return request.customer  # type: ignore[attr-defined,no-any-return]


def _json_error(error: ServiceError | None = None, *, message: str = "", details: Any = None) -> JsonResponse:
    """The API's error shape, for the pages' scripts."""
    if error is not None:
        body = {"code": error.code, "message": service_error_text(error), "details": error.details}
        status = error.status
    else:
        body = {"code": "invalid_request", "message": message, "details": details or {}}
        status = 400
    return JsonResponse({"error": body}, status=status)


def _form_error(form: Any) -> JsonResponse:
    details = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
    message = next(iter(details.values()))[0] if details else _("Check the form.")
    return _json_error(message=message, details=details)


def _no_store(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)
    return response


# --- Sandbox and "try it" ---------------------------------------------------------------


def _test_key(customer: Customer) -> ApiKey | None:
    """The customer's newest active test key: the dashboard's test sends use it."""
    keys = account_selectors.customer_api_keys(customer=customer)
    return keys.filter(mode=ApiKey.Mode.TEST, revoked_at__isnull=True).first()


def _test_key_or_new(request: HttpRequest) -> ApiKey:
    """The newest active test key, or a new one made for the dashboard (its
    secret is dropped here: the browser never sees a key)."""
    customer = _customer(request)
    api_key = _test_key(customer)
    if api_key is None:
        created = account_services.api_key_create(
            customer=customer,
            mode=ApiKey.Mode.TEST,
            name=TRY_KEY_NAME,
            created_by=request.user,  # type: ignore[arg-type]
        )
        api_key = created.api_key
    return api_key


def _start_test_verification(request: HttpRequest, form: SandboxSendForm) -> Verification:
    """``verification_start`` with a test key, as ``POST /api/v1/verifications`` does."""
    verification, _message = services.verification_start(
        api_key=_test_key_or_new(request),
        to=form.cleaned_data["to"],
        channel=form.cleaned_data["channel"],
        locale=form.cleaned_data["locale"],
        reference=SANDBOX_REFERENCE,
    )
    return verification


def _sent_text(verification: Verification) -> str:
    return _(
        "Test code sent to %(to)s (verification %(id)s). It appears in the inbox below in a few seconds, "
        "free of charge."
    ) % {"to": phones.mask(verification.to), "id": verification.id}


def _inbox_row(row: SandboxMessage) -> dict[str, Any]:
    return {
        "id": row.pk,
        "received": date_format(timezone.localtime(row.created_at), "j M Y H:i:s"),
        "to": row.to,
        "channel": row.channel,
        "sender_id": row.sender_id,
        "text": row.text,
        "message_id": row.message_id,
        "url": reverse("messaging:message", args=[row.message_id]),
    }


def _sandbox_filter(request: HttpRequest) -> tuple[NumberFilterForm, str | None]:
    """The number filter (``None`` when refused: show nothing)."""
    form = NumberFilterForm(request.GET, auto_id="filter_%s")  # the send form has its own "to"
    return form, (form.cleaned_data["to"] if form.is_valid() else None)


def _sandbox_page(request: HttpRequest, send_form: SandboxSendForm | None = None, status: int = 200) -> HttpResponse:
    customer = _customer(request)
    filter_form, to = _sandbox_filter(request)
    rows = (
        list(selectors.sandbox_messages(customer=customer, to=to or None, limit=SANDBOX_ROWS)) if to is not None else []
    )
    context = {
        "filter_form": filter_form,
        "rows": rows,
        "after": max((row.pk for row in rows), default=0),
        "to": to or "",
        "send_form": send_form or SandboxSendForm(),
        "check_form": TryCheckForm(),
        "test_key": _test_key(customer),
        "poll_seconds": POLL_SECONDS,
    }
    return render(request, "messaging/sandbox.html", context, status=status)


@require_GET
@customer_required
def sandbox(request: HttpRequest) -> HttpResponse:
    return _sandbox_page(request)


@require_POST
@customer_required
def sandbox_send(request: HttpRequest) -> HttpResponse:
    """The "try it" form without JavaScript: send, then back to the page."""
    form = SandboxSendForm(request.POST)
    if form.is_valid():
        try:
            verification = _start_test_verification(request, form)
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _sent_text(verification))
            return redirect("messaging:sandbox")
    return _sandbox_page(request, send_form=form, status=400)


@require_GET
@customer_required
def sandbox_inbox(request: HttpRequest) -> HttpResponse:
    """JSON for the page's poll: the sandbox messages newer than ``after`` (an
    id the page already shows), newest first, scoped to the customer."""
    _form, to = _sandbox_filter(request)
    try:
        after = max(0, int(request.GET.get("after") or 0))
    except ValueError:
        return _json_error(message=_("after must be a whole number."), details={"after": [_("Invalid.")]})
    rows = (
        selectors.sandbox_messages_after(customer=_customer(request), after=after, to=to or None, limit=SANDBOX_ROWS)
        if to is not None
        else []
    )
    data = [_inbox_row(row) for row in rows]
    return _no_store(JsonResponse({"messages": data, "last": max((row["id"] for row in data), default=after)}))


@require_POST
@customer_required
def try_send(request: HttpRequest) -> HttpResponse:
    """JSON: start a test verification (number, channel, language)."""
    form = SandboxSendForm(request.POST)
    if not form.is_valid():
        return _form_error(form)
    try:
        verification = _start_test_verification(request, form)
    except ServiceError as error:
        return _json_error(error)
    body = {
        "verification": {
            "id": verification.id,
            "to": phones.mask(verification.to),
            "channel": verification.channel,
            "status": verification.status,
            "expires_at": verification.expires_at.isoformat(),
            "attempts_left": verification.attempts_left,
        },
        "message": _sent_text(verification),
    }
    return _no_store(JsonResponse(body, status=201))


@require_POST
@customer_required
def try_check(request: HttpRequest) -> HttpResponse:
    """JSON: check a code of a test verification, as ``POST
    /api/v1/verifications/{id}/check`` does (a live one is not found here:
    the dashboard never spends a real user's attempts)."""
    form = TryCheckForm(request.POST)
    if not form.is_valid():
        return _form_error(form)
    customer = _customer(request)
    try:
        found = selectors.verification(customer=customer, verification_id=form.cleaned_data["verification"])
        if not found.is_test:
            raise ServiceError("not_found", _("No such verification."))
        verification, valid = services.verification_check(
            customer=customer, code=form.cleaned_data["code"], verification_id=found.id
        )
    except ServiceError as error:
        return _json_error(error)
    if valid:
        message = _("The code is right: the verification is approved.")
    elif verification.status == Verification.Status.PENDING:
        message = _("That code is wrong. %(left)d attempts left.") % {"left": verification.attempts_left}
    else:
        message = _("Not approved: the verification is %(status)s.") % {"status": verification.get_status_display()}
    body = {
        "valid": valid,
        "status": verification.status,
        "attempts_left": verification.attempts_left,
        "message": message,
    }
    return _no_store(JsonResponse(body))


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
def webhooks(request: HttpRequest) -> HttpResponse:
    return _webhooks_page(request)


@require_POST
@customer_required
def webhook_create(request: HttpRequest) -> HttpResponse:
    form = WebhookEndpointForm(request.POST)
    if form.is_valid():
        try:
            endpoint = services.endpoint_create(
                customer=_customer(request),
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                actor=request.user,  # type: ignore[arg-type]
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
    """Run one webhook use case; report its refusal as a message. An endpoint or delivery
    that is not this customer's is a 404, as on every page (issue 14: cross-customer ids)."""
    try:
        action(customer=_customer(request), **kwargs)
    except ServiceError as error:
        if error.code == "not_found":
            raise Http404(service_error_text(error)) from None
        messages.error(request, service_error_text(error))
    else:
        messages.success(request, success)
    return redirect("messaging:webhooks")


@require_POST
@customer_required
def webhook_delete(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    return _webhook_action(
        request,
        services.endpoint_delete,
        _("The endpoint is deleted."),
        endpoint_id=endpoint_id,
        actor=request.user,
    )


@require_POST
@customer_required
def webhook_test(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    return _webhook_action(
        request,
        services.test_event_send,
        _("A test event is on its way; see the deliveries below."),
        endpoint_id=endpoint_id,
    )


@require_POST
@customer_required
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
def templates(request: HttpRequest) -> HttpResponse:
    return _templates_page(request)


@require_POST
@customer_required
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
def api_keys(request: HttpRequest) -> HttpResponse:
    return _api_keys_page(request)


@require_POST
@customer_required
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
            return _no_store(
                render(request, "messaging/api_key_created.html", {"key": created.api_key, "secret": created.secret})
            )
    return _api_keys_page(request, form=form, status=400)


@require_POST
@customer_required
def api_key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    api_key = account_selectors.customer_api_keys(customer=_customer(request)).filter(pk=key_id).first()
    if api_key is None:
        raise Http404(_("No such API key."))
    account_services.api_key_revoke(api_key=api_key, actor=request.user)  # type: ignore[arg-type]
    messages.success(
        request, _("Key %(prefix)s… is revoked; requests with it are refused from now on.") % {"prefix": api_key.prefix}
    )
    return redirect("messaging:api_keys")


# --- Quick start ---------------------------------------------------------------------


@require_GET
@customer_required
def quickstart(request: HttpRequest) -> HttpResponse:
    """curl, Python, PHP and JavaScript examples with the customer's own key
    prefix (never a secret: the reader pastes the whole key) and the portal's
    base URL (``SITE_URL``)."""
    keys = account_selectors.customer_api_keys(customer=_customer(request)).filter(revoked_at__isnull=True)
    api_key = keys.filter(mode=ApiKey.Mode.TEST).first() or keys.first()
    context = {
        "api_key": api_key,
        "key_hint": f"{api_key.prefix}…" if api_key else "otp_test_…",
        "base_url": settings.SITE_URL.rstrip("/") + "/api/v1",
        "docs_url": reverse("api:docs"),
    }
    return render(request, "messaging/quickstart.html", context)
