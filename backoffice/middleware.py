"""Who made each audited change: django-auditlog's middleware, with the
client address read as everywhere else in the project (``TRUSTED_PROXY_COUNT``),
and left out of the integrators' API (keys, not staff, act there; the hot
send path pays nothing for it)."""

from __future__ import annotations

from typing import Any

from auditlog.middleware import AuditlogMiddleware
from django.http import HttpRequest, HttpResponse

from accounts.client_ip import client_ip
from otpportal.middleware import is_api_path


class AuditActorMiddleware(AuditlogMiddleware):
    @staticmethod
    def _get_remote_addr(request: HttpRequest) -> str | None:
        return client_ip(request) or None

    def __call__(self, request: HttpRequest) -> Any:
        if is_api_path(request.path_info):
            response: HttpResponse = self.get_response(request)
            return response
        return super().__call__(request)
