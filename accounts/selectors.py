"""Read queries on customers, members and keys. Always scoped by customer."""

from __future__ import annotations

import copy
import hashlib
import logging
import threading
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Case, Exists, OuterRef, QuerySet, When
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import ActivityEvent, ApiKey, Customer, Invitation, Membership, User
from otpportal.hotcache import TtlCache
from otpportal.rowsql import JoinedRow, set_column

logger = logging.getLogger(__name__)

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

    ``last_used_at`` is refreshed at most once a minute and written in batches
    (``note_key_use``), so a request does not pay an UPDATE and its commit.
    """
    if not secret.startswith(KEY_PREFIXES) or len(secret) > 128:
        return None
    key_hash = hash_secret(secret)
    cached = _keys.get(key_hash, lambda: _load_key(key_hash))
    if cached is None:
        return None
    # Each request gets its own copies: nothing a request sets on them leaks into the next.
    note_key_use(cached)
    api_key = copy.copy(cached)
    api_key.customer = copy.copy(cached.customer)
    return api_key


# The same row as ApiKey.objects.select_related("customer").filter(key_hash=…, revoked_at=None),
# by a statement written once (otpportal.rowsql: the ORM's compiling cost more than the query).
_key_row = JoinedRow(ApiKey, "customer", "key_hash", extra_where='"t"."revoked_at" IS NULL')


def _load_key(key_hash: str) -> ApiKey | None:
    return _key_row.get(key_hash)


# --- When a key was last used (issue 11: off the request path) ------------------------------
#
# A use is noted in this process (at most one per key per LAST_USED_RESOLUTION) and the noted
# times are written together, in one UPDATE, once KEY_USE_FLUSH_SECONDS have passed since the
# last write. With 10,000 keys in rotation every request used to pay an UPDATE and its commit.
# What a process noted but had not written when it died is lost: a time shown to the minute on
# the keys page, a minute or so late at worst, never a wrong one.

_uses: dict[int, datetime] = {}
_uses_lock = threading.Lock()
_uses_written = time.monotonic()


def note_key_use(api_key: ApiKey, now: datetime | None = None) -> None:
    """Record that ``api_key`` was used (``api_key`` is the process's cached row: its
    ``last_used_at`` remembers what was noted, so a key is noted once a minute)."""
    global _uses_written
    now = now or timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        api_key.last_used_at = now
        with _uses_lock:
            _uses[api_key.pk] = now
    if _uses and time.monotonic() - _uses_written >= settings.KEY_USE_FLUSH_SECONDS:
        _uses_written = time.monotonic()
        try:
            key_uses_write()
        except DatabaseError:  # kept for the next write: a "last used" time never fails a request
            logger.warning("API key uses not written; kept for the next try", exc_info=True)


def key_uses_write() -> int:
    """Write the noted uses (one UPDATE); returns how many keys. A failed write keeps them."""
    with _uses_lock:
        uses = dict(_uses)
        _uses.clear()
    if not uses:
        return 0
    try:
        set_column(ApiKey, "last_used_at", uses)
    except DatabaseError:
        with _uses_lock:
            for pk, at in uses.items():
                _uses.setdefault(pk, at)
        raise
    return len(uses)


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
