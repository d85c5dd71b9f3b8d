"""The integrators' API through a middleware chain of its own (issue 11).

The dashboard and the admin need eighteen middlewares (sessions, the signed-in user and
its second factor, CSRF, messages, django-axes, the audit log's actor, WhiteNoise…). A
request to ``/api/v1/`` authenticates by its API key and needs none of those; a profile of
``GET /api/v1/me`` put a fifth of the request's CPU in walking that chain. So
``ApiChainMiddleware``, first in ``settings.MIDDLEWARE``, sends the key-authenticated API
through ``settings.API_MIDDLEWARE`` instead: the security headers, the client's address,
the API's language, its JSON errors, the outage answer, Django's host check and
``X-Frame-Options``. Everything else (the API docs and schema pages included, which have
a content security policy of their own) goes down the whole chain.

It is a middleware, not a second WSGI application, so that the test client (which builds
its handler from ``settings.MIDDLEWARE``) runs the same chain as gunicorn does.
"""

from __future__ import annotations

from collections.abc import Callable

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.utils import build_policy
from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

API_PREFIX = "/api/v1/"
# Under the prefix, but pages for people (Swagger UI) or public (the schema): the whole chain.
FULL_CHAIN_PREFIXES = ("/api/v1/docs/", "/api/v1/schema/")


def takes_api_chain(path: str) -> bool:
    return path.startswith(API_PREFIX) and not path.startswith(FULL_CHAIN_PREFIXES)


class _ApiHandler(BaseHandler):
    """Django's request handling (URL resolving, view middleware, the view) under the
    middlewares of ``settings.API_MIDDLEWARE``: all of them synchronous, as the project's
    whole chain is (it is served by WSGI)."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        handler = convert_exception_to_response(self._get_response)
        for middleware_path in reversed(settings.API_MIDDLEWARE):
            try:
                middleware = import_string(middleware_path)(handler)
            except MiddlewareNotUsed:
                continue
            if hasattr(middleware, "process_view"):
                self._view_middleware.insert(0, middleware.process_view)
            if hasattr(middleware, "process_template_response"):
                self._template_response_middleware.append(middleware.process_template_response)
            if hasattr(middleware, "process_exception"):
                self._exception_middleware.append(middleware.process_exception)
            handler = convert_exception_to_response(middleware)
        self._middleware_chain = handler


class ApiChainMiddleware:
    """First in ``settings.MIDDLEWARE``: the key-authenticated API takes ``API_MIDDLEWARE``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.api = _ApiHandler()
        self.api.load_middleware()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if takes_api_chain(request.path_info):
            return self.api._middleware_chain(request)  # type: ignore[misc]
        return self.get_response(request)


class ApiPolicyMiddleware:
    """The content security policy on the API's answers: the project's policy
    (``settings.CONTENT_SECURITY_POLICY``, and the report-only one if any), built once.
    django-csp builds it again for every response, a few per cent of a short request;
    no API view changes its policy or uses a nonce, so the header is the same each time."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.headers = [
            (name, value)
            for name, value in ((HEADER, build_policy()), (HEADER_REPORT_ONLY, build_policy(report_only=True)))
            if value
        ]

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        for name, value in self.headers:
            response.headers.setdefault(name, value)
        return response
