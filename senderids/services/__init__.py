"""Sender-ID write use cases (style.md #1). Views, the API, the admin, the
tasks and billing's month-end run call only these."""

from senderids.services.applications import (
    Application,
    application_preview,
    appointment_form,
    deposit_check,
    registration_reactivation_request,
    sender_id_apply,
)
from senderids.services.registrations import registration_move
from senderids.services.traffic import quarter_review, quarter_warn, shortfalls_charge

__all__ = [
    "Application",
    "application_preview",
    "appointment_form",
    "deposit_check",
    "quarter_review",
    "quarter_warn",
    "registration_move",
    "registration_reactivation_request",
    "sender_id_apply",
    "shortfalls_charge",
]
