"""The one exception type for business refusals.

Services raise ``ServiceError`` with a stable code, each listed with its HTTP
status in ``docs/api.md`` ("Errors"); the DRF exception handler in
``otpportal.api`` renders it as ``{"error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

from typing import Any

# Stable code -> HTTP status (api-contract.md "Errors").
STATUS_BY_CODE: dict[str, int] = {
    "invalid_request": 400,
    "invalid_phone_number": 400,
    "not_otp_content": 400,
    "unauthenticated": 401,
    "insufficient_balance": 402,
    "quota_exceeded": 402,
    "account_suspended": 403,
    "guarantee_required": 403,  # R-POST-1: postpaid without a guarantee held
    "sender_id_not_active": 403,
    "deposit_required": 403,  # R-SID-3: a sender ID needs a first deposit of Rp 2.000.000 (or a guarantee)
    "permission_denied": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "not_acceptable": 406,
    "idempotency_conflict": 409,
    # Sender IDs (R-SID): refusals of an application or a move.
    "invalid_file": 400,  # the signed form is not a PDF, JPEG or PNG of at most 5 MB that opens
    "fees_not_accepted": 400,  # R-SID-6, R-SID-8: a fee applies and was not accepted
    "sender_id_taken": 409,  # the name is the platform's own or active for another customer
    "sender_id_exists": 409,  # the customer already applied for the name with these operators
    "invalid_transition": 409,  # a registration move its state machine does not allow (R-SID-4)
    # Staff operations on money (admin, commands): refusals that name the state.
    "month_not_ended": 409,
    "invoice_not_open": 409,
    "already_terminated": 409,
    "payment_too_large": 400,
    "guarantee_below_minimum": 400,
    "unsupported_media_type": 415,
    "rate_limited": 429,
    "resend_too_soon": 429,
    "max_sends_reached": 429,
    "internal_error": 500,
    "service_unavailable": 503,
}


class ServiceError(Exception):
    """A refusal a caller can act on, carrying the contract's stable code."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        if code not in STATUS_BY_CODE:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.retry_after = retry_after

    @property
    def status(self) -> int:
        return STATUS_BY_CODE[self.code]

    def as_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def field_error(field: str, message: str, code: str = "invalid_request") -> ServiceError:
    """A 400 naming one field, in the contract's ``details`` shape."""
    return ServiceError(code, message, details={field: [message]})
