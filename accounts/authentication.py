"""DRF authentication by ``Authorization: Bearer otp_live_…`` keys."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from accounts import selectors
from accounts.client_ip import client_ip
from accounts.models import ApiKey


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Any) -> tuple[None, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != self.keyword.lower():
            _record_failure(request)
            raise exceptions.AuthenticationFailed(_("Use 'Authorization: Bearer <api key>'."))
        api_key = selectors.api_key_for_secret(parts[1])
        if api_key is None:
            _record_failure(request)
            raise exceptions.AuthenticationFailed(_("Unknown or revoked API key."))
        if api_key.customer.status == api_key.customer.Status.TERMINATED:
            raise exceptions.AuthenticationFailed(_("This customer's account is terminated."))
        request._request.customer = api_key.customer
        return (None, api_key)

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="api"'


def _record_failure(request: Any) -> None:
    """Count a failed authentication against the client's IP; past the limit
    answer 429 (settings.API_AUTH_FAILURE_GUARD, loaded by name so accounts
    does not import messaging)."""
    guard_path = getattr(settings, "API_AUTH_FAILURE_GUARD", "")
    if not guard_path:
        return
    wait = import_string(guard_path)(client_ip(request), record=True)  # review 8.9: not the balancer's address
    if wait is not None:
        # The handler (otpportal.api) words it, by this code, in the request's language.
        raise exceptions.Throttled(wait=wait, code="auth_failures")


class HasApiKey(permissions.BasePermission):
    """Every API view needs a valid key unless it opts out with AllowAny."""

    def has_permission(self, request: Any, view: Any) -> bool:
        if isinstance(request.auth, ApiKey):
            return True
        raise exceptions.NotAuthenticated(_("Authentication credentials were not provided."))


def request_customer(request: HttpRequest) -> Any:
    return request.auth.customer  # type: ignore[attr-defined]


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "otp_live_… / otp_test_…"}
