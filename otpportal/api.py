"""API plumbing shared by every app: the one exception handler (style.md #12),
JSON 404/500 for paths under /api/, and the health check.

Review 8.19: every ``message`` and every text in ``details`` is in the
request's language (``otpportal.middleware.ApiLanguageMiddleware``: English,
or Indonesian when ``Accept-Language`` asks for it); codes never change."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, get_script_prefix, resolve
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from otpportal.errors import STATUS_BY_CODE, ServiceError
from otpportal.middleware import is_api_path

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

# Review 8.19: DRF texts the API can answer with that DRF's own Indonesian
# catalogue leaves untranslated; marked here so that they are in ours (the
# project's catalogue comes first). DRF fills the {placeholders} itself.
DRF_MESSAGES = [
    gettext_noop("Invalid input."),
    gettext_noop("Malformed request."),
    gettext_noop("Not a valid string."),
    gettext_noop("Must be a valid boolean."),
    gettext_noop("String value too large."),
    gettext_noop("This list may not be empty."),
    gettext_noop('Expected a list of items but got type "{input_type}".'),
    gettext_noop("Ensure this field has at least {min_length} elements."),
    gettext_noop("Ensure this field has no more than {max_length} elements."),
    gettext_noop("Invalid data. Expected a dictionary, but got {datatype}."),
    gettext_noop("Surrogate characters are not allowed: U+{code_point:X}."),
    gettext_noop("The submitted data was not a file. Check the encoding type on the form."),
    gettext_noop("Invalid cursor"),
]
_JSON_PARSE_ERROR = "JSON parse error - "  # DRF's JSONParser, untranslatable: its tail is Python's

# A DRF ``Throttled``'s code -> why it refused; the handler adds when to retry.
_THROTTLE_REASONS: dict[str, str] = {
    "throttled": gettext_noop("Too many requests for this API key."),  # messaging.throttles
    "auth_failures": gettext_noop("Too many failed authentications from this address."),  # accounts.authentication
}


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


def _drf_message(exc: exceptions.APIException, request: Any) -> str:
    """The message of a DRF refusal, in the active language (Review 8.19):
    DRF formats some of its texts before translating them, so those are ours."""
    if isinstance(exc, exceptions.MethodNotAllowed):
        return method_not_allowed_message(getattr(request, "method", ""))
    if isinstance(exc, exceptions.UnsupportedMediaType):
        media_type = getattr(request, "content_type", "") or ""
        return _('Unsupported media type "%(media_type)s" in request.') % {"media_type": media_type}
    if isinstance(exc, exceptions.Throttled):
        reason = _(_THROTTLE_REASONS.get(str(exc.get_codes()), _THROTTLE_REASONS["throttled"]))
        seconds = max(1, math.ceil(exc.wait)) if exc.wait is not None else 1
        return _("%(reason)s Retry in %(seconds)s s.") % {"reason": reason, "seconds": seconds}
    message = _message_of(exc.detail)
    if isinstance(exc, exceptions.ParseError) and message.startswith(_JSON_PARSE_ERROR):
        return _("The body is not valid JSON: %(error)s") % {"error": message.removeprefix(_JSON_PARSE_ERROR)}
    return message


def method_not_allowed_message(method: str) -> str:
    return _('Method "%(method)s" not allowed.') % {"method": method}


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
        if not details:
            message = _("Invalid request.")
        elif list(details) == ["non_field_errors"]:
            message = _message_of(exc.detail)
        else:
            message = _("Invalid request: %(fields)s") % {"fields": ", ".join(sorted(details))}
    else:
        details = {}
        message = _drf_message(exc, context.get("request"))
    retry_after = None
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        retry_after = max(1, math.ceil(exc.wait))
        details = {"retry_after": retry_after}
    response = error_response(code, message, details, retry_after)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def _is_api(request: HttpRequest) -> bool:
    return is_api_path(request.path_info)


def _json_error(code: str, message: str, status: int, details: dict[str, Any] | None = None) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "details": details or {}}}, status=status)


CATCH_ALL_NAME = "api-not-found"


def _slash_twin(request: HttpRequest) -> str | None:
    """The endpoint the path names once a trailing slash is dropped or added, if any."""
    path = request.path_info
    twin = path.rstrip("/") if path.endswith("/") else f"{path}/"
    try:
        match = resolve(twin)
    except Resolver404:
        return None
    return None if match.url_name == CATCH_ALL_NAME else f"{get_script_prefix()}{twin.lstrip('/')}"


@csrf_exempt
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Review 8.18: the last route under /api/. Every unknown path answers the
    contract's JSON 404, whatever DEBUG is and for every method; since the path
    resolves, CommonMiddleware's APPEND_SLASH never redirects (nor fails on a
    POST). A stray or missing trailing slash names the endpoint that was meant."""
    message = _("No endpoint at %(path)s.") % {"path": request.path}
    twin = _slash_twin(request)
    if twin is None:
        return _json_error("not_found", message, 404)
    hint = _("Did you mean %(path)s?") % {"path": twin}
    return _json_error("not_found", f"{message} {hint}", 404, {"path": [hint]})


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return _json_error("not_found", _("No such endpoint."), 404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception or Http404())


def handler500(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return _json_error("internal_error", _("An unexpected error occurred."), 500)
    from django.views.defaults import server_error

    return server_error(request)


# HTTP status -> the stable code of a refusal made outside DRF's exception handler.
_CODE_BY_STATUS: dict[int, str] = {
    400: "invalid_request",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


# HTTP status -> its reason phrase, translated (the rewrite below names it).
_STATUS_TEXTS: dict[int, str] = {
    400: gettext_noop("Bad Request"),
    401: gettext_noop("Unauthorized"),
    403: gettext_noop("Forbidden"),
    404: gettext_noop("Not Found"),
    406: gettext_noop("Not Acceptable"),
    415: gettext_noop("Unsupported Media Type"),
    429: gettext_noop("Too Many Requests"),
    500: gettext_noop("Internal Server Error"),
    503: gettext_noop("Service Unavailable"),
}


def _status_text(status: int, reason_phrase: str) -> str:
    text = _STATUS_TEXTS.get(status)
    return _(text) if text else reason_phrase


class ApiErrorMiddleware:
    """Review 8.18: an error under /api/ is always the contract's JSON shape.

    Refusals rendered by something other than the exception handler above
    (Django's debug 404/500 pages when DEBUG is on, a 405 of the schema view
    in YAML or of the docs page in HTML, a CSRF refusal) are rewritten to
    ``{"error": {"code", "message", "details"}}`` with the same status."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code < 400 or not _is_api(request):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        status = response.status_code
        code = _CODE_BY_STATUS.get(status, "internal_error" if status >= 500 else "invalid_request")
        if status == 405:
            message = method_not_allowed_message(request.method or "")
        else:
            message = f"{_status_text(status, response.reason_phrase)}: {request.path}"
        rewritten = _json_error(code, message, status)
        for header in _KEPT_HEADERS:
            if header in response:
                rewritten[header] = response[header]
        return rewritten


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
