"""Read queries on customers, members and keys. Always scoped by customer."""

from __future__ import annotations

import copy
import hashlib
from datetime import timedelta

from django.db.models import Case, Exists, OuterRef, QuerySet, When
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import ActivityEvent, ApiKey, Customer, Invitation, Membership, User
from otpportal.hotcache import TtlCache

KEY_PREFIXES = ("otp_live_", "otp_test_")
LAST_USED_RESOLUTION = timedelta(seconds=60)


def hash_secret(secret: str) -> str:
    """SHA-256 of a key. Keys carry 256 random bits, so a fast hash is safe here."""
    return hashlib.sha256(secret.encode()).hexdigest()


_keys: TtlCache[ApiKey | None] = TtlCache("api keys")


def api_key_for_secret(secret: str) -> ApiKey | None:
    """The active key for a clear secret, or None. One indexed query, or none
    while the key is in this process's hot cache (``otpportal.hotcache``:
    a revoked key or a suspended customer takes effect everywhere within
    ``HOT_CACHE_SECONDS``, at once in the process that made the change).

    ``last_used_at`` is refreshed at most once a minute (a conditional UPDATE),
    so the hot send path does not write on every request.
    """
    if not secret.startswith(KEY_PREFIXES) or len(secret) > 128:
        return None
    key_hash = hash_secret(secret)
    cached = _keys.get(key_hash, lambda: _load_key(key_hash))
    if cached is None:
        return None
    # Each request gets its own copies: nothing a request sets on them leaks into the next.
    api_key = copy.copy(cached)
    api_key.customer = copy.copy(cached.customer)
    return api_key


def _load_key(key_hash: str) -> ApiKey | None:
    api_key = ApiKey.objects.select_related("customer").filter(key_hash=key_hash, revoked_at__isnull=True).first()
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
    """The user's membership (of the given customer, or the first one), with
    ``user_has_two_factor`` (an authenticator app) read in the same query."""
    qs = (
        Membership.objects.select_related("customer")
        .filter(user=user)
        .annotate(user_has_two_factor=Exists(TOTPDevice.objects.filter(user_id=OuterRef("user_id"), confirmed=True)))
    )
    if customer_slug:
        qs = qs.filter(customer__slug=customer_slug)
    return qs.order_by("customer__name").first()


def customer_by_slug(slug: str) -> Customer | None:
    return Customer.objects.filter(slug=slug).first()


# --- Team, sign-in security and the activity log ---------------------------------------


def has_two_factor(user: User) -> bool:
    """Whether ``user`` signs in with an authenticator app code."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def remaining_recovery_codes(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def team_requires_two_factor(user: User) -> bool:
    """Whether a customer ``user`` belongs to requires two-factor sign-in."""
    return Membership.objects.filter(user=user, customer__require_two_factor=True).exists()


def members(*, customer: Customer) -> list[Membership]:
    """The customer's members, owners first, each with ``has_two_factor`` set
    (one query, whatever the team's size)."""
    return list(
        Membership.objects.filter(customer=customer)
        .select_related("user")
        .annotate(
            has_two_factor=Exists(TOTPDevice.objects.filter(user_id=OuterRef("user_id"), confirmed=True)),
        )
        .order_by(
            Case(
                When(role=Membership.Role.OWNER, then=0),
                When(role=Membership.Role.DEVELOPER, then=1),
                default=2,
            ),
            "user__email",
        )
    )


def open_invitations(*, customer: Customer) -> QuerySet[Invitation]:
    return (
        Invitation.objects.filter(
            customer=customer, accepted_at__isnull=True, canceled_at__isnull=True, expires_at__gt=timezone.now()
        )
        .select_related("invited_by")
        .order_by("-created_at")
    )


def invitation_for_token(token: str) -> Invitation | None:
    """The invitation a link's token names (open or not), or None."""
    return Invitation.objects.select_related("customer").filter(token_hash=hash_secret(token or "")).first()


def activity_events(*, customer: Customer, action: str | None = None) -> QuerySet[ActivityEvent]:
    """The customer's activity log, newest first (one query per page: the
    actor and the object are snapshots on the row)."""
    queryset = ActivityEvent.objects.filter(customer=customer)
    if action:
        queryset = queryset.filter(action=action)
    return queryset.order_by("-at", "-id")


def membership_of(*, customer: Customer, membership_id: int) -> Membership | None:
    return Membership.objects.select_related("user", "customer").filter(customer=customer, pk=membership_id).first()


def user_exists(email: str) -> bool:
    return User.objects.filter(email=email.strip().lower()).exists()
