"""A member's own sign-in security: password, two-factor sign-in with an
authenticator app (django-otp TOTP) and recovery codes, and the code asked
at sign-in (``accounts.middleware.TwoFactorMiddleware`` sends users here).

Secrets (the app's key, recovery codes) are only ever in the one response
that shows them, marked not to be cached."""

from __future__ import annotations

import io
from base64 import b32encode
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.qr import write_qrcode_image

from accounts import selectors, services
from accounts.forms import CodeForm, EnrolForm, add_service_error, service_error_text
from accounts.views import customer_required
from otpportal.errors import ServiceError


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not target or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return reverse("dashboard:home")
    return target


def _grouped(code: str) -> str:
    """A recovery code as shown: ``abcd-efgh``."""
    return f"{code[:4]}-{code[4:]}" if len(code) > 4 else code


def _codes_page(request: HttpRequest, codes: list[str], *, enrolled: bool) -> HttpResponse:
    response = render(
        request,
        "accounts/recovery_codes.html",
        {"codes": [_grouped(code) for code in codes], "enrolled": enrolled},
    )
    add_never_cache_headers(response)
    return response


# --- The security page ----------------------------------------------------------------


def _security_page(
    request: HttpRequest, password_form: PasswordChangeForm | None = None, status: int = 200
) -> HttpResponse:
    user = request.user
    context: dict[str, Any] = {
        "password_form": password_form or PasswordChangeForm(user),
        "has_two_factor": selectors.has_two_factor(user),  # type: ignore[arg-type]
        "recovery_left": selectors.remaining_recovery_codes(user),  # type: ignore[arg-type]
        "team_requires": selectors.team_requires_two_factor(user),  # type: ignore[arg-type]
        "code_form": CodeForm(auto_id="off_%s"),
        "renew_form": CodeForm(auto_id="renew_%s"),
    }
    return render(request, "accounts/security.html", context, status=status)


@require_GET
@customer_required
def security(request: HttpRequest) -> HttpResponse:
    return _security_page(request)


@require_POST
@customer_required
def password(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST)
    if not form.is_valid():
        return _security_page(request, password_form=form, status=400)
    user = services.user_set_password(user=request.user, password=form.cleaned_data["new_password1"])  # type: ignore[arg-type]
    update_session_auth_hash(request, user)  # this session stays signed in; the others end
    messages.success(request, _("Your password is changed."))
    return redirect("account:security")


# --- Two-factor sign-in: on, off, recovery codes ------------------------------------


@require_http_methods(["GET", "POST"])
@customer_required
def two_factor_enrol(request: HttpRequest) -> HttpResponse:
    user = request.user
    if selectors.has_two_factor(user):  # type: ignore[arg-type]
        messages.info(request, _("Two-factor sign-in is already on."))
        return redirect("account:security")
    device = services.two_factor_pending_device(user=user)  # type: ignore[arg-type]
    form = EnrolForm(request.POST or None, initial={"device": device.pk})
    if request.method == "POST" and form.is_valid():
        try:
            confirmed, codes = services.two_factor_enable(
                user=user,  # type: ignore[arg-type]
                device_id=form.cleaned_data["device"],
                code=form.cleaned_data["code"],
            )
        except ServiceError as error:
            add_service_error(form, error)
            device = services.two_factor_pending_device(user=user)  # type: ignore[arg-type]
        else:
            otp_login(request, confirmed)  # this session has just proved the code
            return _codes_page(request, codes, enrolled=True)
    svg = io.BytesIO()
    write_qrcode_image(device.config_url, svg)
    context = {
        "form": form,
        "device": device,
        "qr_svg": svg.getvalue().decode(),
        "secret": b32encode(device.bin_key).decode().rstrip("="),
        "required": selectors.team_requires_two_factor(user),  # type: ignore[arg-type]
        "next": _next_url(request),
    }
    response = render(request, "accounts/two_factor_enrol.html", context, status=400 if form.errors else 200)
    add_never_cache_headers(response)
    return response


@require_POST
@customer_required
def two_factor_disable(request: HttpRequest) -> HttpResponse:
    try:
        services.two_factor_disable(user=request.user, code=request.POST.get("code", ""))  # type: ignore[arg-type]
    except ServiceError as error:
        messages.error(request, service_error_text(error))
    else:
        messages.success(request, _("Two-factor sign-in is off."))
    return redirect("account:security")


@require_POST
@customer_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    try:
        codes = services.recovery_codes_renew(user=request.user, code=request.POST.get("code", ""))  # type: ignore[arg-type]
    except ServiceError as error:
        messages.error(request, service_error_text(error))
        return redirect("account:security")
    return _codes_page(request, codes, enrolled=False)


# --- The code asked at sign-in --------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.is_verified() or not selectors.has_two_factor(user):  # type: ignore[union-attr,arg-type]
        return redirect(_next_url(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = services.two_factor_verify(user=user, code=form.cleaned_data["code"])  # type: ignore[arg-type]
        if device is not None:
            otp_login(request, device)
            if isinstance(device, StaticDevice):
                left = selectors.remaining_recovery_codes(user)  # type: ignore[arg-type]
                messages.warning(
                    request,
                    ngettext(
                        "You signed in with a recovery code; %(count)d is left. Make new ones on the security page.",
                        "You signed in with a recovery code; %(count)d are left. Make new ones on the security page.",
                        left,
                    )
                    % {"count": left},
                )
            return redirect(_next_url(request))
        form.add_error("code", _("That code is not valid. Check the time on your phone and try again."))
    context = {"form": form, "next": _next_url(request)}
    return render(request, "accounts/two_factor_verify.html", context, status=400 if form.errors else 200)


def verify_url(next_url: str) -> str:
    return f"{reverse('account:two_factor_verify')}?{urlencode({'next': next_url})}"
