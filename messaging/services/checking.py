"""Checking, cancelling and expiring verifications (architecture flow 4)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Customer
from messaging import guards, phones
from messaging.crypto import code_matches
from messaging.models import Verification
from messaging.services.sending import _set_verification_status
from otpportal.errors import ServiceError
from otpportal.rowsql import FirstInstance, update_row

# The check by id (the common one): the row locked by SQL compiled once (otpportal.rowsql;
# the ORM's compiling was a fifth of a check in a profile).
_locked_by_id = FirstInstance(
    lambda customer_id, verification_id: (
        Verification.objects.select_for_update().filter(customer_id=customer_id, pk=verification_id).order_by("pk")
    ),
    customer_id=-7_310_000_000_000_003,
    verification_id="~verification-id~",
)

# What a check changes (nothing listens to a verification's save: written by update_row).
_CHECK_WRITES = ("checks", "status", "approved_at", "updated_at")


def _code(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 10:
        raise ServiceError("invalid_request", _("code must be the 4–10 digit code."), details={"code": [_("Invalid.")]})
    return value.strip()


def verification_check(
    *,
    customer: Customer,
    code: object,
    verification_id: str | None = None,
    to: object = None,
    now: datetime | None = None,
) -> tuple[Verification, bool]:
    """At most 5 checks, one success, constant-time compare, expiry enforced.
    A wrong, expired or spent verification answers valid=False (not an error)."""
    code = _code(code)
    now = now or timezone.now()
    with transaction.atomic():
        if verification_id is not None:
            verification = _locked_by_id.get(customer_id=customer.pk, verification_id=str(verification_id))
        else:
            queryset = Verification.objects.select_for_update().filter(customer=customer)
            if not isinstance(to, str):
                raise ServiceError(
                    "invalid_phone_number", _("to must be a phone number."), details={"to": [_("Required.")]}
                )
            e164 = phones.parse(to, require_operator=False).e164
            verification = (
                queryset.filter(to=e164, status=Verification.Status.PENDING).order_by("-created_at").first()
                or queryset.filter(to=e164).order_by("-created_at").first()
            )
        if verification is None:
            raise ServiceError("not_found", _("No such verification."))
        if verification.status != Verification.Status.PENDING:
            return verification, False
        if verification.expires_at <= now:
            _set_verification_status(verification, Verification.Status.EXPIRED, now)
            verification.save()
            return verification, False
        verification.checks += 1
        valid = code_matches(verification.id, code, verification.code_hmacs)
        if valid:
            _set_verification_status(verification, Verification.Status.APPROVED, now)
            approved = verification
            transaction.on_commit(lambda: guards.pumping_approved(verification=approved))
        elif verification.checks >= Verification.MAX_CHECKS:
            _set_verification_status(verification, Verification.Status.MAX_ATTEMPTS_REACHED, now)
        verification.updated_at = now
        update_row(Verification, verification.pk, {f: getattr(verification, f) for f in _CHECK_WRITES})
    return verification, valid


def verification_cancel(*, customer: Customer, verification_id: str, now: datetime | None = None) -> Verification:
    now = now or timezone.now()
    with transaction.atomic():
        verification = Verification.objects.select_for_update().filter(customer=customer, pk=verification_id).first()
        if verification is None:
            raise ServiceError("not_found", _("No such verification."))
        if verification.status == Verification.Status.CANCELED:
            return verification
        if verification.status != Verification.Status.PENDING:
            raise ServiceError(
                "invalid_request",
                _("The verification is %(status)s; only pending ones can be canceled.")
                % {"status": verification.status},
                details={"status": verification.status},
            )
        _set_verification_status(verification, Verification.Status.CANCELED, now)
        verification.save()
    return verification


def verifications_expire(*, now: datetime | None = None, batch: int = 500) -> int:
    """Periodic: close pending verifications past their expiry."""
    now = now or timezone.now()
    done = 0
    ids = list(
        Verification.objects.filter(status=Verification.Status.PENDING, expires_at__lte=now).values_list(
            "id", flat=True
        )[:batch]
    )
    for verification_id in ids:
        with transaction.atomic():
            verification = Verification.objects.select_for_update().get(pk=verification_id)
            if verification.status == Verification.Status.PENDING and verification.expires_at <= now:
                _set_verification_status(verification, Verification.Status.EXPIRED, now)
                verification.save()
                done += 1
    return done
