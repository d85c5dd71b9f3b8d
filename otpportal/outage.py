"""An outage answered cleanly (issue 14, drills 2 and 3).

When the database or Redis cannot be reached during a request, the answer is
``503`` — under ``/api/`` in the contract's shape, ``{"error": {"code":
"service_unavailable", …}}`` with ``Retry-After`` — never a ``500`` page.
Nothing has changed: the request's transaction rolled back with the error,
so the integrator may send the same request again (with the same
``Idempotency-Key``: it is charged at most once).

Two hooks catch it: ``OutageMiddleware.process_exception`` for an error
raised by a view (the common case: the API key lookup, a service), and
``handler500`` for one raised by a middleware (the session or the signed-in
user read outside a view), which Django turns into a 500 before any
middleware sees the exception. Django reconnects by itself afterwards
(``CONN_HEALTH_CHECKS``): the web processes need no restart.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from otpportal import api
from otpportal.middleware import is_api_path

logger = logging.getLogger(__name__)

RETRY_AFTER = 5  # seconds: what the 503 suggests; PostgreSQL restarts and Redis failovers take about that


def _outage_errors() -> tuple[type[BaseException], ...]:
    import redis

    return (OperationalError, InterfaceError, redis.ConnectionError, redis.TimeoutError)


def is_outage(exc: BaseException | None) -> bool:
    """Is ``exc`` (or what caused it) the database or Redis out of reach?"""
    errors = _outage_errors()
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, errors):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def outage_response(request: HttpRequest, exc: BaseException | None = None) -> HttpResponse:
    """503: the contract's JSON under /api/, a short page elsewhere; nothing read from the database."""
    logger.warning("outage: %s %s answered 503 (%s)", request.method, request.path, type(exc).__name__ if exc else "")
    message = _("The service is briefly unavailable; try again in a few seconds.")
    if is_api_path(request.path_info):
        response: HttpResponse = JsonResponse(
            {"error": {"code": "service_unavailable", "message": message, "details": {"retry_after": RETRY_AFTER}}},
            status=503,
        )
    else:
        response = HttpResponse(
            f'<!doctype html><html><head><meta charset="utf-8"><title>503</title></head>'
            f"<body><h1>503</h1><p>{message}</p></body></html>",
            status=503,
            content_type="text/html; charset=utf-8",
        )
    response["Retry-After"] = str(RETRY_AFTER)
    return response


class OutageMiddleware:
    """A view that raised because the database or Redis is out of reach answers 503."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return outage_response(request, exception) if is_outage(exception) else None


def handler500(request: HttpRequest) -> HttpResponse:
    """The project's 500 handler: an outage raised outside a view is a 503 too."""
    exc = sys.exc_info()[1]
    if is_outage(exc):
        return outage_response(request, exc)
    return api.handler500(request)
