"""Read queries on customers, members and keys. Always scoped by customer."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import ApiKey, Customer, Membership, User

KEY_PREFIXES = ("otp_live_", "otp_test_")
LAST_USED_RESOLUTION = timedelta(seconds=60)


def hash_secret(secret: str) -> str:
    """SHA-256 of a key. Keys carry 256 random bits, so a fast hash is safe here."""
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_for_secret(secret: str) -> ApiKey | None:
    """The active key for a clear secret, or None. One indexed query.

    ``last_used_at`` is refreshed at most once a minute (a conditional UPDATE),
    so the hot send path does not write on every request.
    """
    if not secret.startswith(KEY_PREFIXES) or len(secret) > 128:
        return None
    api_key = (
        ApiKey.objects.select_related("customer").filter(key_hash=hash_secret(secret), revoked_at__isnull=True).first()
    )
    if api_key is None:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def customer_api_keys(*, customer: Customer) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(customer=customer).order_by("-created_at")


def customers_for_user(*, user: User) -> QuerySet[Customer]:
    return Customer.objects.filter(memberships__user=user).order_by("name")


def membership_for(*, user: User, customer_slug: str | None = None) -> Membership | None:
    """The user's membership (of the given customer, or the first one)."""
    qs = Membership.objects.select_related("customer").filter(user=user)
    if customer_slug:
        qs = qs.filter(customer__slug=customer_slug)
    return qs.order_by("customer__name").first()


def customer_by_slug(slug: str) -> Customer | None:
    return Customer.objects.filter(slug=slug).first()
