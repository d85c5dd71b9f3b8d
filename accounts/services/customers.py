"""Write use cases for customers (style.md #1)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from accounts.models import Customer, Membership, User
from accounts.services.team import actor_label, membership_add
from otpportal import hotcache
from otpportal.errors import ServiceError

logger = logging.getLogger("accounts.services")


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
        hotcache.clear_all()  # cached keys carry the customer's status (issue 11)
        logger.info("customer %s: status %s -> %s (by %s): %s", customer.slug, old, status, actor_label(actor), reason)
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
        hotcache.clear_all()
        logger.info("customer %s: mode %s -> %s (by %s): %s", customer.slug, old, mode, actor_label(actor), reason)
    customer.mode = mode
    return customer
