"""Write use cases for API keys: made (shown once), renamed, revoked."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import ActivityEvent, ApiKey, Customer, User
from accounts.selectors import hash_secret
from accounts.services.activity import activity_record
from otpportal import hotcache
from otpportal.errors import ServiceError

API_KEY_RANDOM_BYTES = 32
VISIBLE_PREFIX_CHARS = 8
API_KEY_NAME_MAX = 100


@dataclass(frozen=True)
class CreatedKey:
    api_key: ApiKey
    secret: str  # the clear key: shown once, never stored


def _described(api_key: ApiKey) -> str:
    label = f"{api_key.prefix}… ({api_key.mode})"
    return f"{label} {api_key.name}" if api_key.name else label


@transaction.atomic
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
    activity_record(
        customer=customer, action=ActivityEvent.Action.KEY_CREATED, user=created_by, target=_described(api_key)
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


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: User | None = None) -> ApiKey:
    """Requests with the key are refused from now on; a second revoke changes nothing."""
    if api_key.revoked_at is None:
        now = timezone.now()
        if ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=now):
            hotcache.clear_all()  # refused here at once, in other processes within HOT_CACHE_SECONDS
            activity_record(
                customer=api_key.customer,
                action=ActivityEvent.Action.KEY_REVOKED,
                user=actor,
                target=_described(api_key),
                at=now,
            )
        api_key.revoked_at = now
    return api_key
