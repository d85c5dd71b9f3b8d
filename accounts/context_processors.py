from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def current_customer(request: HttpRequest) -> dict[str, Any]:
    """The signed-in member's customer, set by ``accounts.views.customer_required``."""
    return {"current_customer": getattr(request, "customer", None)}
