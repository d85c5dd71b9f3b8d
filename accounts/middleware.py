"""``ClientAddressMiddleware`` makes the client's address
(``accounts.client_ip``, ``TRUSTED_PROXY_COUNT``) available to the activity
log (``accounts.services.activity``) for the request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from accounts.client_ip import client_ip
from accounts.services import client_address


class ClientAddressMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with client_address(client_ip(request)):
            return self.get_response(request)
