"""The customer's activity log: sign-ins and sensitive actions, shown to owners.

Use cases call ``activity_record`` inside their own transaction, so a line is
written exactly when the action is. The client's address is the one
``accounts.middleware.ClientAddressMiddleware`` read for the current request
(``accounts.client_ip``, ``TRUSTED_PROXY_COUNT``); outside a request (a staff
command, a task) there is none.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from django.utils import timezone

from accounts.models import ActivityEvent, ApiKey, Customer, Membership, User

TARGET_MAX = 200

_client_address: ContextVar[str | None] = ContextVar("accounts_client_address", default=None)


@contextmanager
def client_address(address: str | None) -> Iterator[None]:
    """Within this block, activity lines carry ``address`` (one request)."""
    token = _client_address.set(address or None)
    try:
        yield
    finally:
        _client_address.reset(token)


def _actor(user: User | None, api_key: ApiKey | None) -> str:
    if user is not None:
        return user.email
    if api_key is not None:
        return f"API {api_key.prefix}…"
    return ""


def activity_record(
    *,
    customer: Customer,
    action: str,
    user: User | None = None,
    api_key: ApiKey | None = None,
    target: str = "",
    at: datetime | None = None,
) -> ActivityEvent:
    """One line of ``customer``'s activity log. ``user`` (or else ``api_key``)
    did ``action`` on ``target`` (a short description: a key's prefix, a URL,
    a member's email)."""
    return ActivityEvent.objects.create(
        customer=customer,
        user=user,
        actor=_actor(user, api_key),
        action=ActivityEvent.Action(action).value,
        target=target[:TARGET_MAX],
        ip=_client_address.get(),
        at=at or timezone.now(),
    )


def activity_record_for_member(*, user: User, action: str, target: str = "") -> int:
    """The same line in the log of every customer ``user`` belongs to (a
    sign-in, a change to the user's own two-factor sign-in). Returns how many."""
    customer_ids = list(Membership.objects.filter(user=user).values_list("customer_id", flat=True))
    now = timezone.now()
    address = _client_address.get()
    ActivityEvent.objects.bulk_create(
        ActivityEvent(
            customer_id=customer_id,
            user=user,
            actor=user.email,
            action=ActivityEvent.Action(action).value,
            target=target[:TARGET_MAX],
            ip=address,
            at=now,
        )
        for customer_id in customer_ids
    )
    return len(customer_ids)
