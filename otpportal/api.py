"""API plumbing shared by every app: the one exception handler (style.md #12),
JSON 404/500 for paths under /api/, and the health check."""

from __future__ import annotations

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from otpportal.errors import STATUS_BY_CODE, ServiceError

logger = logging.getLogger(__name__)

# DRF exception class -> our stable code. Order matters: subclasses first.
_DRF_CODES: list[tuple[type[exceptions.APIException], str]] = [
    (exceptions.NotAuthenticated, "unauthenticated"),
    (exceptions.AuthenticationFailed, "unauthenticated"),
    (exceptions.ParseError, "invalid_request"),
    (exceptions.ValidationError, "invalid_request"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "rate_limited"),
]


def _message_of(detail: Any) -> str:
    if isinstance(detail, list | tuple) and detail:
        return _message_of(detail[0])
    if isinstance(detail, dict) and detail:
        return _message_of(next(iter(detail.values())))
    return str(detail)


def _field_details(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return {
            key: [str(m) for m in value] if isinstance(value, list) else _field_details(value)
            for key, value in detail.items()
        }
    if isinstance(detail, list):
        return {"non_field_errors": [str(m) for m in detail]}
    return {}


def error_response(
    code: str, message: str, details: dict[str, Any] | None = None, retry_after: int | None = None
) -> Response:
    response = Response(
        {"error": {"code": code, "message": message, "details": details or {}}}, status=STATUS_BY_CODE[code]
    )
    if retry_after is not None:
        response["Retry-After"] = str(max(1, int(retry_after)))
    return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render every refusal in the contract's error shape."""
    if isinstance(exc, ServiceError):
        set_rollback()
        return error_response(exc.code, exc.message, exc.details, exc.retry_after)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's handler500 answers JSON under /api/ (below)
    set_rollback()
    code = next((c for cls, c in _DRF_CODES if isinstance(exc, cls)), "invalid_request")
    if isinstance(exc, exceptions.ValidationError):
        details = _field_details(exc.detail)
        message = "Invalid request: " + ", ".join(sorted(details)) if details else "Invalid request."
        if list(details) == ["non_field_errors"]:
            message = _message_of(exc.detail)
    else:
        details = {}
        message = _message_of(exc.detail)
    retry_after = None
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        retry_after = max(1, math.ceil(exc.wait))
        details = {"retry_after": retry_after}
    response = error_response(code, message, details, retry_after)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"error": {"code": "not_found", "message": "No such endpoint.", "details": {}}}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception or Http404())


def handler500(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            {"error": {"code": "internal_error", "message": "An unexpected error occurred.", "details": {}}},
            status=500,
        )
    from django.views.defaults import server_error

    return server_error(request)


def healthz(request: HttpRequest) -> JsonResponse:
    """Database and broker reachable? Says which one failed (503)."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - report any failure
        logger.warning("healthz: database failed: %s", exc)
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        from django.conf import settings

        from otpportal.celery import app

        with app.connection_for_write(url=settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception as exc:  # noqa: BLE001 - report any failure
        logger.warning("healthz: broker failed: %s", exc)
        checks["broker"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503)
