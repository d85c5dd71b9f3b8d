"""Dashboard pages of messaging: messages and their history, verifications
and the price calculator (the developer pages, from API keys to the sandbox,
are in ``messaging.views_developers``).

Every read goes through ``messaging.selectors`` / ``accounts.selectors``
scoped to ``request.customer``; every write through one service; a
``ServiceError`` is shown as a form error or a message, never a 500."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.models import Customer
from accounts.views import customer_required
from billing import selectors as billing_selectors
from billing import services as billing
from billing.forms import add_service_error
from messaging import display, exports, phones, quotes, selectors
from messaging.filters import MessageListFilter, VerificationListFilter
from messaging.forms import (
    QuoteForm,
)
from messaging.models import Channel, Message
from otpportal.errors import ServiceError

PAGE_SIZE = 50


def _customer(request: HttpRequest) -> Customer:
    return request.customer  # type: ignore[attr-defined,no-any-return]


def _operator_label(value: str) -> str:
    return display.operator_label(value)


def _message_row(message: Message) -> dict[str, Any]:
    return {"message": message, "to": phones.mask(message.to), "operator": _operator_label(message.operator)}


def _list_context(request: HttpRequest, filters: Any, csv_name: str) -> dict[str, Any]:
    page = Paginator(filters.result(), PAGE_SIZE).get_page(request.GET.get("page"))
    return {
        "form": filters.form,
        "page": page,
        "filtered": any(value for key, value in request.GET.items() if key not in ("page", "mode")),
        "csv_url": reverse(csv_name),
    }


# --- Messages ------------------------------------------------------------------
# Lists read one page of rows (two queries: the count and the page); nothing
# per row touches the database (pinned in tests/messaging/test_dashboard_lists.py).


@require_GET
@customer_required
def message_list(request: HttpRequest) -> HttpResponse:
    # The API's FilterSet (Review 8.26) plus operator and search; both modes unless asked.
    filters = MessageListFilter(request.GET, queryset=selectors.messages(customer=_customer(request)))
    context = _list_context(request, filters, "messaging:messages_csv")
    context["rows"] = [_message_row(m) for m in context["page"].object_list]
    return render(request, "messaging/message_list.html", context, status=400 if filters.errors else 200)


@require_GET
@customer_required
def message_csv(request: HttpRequest) -> HttpResponse:
    """The filtered list as CSV, streamed; a refused filter is a 400, never the whole list."""
    customer = _customer(request)
    filters = MessageListFilter(request.GET, queryset=selectors.messages(customer=customer))
    if not filters.is_valid():
        return HttpResponseBadRequest(_("A filter value is not valid; correct it on the list page."))
    return exports.csv_response(filters.qs, selectors.MESSAGE_EXPORT_FIELDS, kind="messages", slug=customer.slug)


@require_GET
@customer_required
def message_detail(request: HttpRequest, message_id: str) -> HttpResponse:
    """One message: the facts, the status timeline in the user's language, the
    delivery receipt, the charge and the fallback chain. Five queries."""
    customer = _customer(request)
    try:
        message, history, chain = selectors.message_with_chain(customer=customer, message_id=message_id)
    except ServiceError:
        raise Http404(_("No such message.")) from None
    context = {
        "row": _message_row(message),
        "message": message,
        "history": display.timeline(history),
        "chain": [{"message": m, "label": display.channel_label(m.channel)} for m in chain],
        "fallback_labels": [display.channel_label(c) for c in message.fallback],
        "parts": [
            {"ref": ref, "state": display.status_label(ref.state) if ref.state else ""}
            for ref in selectors.provider_parts(message=message)
        ],
        "provider": display.actor(message.provider)[0] if message.provider else "",
        "encoding": display.encoding_label(message.encoding),
        "charge": billing_selectors.charge_for(customer=customer, reference=message.id) if message.charged else None,
    }
    return render(request, "messaging/message_detail.html", context)


# --- Verifications ---------------------------------------------------------------


@require_GET
@customer_required
def verification_list(request: HttpRequest) -> HttpResponse:
    filters = VerificationListFilter(request.GET, queryset=selectors.verifications(customer=_customer(request)))
    context = _list_context(request, filters, "messaging:verifications_csv")
    context["rows"] = [
        {"verification": v, "to": phones.mask(v.to), "operator": _operator_label(v.operator)}
        for v in context["page"].object_list
    ]
    return render(request, "messaging/verification_list.html", context, status=400 if filters.errors else 200)


@require_GET
@customer_required
def verification_csv(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    filters = VerificationListFilter(request.GET, queryset=selectors.verifications(customer=customer))
    if not filters.is_valid():
        return HttpResponseBadRequest(_("A filter value is not valid; correct it on the list page."))
    return exports.csv_response(
        filters.qs, selectors.VERIFICATION_EXPORT_FIELDS, kind="verifications", slug=customer.slug
    )


@require_GET
@customer_required
def verification_detail(request: HttpRequest, verification_id: str) -> HttpResponse:
    """One verification: its facts and every message sent for it (the fallback chain)."""
    try:
        verification, sent = selectors.verification_with_messages(
            customer=_customer(request), verification_id=verification_id
        )
    except ServiceError:
        raise Http404(_("No such verification.")) from None
    context = {
        "verification": verification,
        "to": phones.mask(verification.to),
        "operator": _operator_label(verification.operator),
        "fallback_labels": [display.channel_label(c) for c in verification.fallback],
        "rows": [_message_row(m) for m in sent],
    }
    return render(request, "messaging/verification_detail.html", context)


# --- Prices: the calculator and the price list at the customer's tier ----------------


def _quote_or_error(request: HttpRequest, form: QuoteForm) -> tuple[quotes.Quote | None, int]:
    """The form's quote, or (None, 400) with the refusal on the form."""
    if not form.is_valid():
        return None, 400
    try:
        return quotes.quote(
            customer=_customer(request), to=form.cleaned_data["to"], text=form.cleaned_data["text"]
        ), 200
    except ServiceError as error:
        add_service_error(form, error)  # a bad number on the "to" field
        return None, 400


@require_GET
@customer_required
def pricing(request: HttpRequest) -> HttpResponse:
    """Type a message and a number, see the operator, encoding, units and price
    per channel at the customer's current tier (live with static/js/pricing.js,
    or on submit without JavaScript), and every price of that tier."""
    customer = _customer(request)
    bound = "to" in request.GET
    form = QuoteForm(request.GET if bound else None, initial={"text": quotes.sample_text(customer)})
    quote, status = _quote_or_error(request, form) if bound else (None, 200)
    tier = billing.quote(customer=customer, channel=Channel.WA, operator="", units=1).tier
    prices = billing_selectors.tier_prices(tier=tier)
    context = {
        "form": form,
        "quote": quote,
        "prices": [
            {"channel": display.channel_label(channel), "operator": _operator_label(operator), "unit_price": price}
            for channel, operator, price in prices.rows
        ],
        "tier": tier,
        "effective_from": prices.effective_from,
        "postpaid": customer.mode == Customer.Mode.POSTPAID,
    }
    return render(request, "messaging/pricing.html", context, status=status)


@require_GET
@customer_required
def pricing_quote(request: HttpRequest) -> JsonResponse:
    """The calculator's JSON (session auth): ``{"to", "operator", "operator_label",
    "characters", "tier", "channels": [...]}``, or 400 with the API's error shape."""
    form = QuoteForm(request.GET)
    quote, status = _quote_or_error(request, form)
    if quote is None:
        details = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
        message = next(iter(details.values()))[0] if details else _("Check the number and the text.")
        response = JsonResponse(
            {"error": {"code": "invalid_request", "message": message, "details": details}}, status=status
        )
    else:
        response = JsonResponse(quote.as_json())
    add_never_cache_headers(response)
    return response
