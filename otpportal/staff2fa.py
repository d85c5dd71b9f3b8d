"""Two-factor sign-in for staff (django-otp TOTP) before the admin, where
money is approved. ADMIN_REQUIRE_2FA (on in production) turns it on; a staff
member without an authenticator app enrols on first sign-in."""

from __future__ import annotations

import io
from base64 import b32encode
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.qr import write_qrcode_image

EXEMPT_PREFIXES = ("/admin/login/", "/admin/logout/", "/admin/jsi18n/")


class StaffTwoFactorMiddleware:
    """Staff reach /admin/ only after a verified second factor."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            settings.ADMIN_REQUIRE_2FA
            and request.path.startswith("/admin/")
            and not request.path.startswith(EXEMPT_PREFIXES)
            and user is not None
            and user.is_authenticated
            and user.is_staff
            and not user.is_verified()
        ):
            return redirect(f"{reverse('staff_2fa')}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/admin/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return "/admin/"
    return target


@login_required(login_url="/admin/login/")
def staff_2fa(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_staff:
        return HttpResponseForbidden()
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    enrolling = device is None
    if enrolling:
        device = TOTPDevice.objects.filter(user=user, confirmed=False).first() or TOTPDevice.objects.create(
            user=user, name="admin", confirmed=False
        )
    error = ""
    if request.method == "POST":
        token = "".join(ch for ch in request.POST.get("token", "") if ch.isdigit())
        if token and device.verify_token(token):
            if enrolling:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
            otp_login(request, device)
            return redirect(_next_url(request))
        error = _("That code is not valid. Check the time on your phone and try again.")
    context = {"enrolling": enrolling, "error": error, "next": _next_url(request)}
    if enrolling:
        svg = io.BytesIO()
        write_qrcode_image(device.config_url, svg)
        context["qr_svg"] = svg.getvalue().decode()
        context["secret"] = b32encode(device.bin_key).decode().rstrip("=")
    return render(request, "staff/two_factor.html", context, status=400 if error else 200)
