"""Staff commands speak English (Review 8.19).

Django runs a management command (``manage.py`` or ``call_command``) in
whatever language is active, which outside a request is ``LANGUAGE_CODE``
(Indonesian): the refusals of the services a command calls are translated
when raised, so without this a command would print its own English texts next
to an Indonesian ``ServiceError`` message. ``in_english`` runs the command's
``handle`` with English active, so everything it prints is English. Emails
and documents a command produces keep their own language (they switch to
it themselves, e.g. ``billing.notifications``, ``billing.documents``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.utils import translation

STAFF_LANGUAGE = "en"

Handle = TypeVar("Handle", bound=Callable[..., Any])


def in_english(handle: Handle) -> Handle:
    """Decorate a command's ``handle``: it runs with English active."""

    @wraps(handle)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with translation.override(STAFF_LANGUAGE):
            return handle(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
