"""Sign-ins in the activity log (``accounts.services.activity``): a successful
one and a refused password for every customer the user belongs to. A refused
address that is nobody's is no customer's business and is not recorded
(django-axes counts it for the lock-out)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from accounts.models import ActivityEvent, User
from accounts.services import activity_record_for_member


@receiver(user_logged_in, dispatch_uid="accounts.activity.signed_in")
def signed_in(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    activity_record_for_member(user=user, action=ActivityEvent.Action.SIGN_IN)


@receiver(user_login_failed, dispatch_uid="accounts.activity.sign_in_failed")
def sign_in_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    email = credentials.get("username") or credentials.get("email") or ""
    user = User.objects.filter(email=str(email).strip().lower()).first() if email else None
    if user is not None:
        activity_record_for_member(user=user, action=ActivityEvent.Action.SIGN_IN_FAILED)
