"""Write use cases for customers, memberships and API keys (style.md #1)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from accounts.models import ApiKey, Customer, Membership, User
from accounts.selectors import hash_secret
from otpportal.errors import ServiceError

logger = logging.getLogger(__name__)

API_KEY_RANDOM_BYTES = 32
VISIBLE_PREFIX_CHARS = 8
API_KEY_NAME_MAX = 100


@dataclass(frozen=True)
class CreatedKey:
    api_key: ApiKey
    secret: str  # the clear key: shown once, never stored


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "customer"
    slug, n = base, 2
    while Customer.objects.filter(slug=slug).exists():
        slug = f"{base}-{n}"
        n += 1
    return slug


@transaction.atomic
def customer_create(
    *,
    name: str,
    billing_email: str,
    mode: str = Customer.Mode.PREPAID,
    slug: str | None = None,
    legal_name: str = "",
    npwp: str = "",
    postal_address: str = "",
    brand_name: str = "",
    owner_email: str | None = None,
    owner_password: str | None = None,
) -> Customer:
    name = (name or "").strip()
    if not name:
        raise ServiceError("invalid_request", _("A customer needs a name."), details={"name": [_("Required.")]})
    if mode not in Customer.Mode.values:
        raise _unknown_mode(mode)
    if slug and Customer.objects.filter(slug=slug).exists():
        raise ServiceError(
            "invalid_request", _("Slug '%(slug)s' is taken.") % {"slug": slug}, details={"slug": [_("Already taken.")]}
        )
    customer = Customer.objects.create(
        name=name,
        slug=slug or _unique_slug(name),
        billing_email=billing_email,
        mode=mode,
        legal_name=legal_name,
        npwp=npwp,
        postal_address=postal_address,
        brand_name=brand_name,
    )
    if owner_email:
        membership_add(customer=customer, email=owner_email, role=Membership.Role.OWNER, password=owner_password)
    return customer


def _check_role(role: str) -> None:
    if role not in Membership.Role.values:
        raise ServiceError(
            "invalid_request", _("Unknown role '%(role)s'.") % {"role": role}, details={"role": [_("Unknown role.")]}
        )


def _actor(actor: User | None) -> str:
    return actor.email if actor is not None else "system"


@transaction.atomic
def membership_add(
    *,
    customer: Customer,
    email: str,
    role: str = Membership.Role.DEVELOPER,
    password: str | None = None,
    actor: User | None = None,
) -> Membership:
    """Make ``email`` a member of ``customer`` with ``role`` (the user is created
    when new; an existing membership takes the new role)."""
    _check_role(role)
    email = email.strip().lower()
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=password)
    membership, _created = Membership.objects.update_or_create(user=user, customer=customer, defaults={"role": role})
    logger.info("membership: %s joins %s as %s (by %s)", email, customer.slug, role, _actor(actor))
    return membership


@transaction.atomic
def membership_set_role(*, membership: Membership, role: str, actor: User | None = None) -> Membership:
    _check_role(role)
    Membership.objects.filter(pk=membership.pk).update(role=role)
    membership.role = role
    logger.info(
        "membership: %s at %s is now %s (by %s)",
        membership.user.email,
        membership.customer.slug,
        role,
        _actor(actor),
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: User | None = None) -> None:
    """The user stays (it may belong to other customers); it loses access to this one."""
    Membership.objects.filter(pk=membership.pk).delete()
    logger.info("membership: %s leaves %s (by %s)", membership.user.email, membership.customer.slug, _actor(actor))


def api_key_create(
    *, customer: Customer, mode: str = ApiKey.Mode.LIVE, name: str = "", created_by: User | None = None
) -> CreatedKey:
    """Make a key (``otp_live_`` / ``otp_test_`` + 32 random bytes); return it once."""
    if mode not in ApiKey.Mode.values:
        raise ServiceError(
            "invalid_request",
            _("Unknown key mode '%(mode)s'.") % {"mode": mode},
            details={"mode": [_("live or test.")]},
        )
    secret = f"otp_{mode}_{secrets.token_urlsafe(API_KEY_RANDOM_BYTES)}"
    api_key = ApiKey.objects.create(
        customer=customer,
        name=name,
        mode=mode,
        prefix=secret[: len(f"otp_{mode}_") + VISIBLE_PREFIX_CHARS],
        key_hash=hash_secret(secret),
        created_by=created_by,
    )
    return CreatedKey(api_key=api_key, secret=secret)


def api_key_rename(*, api_key: ApiKey, name: str) -> ApiKey:
    """Only the label changes: the key, its mode and its customer never do."""
    name = (name or "").strip()
    if len(name) > API_KEY_NAME_MAX:
        raise ServiceError(
            "invalid_request",
            _("A key's name has at most %(max)s characters.") % {"max": API_KEY_NAME_MAX},
            details={"name": [_("At most %(max)s characters.") % {"max": API_KEY_NAME_MAX}]},
        )
    ApiKey.objects.filter(pk=api_key.pk).update(name=name)
    api_key.name = name
    return api_key


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        now = timezone.now()
        ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=now)
        api_key.revoked_at = now
    return api_key


@transaction.atomic
def customer_set_status(*, customer: Customer, status: str, reason: str = "", actor: User | None = None) -> Customer:
    """Suspend or reactivate a customer (sends are refused while it is not
    active). A terminated customer stays terminated: termination settles the
    postpaid guarantee (R-POST-7, ``billing.services.customer_terminate``)."""
    if status not in Customer.Status.values:
        raise ServiceError(
            "invalid_request",
            _("Unknown status '%(status)s'.") % {"status": status},
            details={"status": [_("Unknown.")]},
        )
    old = Customer.objects.select_for_update().values_list("status", flat=True).get(pk=customer.pk)
    if old != status:
        if old == Customer.Status.TERMINATED:
            raise ServiceError(
                "invalid_request",
                _("%(customer)s is terminated; its status no longer changes.") % {"customer": customer.slug},
                details={"status": [_("The customer is terminated.")]},
            )
        Customer.objects.filter(pk=customer.pk).update(status=status)
        logger.info("customer %s: status %s -> %s (by %s): %s", customer.slug, old, status, _actor(actor), reason)
    customer.status = status
    return customer


def _unknown_mode(mode: object) -> ServiceError:
    return ServiceError(
        "invalid_request",
        _("Unknown mode '%(mode)s'.") % {"mode": mode},
        details={"mode": [_("One of %(values)s.") % {"values": ", ".join(Customer.Mode.values)}]},
    )


@transaction.atomic
def customer_set_mode(*, customer: Customer, mode: str, reason: str = "", actor: User | None = None) -> Customer:
    """Switch a customer between prepaid and postpaid. Money does not move
    here: a postpaid customer's guarantee (R-POST-1) is recorded by billing."""
    if mode not in Customer.Mode.values:
        raise _unknown_mode(mode)
    old = Customer.objects.select_for_update().values_list("mode", flat=True).get(pk=customer.pk)
    if old != mode:
        Customer.objects.filter(pk=customer.pk).update(mode=mode)
        logger.info("customer %s: mode %s -> %s (by %s): %s", customer.slug, old, mode, _actor(actor), reason)
    customer.mode = mode
    return customer
