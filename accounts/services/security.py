"""Write use cases for a member's own sign-in security and the team's policy.

Two-factor sign-in uses django-otp: an authenticator app (a TOTP device,
enrolled by scanning a QR code and confirming one code) and ten single-use
recovery codes (a static device), shown once when made. Turning it off needs
a current code. An owner may require it for the whole team
(``Customer.require_two_factor``); ``accounts.middleware.TwoFactorMiddleware``
then sends every member without an app to enrolment before any page.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _
from django_otp import match_token
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import ActivityEvent, Customer, User
from accounts.selectors import has_two_factor
from accounts.services.activity import activity_record, activity_record_for_member
from otpportal.errors import ServiceError

DEVICE_NAME = "authenticator"
RECOVERY_DEVICE_NAME = "recovery"
RECOVERY_CODES = 10


def normalize_code(value: object) -> str:
    """What the user typed, without spaces and dashes, lower-case (recovery
    codes are shown grouped as ``abcd-efgh``)."""
    text = value if isinstance(value, str) else ""
    return "".join(ch for ch in text if ch.isalnum()).lower()[:16]


def _bad_code() -> ServiceError:
    message = _("That code is not valid. Check the time on your phone and try again.")
    return ServiceError("invalid_request", message, details={"code": [message]})


def two_factor_pending_device(*, user: User) -> TOTPDevice:
    """The authenticator app being enrolled (its key is what the QR code
    shows): the same one until it is confirmed, so a reload keeps the key."""
    if has_two_factor(user):
        raise ServiceError("invalid_request", _("Two-factor sign-in is already on."))
    device = TOTPDevice.objects.filter(user=user, name=DEVICE_NAME, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def _new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def two_factor_enable(*, user: User, device_id: int, code: object) -> tuple[TOTPDevice, list[str]]:
    """Confirm the pending authenticator app with one of its codes. Returns
    it and the new recovery codes (shown once: only the user sees them).
    A wrong code is refused after django-otp counted it (its throttle)."""
    token = normalize_code(code)
    codes: list[str] = []
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, pk=device_id, confirmed=False).first()
        if device is None:
            if has_two_factor(user):
                raise ServiceError("invalid_request", _("Two-factor sign-in is already on."))
            raise ServiceError("invalid_request", _("Start again: scan the new QR code."))
        confirmed = token.isdigit() and device.verify_token(token)
        if confirmed:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=user, confirmed=False).exclude(pk=device.pk).delete()
            codes = _new_recovery_codes(user)
            activity_record_for_member(user=user, action=ActivityEvent.Action.TWO_FACTOR_ON)
    if not confirmed:
        raise _bad_code()
    return device, codes


def two_factor_verify(*, user: User, code: object) -> Device | None:
    """The device whose code (an app's or a recovery code) ``code`` is, or
    None; either way the attempt is in the activity log. django-otp throttles
    each device after a wrong code (a growing wait), and a recovery code
    works once."""
    token = normalize_code(code)
    with transaction.atomic():
        device = match_token(user, token) if token else None
        action = ActivityEvent.Action.TWO_FACTOR_PASSED if device else ActivityEvent.Action.TWO_FACTOR_FAILED
        activity_record_for_member(user=user, action=action)
    return device


def two_factor_disable(*, user: User, code: object) -> None:
    """Turn two-factor sign-in off: needs a current code (app or recovery).
    A wrong code is refused after django-otp counted it (its throttle)."""
    token = normalize_code(code)
    with transaction.atomic():
        device = match_token(user, token) if token else None
        if device is not None:
            TOTPDevice.objects.filter(user=user).delete()
            StaticDevice.objects.filter(user=user).delete()
            activity_record_for_member(user=user, action=ActivityEvent.Action.TWO_FACTOR_OFF)
    if device is None:
        raise _bad_code()


def recovery_codes_renew(*, user: User, code: object) -> list[str]:
    """New recovery codes (the old ones stop working); needs a current code."""
    if not has_two_factor(user):
        raise ServiceError("invalid_request", _("Turn on two-factor sign-in first."))
    token = normalize_code(code)
    codes: list[str] = []
    with transaction.atomic():
        device = match_token(user, token) if token else None
        if device is not None:
            codes = _new_recovery_codes(user)
            activity_record_for_member(user=user, action=ActivityEvent.Action.RECOVERY_CODES)
    if device is None:
        raise _bad_code()
    return codes


@transaction.atomic
def customer_set_require_two_factor(*, customer: Customer, required: bool, actor: User) -> Customer:
    """An owner requires (or stops requiring) two-factor sign-in for every
    member. Requiring it needs the owner's own app first, so the owner is
    never the one locked out."""
    if required and not has_two_factor(actor):
        raise ServiceError("invalid_request", _("Turn on two-factor sign-in for yourself first."))
    old = Customer.objects.select_for_update().values_list("require_two_factor", flat=True).get(pk=customer.pk)
    if old != required:
        Customer.objects.filter(pk=customer.pk).update(require_two_factor=required)
        action = ActivityEvent.Action.TEAM_TWO_FACTOR_ON if required else ActivityEvent.Action.TEAM_TWO_FACTOR_OFF
        activity_record(customer=customer, action=action, user=actor)
    customer.require_two_factor = required
    return customer


@transaction.atomic
def user_set_password(*, user: User, password: str) -> User:
    """A member's new password (already checked by the form: the old one and
    the password validators)."""
    user.set_password(password)
    user.save(update_fields=["password"])
    activity_record_for_member(user=user, action=ActivityEvent.Action.PASSWORD_CHANGED)
    return user
