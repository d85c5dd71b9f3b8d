"""Write use cases for a customer's team: members, their roles, invitations.

A customer always keeps at least one owner: demoting or removing the last
one is refused, with the owners' rows locked so that two owners demoting
each other at the same moment cannot both succeed.

An invitation carries a single-use token (only its SHA-256 is stored) that
expires after ``INVITATION_VALID_DAYS``; the emailed link holds the clear
token. Accepting creates the user, or needs the invited address signed in
when it already has an account, and makes the membership through
``membership_add``.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import ActivityEvent, Customer, Invitation, Membership, User
from accounts.selectors import hash_secret
from accounts.services.activity import activity_record
from otpportal.errors import ServiceError

logger = logging.getLogger("accounts.services")

INVITATION_VALID_DAYS = 7
INVITATION_TOKEN_BYTES = 32


def actor_label(actor: User | None) -> str:
    return actor.email if actor is not None else "system"


def _check_role(role: str) -> None:
    if role not in Membership.Role.values:
        raise ServiceError(
            "invalid_request", _("Unknown role '%(role)s'.") % {"role": role}, details={"role": [_("Unknown role.")]}
        )


def _role_label(role: str) -> str:
    """A role in the email (the request's language)."""
    return str(Membership.Role(role).label)


def _last_owner_refusal() -> ServiceError:
    message = _("A customer keeps at least one owner: make another member an owner first.")
    return ServiceError("invalid_request", message, details={"role": [message]})


def _lock_owners(customer_id: int) -> list[int]:
    """Lock the customer's owner memberships (in one order: no deadlock); their ids."""
    return list(
        Membership.objects.select_for_update()
        .filter(customer_id=customer_id, role=Membership.Role.OWNER)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@transaction.atomic
def membership_add(
    *,
    customer: Customer,
    email: str,
    role: str = Membership.Role.DEVELOPER,
    password: str | None = None,
    full_name: str = "",
    actor: User | None = None,
) -> Membership:
    """Make ``email`` a member of ``customer`` with ``role`` (the user is created
    when new; an existing membership takes the new role, never leaving the
    customer without an owner)."""
    _check_role(role)
    email = email.strip().lower()
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=password, full_name=full_name.strip()[:150])
    membership = Membership.objects.filter(user=user, customer=customer).first()
    if membership is not None:
        if membership.role != role:
            membership_set_role(membership=membership, role=role, actor=actor)
        return membership
    membership = Membership.objects.create(user=user, customer=customer, role=role)
    logger.info("membership: %s joins %s as %s (by %s)", email, customer.slug, role, actor_label(actor))
    activity_record(
        customer=customer,
        action=ActivityEvent.Action.MEMBER_JOINED,
        user=actor or user,
        target=f"{email} ({role})",
    )
    return membership


@transaction.atomic
def membership_set_role(*, membership: Membership, role: str, actor: User | None = None) -> Membership:
    _check_role(role)
    owners = _lock_owners(membership.customer_id)
    old = Membership.objects.select_for_update().values_list("role", flat=True).get(pk=membership.pk)
    if old == role:
        membership.role = role
        return membership
    if old == Membership.Role.OWNER and owners == [membership.pk]:
        raise _last_owner_refusal()
    Membership.objects.filter(pk=membership.pk).update(role=role)
    membership.role = role
    email = membership.user.email
    logger.info("membership: %s at %s is now %s (by %s)", email, membership.customer.slug, role, actor_label(actor))
    activity_record(
        customer=membership.customer,
        action=ActivityEvent.Action.ROLE_CHANGED,
        user=actor,
        target=f"{email}: {old} → {role}",
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: User | None = None) -> None:
    """The user stays (it may belong to other customers); it loses access to this one."""
    owners = _lock_owners(membership.customer_id)
    if owners == [membership.pk]:
        raise _last_owner_refusal()
    if not Membership.objects.filter(pk=membership.pk).delete()[0]:
        return  # removed already
    email = membership.user.email
    logger.info("membership: %s leaves %s (by %s)", email, membership.customer.slug, actor_label(actor))
    activity_record(
        customer=membership.customer,
        action=ActivityEvent.Action.MEMBER_REMOVED,
        user=actor,
        target=f"{email} ({membership.role})",
    )


# --- Invitations -------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedInvitation:
    invitation: Invitation
    link: str  # holds the clear token: only in the email


def _clean_email(value: object) -> str:
    email = value.strip().lower() if isinstance(value, str) else ""
    try:
        validate_email(email)
    except ValidationError:
        message = _("Enter a valid email address.")
        raise ServiceError("invalid_request", message, details={"email": [message]}) from None
    return email


def invitation_link(token: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("account:invitation_accept", args=[token])


def _send_invitation(invitation_id: int, link: str) -> None:
    invitation = Invitation.objects.select_related("customer", "invited_by").get(pk=invitation_id)
    context = {
        "invitation": invitation,
        "customer": invitation.customer.name,
        "inviter": invitation.invited_by.get_full_name() if invitation.invited_by else invitation.customer.name,
        "role": _role_label(invitation.role),
        "link": link,
        "days": INVITATION_VALID_DAYS,
    }
    subject = render_to_string("accounts/email/invitation_subject.txt", context).strip()
    body = render_to_string("accounts/email/invitation.txt", context).strip()
    send_mail(subject, body + "\n", None, [invitation.email])


@transaction.atomic
def invitation_create(
    *, customer: Customer, email: object, role: str, invited_by: User, now: datetime | None = None
) -> CreatedInvitation:
    """Invite ``email`` to join ``customer`` as ``role``: emails a link valid
    for ``INVITATION_VALID_DAYS``. An earlier open invitation to the same
    address stops working."""
    _check_role(role)
    email = _clean_email(email)
    now = now or timezone.now()
    if Membership.objects.filter(customer=customer, user__email=email).exists():
        message = _("%(email)s is already a member.") % {"email": email}
        raise ServiceError("invalid_request", message, details={"email": [message]})
    Invitation.objects.filter(
        customer=customer, email=email, accepted_at__isnull=True, canceled_at__isnull=True
    ).update(canceled_at=now)
    token = secrets.token_urlsafe(INVITATION_TOKEN_BYTES)
    invitation = Invitation.objects.create(
        customer=customer,
        email=email,
        role=role,
        token_hash=hash_secret(token),
        invited_by=invited_by,
        created_at=now,
        expires_at=now + timedelta(days=INVITATION_VALID_DAYS),
    )
    activity_record(
        customer=customer,
        action=ActivityEvent.Action.MEMBER_INVITED,
        user=invited_by,
        target=f"{email} ({role})",
        at=now,
    )
    link = invitation_link(token)
    transaction.on_commit(lambda: _send_invitation(invitation.pk, link))
    return CreatedInvitation(invitation=invitation, link=link)


@transaction.atomic
def invitation_cancel(*, customer: Customer, invitation_id: int, actor: User, now: datetime | None = None) -> None:
    now = now or timezone.now()
    invitation = (
        Invitation.objects.select_for_update()
        .filter(customer=customer, pk=invitation_id, accepted_at__isnull=True, canceled_at__isnull=True)
        .first()
    )
    if invitation is None:
        raise ServiceError("not_found", _("No such invitation."))
    invitation.canceled_at = now
    invitation.save(update_fields=["canceled_at"])
    activity_record(
        customer=customer,
        action=ActivityEvent.Action.INVITATION_CANCELED,
        user=actor,
        target=f"{invitation.email} ({invitation.role})",
        at=now,
    )


def _invalid_invitation() -> ServiceError:
    return ServiceError(
        "not_found",
        _("This invitation is not valid: it has expired, it was used or canceled, or the link is incomplete."),
    )


@transaction.atomic
def invitation_accept(
    *,
    token: str,
    user: User | None = None,
    password: str | None = None,
    full_name: str = "",
    now: datetime | None = None,
) -> Membership:
    """Accept an invitation once. ``user`` is the signed-in user when the
    invited address already has an account (it must be that address);
    otherwise the account is created with ``password`` (already validated by
    the form). A user who is a member already keeps their role."""
    now = now or timezone.now()
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("customer")
        .filter(token_hash=hash_secret(token or ""))
        .first()
    )
    if invitation is None or not invitation.is_open(now):
        raise _invalid_invitation()
    existing = User.objects.filter(email=invitation.email).first()
    if user is not None and user.email.lower() != invitation.email:
        raise ServiceError(
            "permission_denied",
            _("This invitation is for %(email)s: sign out and sign in with that address.")
            % {"email": invitation.email},
        )
    if user is None and existing is not None:
        raise ServiceError(
            "permission_denied",
            _("%(email)s already has an account: sign in with it to accept.") % {"email": invitation.email},
        )
    if user is None and not password:
        message = _("Choose a password.")
        raise ServiceError("invalid_request", message, details={"password": [message]})
    membership = Membership.objects.filter(customer=invitation.customer, user__email=invitation.email).first()
    if membership is None:
        membership = membership_add(
            customer=invitation.customer,
            email=invitation.email,
            role=invitation.role,
            password=password if user is None else None,
            full_name=full_name,
            actor=user,
        )
    invitation.accepted_at = now
    invitation.accepted_by = membership.user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership
