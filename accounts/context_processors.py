from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts import roles


def current_customer(request: HttpRequest) -> dict[str, Any]:
    """The signed-in member's customer, set by ``accounts.views.customer_required``,
    and the URL names the member's role may open (``accounts.roles``): the
    navigation shows a link when ``"namespace:name" in allowed_pages``."""
    membership = getattr(request, "membership", None)
    return {
        "current_customer": getattr(request, "customer", None),
        "allowed_pages": roles.pages_for(membership.role) if membership is not None else frozenset(),
    }
