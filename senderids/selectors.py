"""Sender IDs (R-CH-4, R-SID). Registrations per operator arrive with the
sender-ID work; until a customer has an active registration, every send
uses the platform default sender."""

from __future__ import annotations

from accounts.models import Customer


def active_sender_id(*, customer: Customer, operator: str, requested: str = "") -> str | None:
    """The customer's active sender ID for this operator, or None.

    With ``requested``, only that exact name counts. No registrations exist
    yet, so nothing is active.
    """
    return None
