"""The API's error responses in the OpenAPI schema (issue 14): one ``Error`` component, the
contract's ``{"error": {"code", "message", "details"}}``, and every 4xx/5xx an operation
can answer, so the served docs show them and a generated client knows them.

Each API module declares its operations' own refusals next to the success response::

    @extend_schema(responses={201: VerificationOut, **errors("insufficient_balance", "not_found")})

and ``AutoSchema`` (``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]``) adds what every operation can
answer: ``400 invalid_request``, ``401 unauthenticated``, ``406 not_acceptable``,
``429 rate_limited``, ``503 service_unavailable``, and ``415 unsupported_media_type`` where
there is a request body. Each status lists its stable codes (``otpportal/errors.py``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from otpportal.errors import STATUS_BY_CODE

# What each code means, in the served docs (the contract's table, docs/api.md "Errors").
MEANINGS: dict[str, str] = {
    "invalid_request": "malformed JSON, a missing or bad field (`details` names it), a bad filter or cursor",
    "invalid_phone_number": "not a valid number for an allowed country",
    "not_otp_content": "a text that is plainly not a one-time code",
    "invalid_file": "the upload is not a PDF, JPEG or PNG of at most 5 MB that opens",
    "fees_not_accepted": "a fee applies and was not accepted",
    "unauthenticated": "missing, unknown or revoked API key",
    "insufficient_balance": "the prepaid balance cannot cover the price",
    "quota_exceeded": "the postpaid monthly cap is reached",
    "account_suspended": "the customer is suspended",
    "guarantee_required": "postpaid without a guarantee held",
    "sender_id_not_active": "the sender ID asked for is not active for that operator",
    "deposit_required": "a sender ID needs a first deposit",
    "permission_denied": "this key may not do that (a test key, or a live key outside the sandbox)",
    "not_found": "unknown id, another customer's object, or an expired cursor",
    "not_acceptable": "the `Accept` header asks for something other than JSON",
    "idempotency_conflict": "the same `Idempotency-Key` with another request",
    "sender_id_taken": "the name is the platform's or another customer's",
    "sender_id_exists": "already applied for with these operators",
    "unsupported_media_type": "the body is not JSON (or multipart where a file is sent)",
    "rate_limited": "a per-key, per-number or per-address limit; `Retry-After` says when to try again",
    "resend_too_soon": "a resend within the cool-down",
    "max_sends_reached": "the verification's send limit",
    "service_unavailable": (
        "the database or Redis is briefly out of reach, or no price list is in force; nothing changed: "
        "send the same request again after `Retry-After` (with the same `Idempotency-Key`)"
    ),
}

JSON = "application/json"
EVERY_OPERATION = ("invalid_request", "unauthenticated", "not_acceptable", "rate_limited", "service_unavailable")
WITH_A_BODY = ("unsupported_media_type",)


# The stable codes, as the choices of the schema's ErrorCodeEnum (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
ERROR_CODES = [(code, code) for code in sorted(STATUS_BY_CODE)]


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=ERROR_CODES, help_text="A stable code (docs/api.md, Errors).")
    message = serializers.CharField(help_text="For people; in English, or Indonesian with `Accept-Language: id`.")
    details = serializers.DictField(
        help_text="Field errors as `{field: [messages]}`, or what the refusal needs (`retry_after`, limits).",
    )


class ErrorSerializer(serializers.Serializer):
    """The contract's error shape."""

    error = ErrorBodySerializer()


def _response(codes: list[str]) -> OpenApiResponse:
    lines = [f"- `{code}`: {MEANINGS.get(code, code.replace('_', ' '))}" for code in codes]
    return OpenApiResponse(ErrorSerializer, description="\n".join(lines))


def errors(*codes: str, body: bool = False) -> dict[tuple[int, str], OpenApiResponse]:
    """The error responses for ``codes`` plus what every operation (and, with ``body``, every
    operation with a request body) can answer, one JSON response per HTTP status (also where
    the success is a PDF or a CSV)."""
    by_status: dict[int, list[str]] = defaultdict(list)
    for code in (*EVERY_OPERATION, *(WITH_A_BODY if body else ()), *codes):
        status = STATUS_BY_CODE[code]  # KeyError: not a stable code
        if code not in by_status[status]:
            by_status[status].append(code)
    return {(status, JSON): _response(found) for status, found in sorted(by_status.items())}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's, with the error responses every operation can answer added to those
    its view declares (``errors``)."""

    def _is_list_view(self, serializer: Any = None) -> bool:
        """drf-spectacular takes the lowest declared status as the main response; with
        ``(status, media type)`` keys that would be an error's: look at the successes only."""
        if serializer is None:
            declared = self.get_response_serializers()
            if isinstance(declared, dict):
                successes = {k: v for k, v in declared.items() if int(k[0] if isinstance(k, tuple) else k) < 400}
                serializer = successes or declared
        return bool(super()._is_list_view(serializer))

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        has_body = self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None
        for (status, media_type), response in errors(body=has_body).items():
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(
                    response, str(status), [media_type], direction=direction
                )
        return responses
