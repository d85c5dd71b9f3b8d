"""The one exception type for business refusals (style.md #12).

Services raise ``ServiceError`` with a stable code from
``../shared/docs/api-contract.md``; the DRF exception handler in
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
    "sender_id_not_active": 403,
    "permission_denied": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "not_acceptable": 406,
    "idempotency_conflict": 409,
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
