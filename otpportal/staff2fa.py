"""Two-factor sign-in for staff (django-otp TOTP) before the admin, where
money is approved. ADMIN_REQUIRE_2FA (on in production) turns it on.

Enrolment (review 8.13) needs more than the password: a staff member without
an authenticator app asks for a link, which is emailed to their own address
(``staff_2fa_invite``; a superuser can (re)issue one with ``manage.py
staff_2fa_invite EMAIL``). The link is signed, names the user, expires after
``INVITE_MAX_AGE`` and works once: following it (signed in as that user)
gives the pending device a fresh key, which the link's fingerprint no longer
matches, and opens an enrolment window in that session only. The QR code and
the secret are shown, and a device confirmed, only inside that window; a
stolen password alone never sees a secret nor enrols a device.
"""

from __future__ import annotations

import io
import time
from base64 import b32encode
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_GET, require_http_methods
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key
from django_otp.qr import write_qrcode_image

from otpportal.errors import ServiceError

EXEMPT_PREFIXES = ("/admin/login/", "/admin/logout/", "/admin/jsi18n/")
INVITE_SALT = "otpportal.staff2fa.invite"
INVITE_MAX_AGE = timedelta(hours=24)  # an emailed link expires after this
ENROL_WINDOW = timedelta(minutes=15)  # after following the link: time to scan and confirm
RESEND_AFTER = timedelta(minutes=1)  # "email me a new link" at most this often
SESSION_KEY = "staff_2fa_enrol"

NOT_STAFF = gettext_noop("Only staff members enrol an authenticator app.")
ALREADY_ENROLLED = gettext_noop(
    "This staff member already has an authenticator app; reset it to issue a new enrolment link."
)


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


# --- Enrolment links ------------------------------------------------------------------


def _fingerprint(user: Any, device: TOTPDevice) -> str:
    """Changes when the device's key or the user's password changes: a link
    is good only for the pending device it was issued with."""
    return salted_hmac(INVITE_SALT, f"{user.pk}:{user.password}:{device.pk}:{device.key}").hexdigest()[:32]


def _send_invite(*, email: str, link: str) -> None:
    context = {"link": link, "hours": int(INVITE_MAX_AGE.total_seconds() // 3600)}
    subject = render_to_string("staff/email/enrolment_invite_subject.txt", context).strip()
    body = render_to_string("staff/email/enrolment_invite.txt", context).strip()
    send_mail(subject, body + "\n", None, [email])


def staff_2fa_invite(*, user: Any, reset: bool = False) -> TOTPDevice:
    """Email ``user`` a link to enrol an authenticator app; any earlier link
    stops working. ``reset`` first removes the user's devices (a lost phone)."""
    if not (user.is_staff and user.is_active):
        raise ServiceError("invalid_request", _(NOT_STAFF))
    with transaction.atomic():
        if reset:
            TOTPDevice.objects.filter(user=user).delete()
        elif TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            raise ServiceError("invalid_request", _(ALREADY_ENROLLED))
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name="admin", confirmed=False)
        token = signing.dumps({"u": user.pk, "d": device.pk, "f": _fingerprint(user, device)}, salt=INVITE_SALT)
        link = settings.SITE_URL.rstrip("/") + reverse("staff_2fa_enrol", args=[token])
        email = user.email
        transaction.on_commit(lambda: _send_invite(email=email, link=link))
    return device


def _invited_device(user: Any, token: str) -> TOTPDevice | None:
    """The pending device the link was issued for, when the link is genuine,
    not expired, for this user and not used yet."""
    try:
        data = signing.loads(token, salt=INVITE_SALT, max_age=INVITE_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired is a BadSignature
        return None
    if not isinstance(data, dict) or data.get("u") != user.pk:
        return None
    device = TOTPDevice.objects.filter(pk=data.get("d"), user=user, confirmed=False).first()
    if device is None or not constant_time_compare(str(data.get("f")), _fingerprint(user, device)):
        return None
    return device


@require_GET
@login_required(login_url="/admin/login/")
def staff_2fa_enrol(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link: opens the enrolment window in this session, once."""
    user = request.user
    device = _invited_device(user, token) if user.is_staff else None
    if device is None:
        context = {"mode": "invalid_link", "next": "/admin/"}
        return render(request, "staff/two_factor.html", context, status=400)
    with transaction.atomic():
        device.key = default_key()  # spends the link: its fingerprint no longer matches
        device.save(update_fields=["key"])
    request.session[SESSION_KEY] = {"device": device.pk, "until": time.time() + ENROL_WINDOW.total_seconds()}
    return redirect(f"{reverse('staff_2fa')}?{urlencode({'next': '/admin/'})}")


def _enrolling_device(request: HttpRequest) -> TOTPDevice | None:
    """The pending device whose enrolment this session opened with a link."""
    window = request.session.get(SESSION_KEY)
    if not isinstance(window, dict) or float(window.get("until", 0)) < time.time():
        return None
    return TOTPDevice.objects.filter(pk=window.get("device"), user=request.user, confirmed=False).first()


# --- The sign-in page -----------------------------------------------------------------


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/admin/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return "/admin/"
    return target


def _ask_for_link(request: HttpRequest) -> HttpResponse:
    """No authenticator yet and no link followed in this session."""
    user = request.user
    if request.method == "POST" and request.POST.get("action") == "send_link":
        pending = TOTPDevice.objects.filter(user=user, confirmed=False).first()
        recent = pending is not None and pending.created_at and timezone.now() - pending.created_at < RESEND_AFTER
        if not recent:
            staff_2fa_invite(user=user)
        messages.success(
            request,
            _("We emailed an enrolment link to %(email)s. Open it in this browser within %(hours)d hours.")
            % {"email": user.email, "hours": int(INVITE_MAX_AGE.total_seconds() // 3600)},
        )
        return redirect(f"{reverse('staff_2fa')}?{urlencode({'next': _next_url(request)})}")
    error = ""
    if request.method == "POST":
        error = _("Enrol with the link we email to you first.")
    context = {"mode": "needs_link", "error": error, "next": _next_url(request)}
    return render(request, "staff/two_factor.html", context, status=400 if error else 200)


@require_http_methods(["GET", "POST"])
@login_required(login_url="/admin/login/")
def staff_2fa(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_staff:
        return HttpResponseForbidden()
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    enrolling = device is None
    if enrolling:
        device = _enrolling_device(request)
        if device is None:
            return _ask_for_link(request)
    error = ""
    if request.method == "POST":
        token = "".join(ch for ch in request.POST.get("token", "") if ch.isdigit())
        if token and device.verify_token(token):
            if enrolling:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                request.session.pop(SESSION_KEY, None)
            otp_login(request, device)
            return redirect(_next_url(request))
        error = _("That code is not valid. Check the time on your phone and try again.")
    context: dict[str, Any] = {
        "mode": "enrolling" if enrolling else "verify",
        "error": error,
        "next": _next_url(request),
    }
    if enrolling:
        svg = io.BytesIO()
        write_qrcode_image(device.config_url, svg)
        context["qr_svg"] = svg.getvalue().decode()
        context["secret"] = b32encode(device.bin_key).decode().rstrip("=")
    return render(request, "staff/two_factor.html", context, status=400 if error else 200)
