"""Dashboard pages of sender IDs (mounted at /sender-ids/, namespace
"senderids"): the customer's sender IDs with each operator's status, its
history and the expected date; the application in two steps (what the form
names, then the pre-filled form to download, the signed form to upload and
the fees to confirm); a suspended registration's reactivation request.

Every member sees the pages; only owners apply and ask for a reactivation
(they sign the form and accept the fees). Reads go through
``senderids.selectors`` scoped to ``request.customer``; writes through one
service; a refusal is a form error, never a 500.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import Customer, Membership
from accounts.views import customer_required, roles_required
from billing.forms import add_service_error, service_error_text
from billing.pricing import jakarta_date
from otpportal.errors import ServiceError
from senderids import policy, selectors, services
from senderids.forms import ApplyForm, ConfirmForm, ReactivateForm
from senderids.models import Registration, SenderId

APPLY_ROLES = (Membership.Role.OWNER,)
CONTENT_TYPES = {"pdf": "application/pdf", "jpg": "image/jpeg", "png": "image/png"}


def _customer(request: HttpRequest) -> Customer:
    return request.customer  # type: ignore[attr-defined,no-any-return]


def _can_apply(request: HttpRequest) -> bool:
    return request.membership.role in APPLY_ROLES  # type: ignore[attr-defined]


def _eligibility(customer: Customer) -> str:
    """The deposit refusal's text when the customer may not apply yet, else ""."""
    try:
        services.deposit_check(customer=customer)
    except ServiceError as error:
        return service_error_text(error)
    return ""


@require_GET
@customer_required
def sender_id_list(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    context = {
        "applications": selectors.sender_ids(customer=customer),
        "can_apply": _can_apply(request),
        "not_eligible": _eligibility(customer),
        "platform_sender": settings.PLATFORM_SENDER_ID,
    }
    return render(request, "senderids/list.html", context)


def _fees_context(fees: list[dict[str, object]]) -> list[dict[str, object]]:
    labels = dict(Registration._meta.get_field("operator").choices or ())
    return [{**fee, "operator_label": labels.get(fee["operator"], fee["operator"])} for fee in fees]


@require_http_methods(["GET", "POST"])
@customer_required
@roles_required(*APPLY_ROLES)
def apply(request: HttpRequest) -> HttpResponse:
    """Step 1 (GET, or POST without ``confirm``): the name, brand and
    operators, checked by the use case's preview. Step 2 (POST with
    ``confirm``): the signed form and the fees, then the application."""
    customer = _customer(request)
    if request.method == "POST" and "confirm" in request.POST:
        return _apply_confirm(request, customer)
    form = ApplyForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            preview = services.application_preview(customer=customer, **form.cleaned_data)
        except ServiceError as error:
            add_service_error(form, error)
        else:
            confirm = ConfirmForm(initial=preview)
            return _confirm_page(request, confirm, preview)
    context = {"form": form, "not_eligible": _eligibility(customer)}
    return render(request, "senderids/apply.html", context, status=400 if form.errors else 200)


def _confirm_page(request: HttpRequest, form: ConfirmForm, preview: dict[str, Any], status: int = 200) -> HttpResponse:
    operators = preview["operators"]
    labels = dict(Registration._meta.get_field("operator").choices or ())
    context = {
        "form": form,
        "preview": preview,
        "operator_labels": [labels.get(op, op) for op in operators],
        "fees": _fees_context(preview["fees"]),
        "form_query": {"name": preview["name"], "brand": preview["brand"], "operators": ",".join(operators)},
        "window": policy.EXPECTED_WORKING_DAYS,
    }
    return render(request, "senderids/apply_confirm.html", context, status=status)


def _apply_confirm(request: HttpRequest, customer: Customer) -> HttpResponse:
    form = ConfirmForm(request.POST, request.FILES)
    if not form.is_valid():
        return redirect("senderids:apply")  # the hidden values were tampered with: start again
    data = form.cleaned_data
    try:
        preview = services.application_preview(
            customer=customer, name=data["name"], brand=data["brand"], operators=data["operators"]
        )
    except ServiceError as error:
        return _step_one_refused(request, data, error)
    try:
        result = services.sender_id_apply(
            customer=customer,
            name=data["name"],
            brand=data["brand"],
            operators=data["operators"],
            form=data.get("form"),
            accept_fees=bool(data.get("accept_fees")),
            applied_by=request.user,  # type: ignore[arg-type]
        )
    except ServiceError as error:
        if error.code in ("fees_not_accepted", "invalid_file", "insufficient_balance"):
            add_service_error(form, error)
            return _confirm_page(request, form, preview, status=400)
        return _step_one_refused(request, data, error)
    messages.success(request, _("Thank you. We have received your application and will review it."))
    return redirect("senderids:detail", sender_id=result.sender_id.pk)


def _step_one_refused(request: HttpRequest, data: dict[str, Any], error: ServiceError) -> HttpResponse:
    """Back to step 1 with the refusal (the name was taken meanwhile, the deposit is gone…)."""
    step_one = ApplyForm({"name": data["name"], "brand": data["brand"], "operators": data["operators"]})
    step_one.is_valid()
    add_service_error(step_one, error)
    return render(request, "senderids/apply.html", {"form": step_one, "not_eligible": ""}, status=400)


@require_GET
@customer_required
@roles_required(*APPLY_ROLES)
def appointment_form(request: HttpRequest) -> HttpResponse:
    """The pre-filled appointment form to print and sign (PDF)."""
    customer = _customer(request)
    try:
        pdf = services.appointment_form(
            customer=customer,
            name=request.GET.get("name", ""),
            brand=request.GET.get("brand", ""),
            operators=request.GET.get("operators", ""),
            today=jakarta_date(timezone.now()),
        )
    except ServiceError as error:
        messages.error(request, service_error_text(error))
        return redirect("senderids:apply")
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = 'attachment; filename="form-penunjukan-sender-id.pdf"'
    return response


@require_GET
@customer_required
def detail(request: HttpRequest, sender_id: str) -> HttpResponse:
    try:
        application = selectors.sender_id(customer=_customer(request), sender_id=sender_id)
    except ServiceError:
        raise Http404 from None
    registrations = list(application.registrations.all())
    context = {
        "application": application,
        "registrations": registrations,
        "can_apply": _can_apply(request),
        "reactivation_fees": {r.pk: policy.reactivation_fee(r.operator) for r in registrations},
    }
    return render(request, "senderids/detail.html", context)


@require_GET
@customer_required
def uploaded_form(request: HttpRequest, sender_id: str) -> FileResponse:
    """The signed form the customer uploaded, to its own members only (never a public media URL)."""
    try:
        application: SenderId = selectors.sender_id(customer=_customer(request), sender_id=sender_id)
    except ServiceError:
        raise Http404 from None
    return form_response(application)


def form_response(application: SenderId) -> FileResponse:
    """The stored signed form as a download, typed by what its content proved to be."""
    if not application.form:
        raise Http404
    response = FileResponse(
        application.form.open("rb"),
        as_attachment=True,
        filename=f"form-penunjukan-{application.name_key.replace(' ', '-').lower()}.{application.form_kind}",
        content_type=CONTENT_TYPES.get(application.form_kind, "application/octet-stream"),
    )
    response["Content-Security-Policy"] = "sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_http_methods(["GET", "POST"])
@customer_required
@roles_required(*APPLY_ROLES)
def reactivate(request: HttpRequest, sender_id: str, registration_id: int) -> HttpResponse:
    """A confirmation page showing the fee, then the request (staff reactivate it)."""
    customer = _customer(request)
    try:
        registration = selectors.registration(customer=customer, registration_id=registration_id)
    except ServiceError:
        raise Http404 from None
    if registration.application_id != sender_id:
        raise Http404
    form = ReactivateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.registration_reactivation_request(
                customer=customer,
                registration_id=registration.pk,
                accept_fees=form.cleaned_data["accept_fees"],
                requested_by=request.user,  # type: ignore[arg-type]
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Your request is sent; we will tell you when the sender ID is active again."))
            return redirect("senderids:detail", sender_id=sender_id)
    context = {"form": form, "registration": registration, "fee": policy.reactivation_fee(registration.operator)}
    return render(request, "senderids/reactivate.html", context, status=400 if form.errors else 200)
