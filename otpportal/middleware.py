"""The language of a request.

Dashboard pages (``ChosenLanguageMiddleware``): Indonesian by default,
English only when the user chose it. Django's LocaleMiddleware would follow
the browser's Accept-Language, so most visitors (whose browsers say "en-US")
would never see the platform's default language. Here the language is the
one picked with the ID/EN switch (its cookie), else LANGUAGE_CODE.

The API (``ApiLanguageMiddleware``, Review 8.19): English, or Indonesian when
``Accept-Language`` asks for it, for every ``message`` and ``details`` text;
the error codes never change.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation.trans_real import parse_accept_lang_header

API_LANGUAGES = ("en", "id")  # the first is the API's default


class ChosenLanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.languages = {code for code, _ in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        if language not in self.languages:
            language = settings.LANGUAGE_CODE
        request.LANGUAGE_CODE = language  # type: ignore[attr-defined]
        # For this request only (Review 8.19): the thread's language afterwards is
        # the one it had before, so nothing run later inherits a visitor's choice.
        with translation.override(language):
            response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        patch_vary = response.headers.get("Vary", "")
        if "Cookie" not in patch_vary:
            response.headers["Vary"] = f"{patch_vary}, Cookie".lstrip(", ")
        return response


def api_language(accept_language: str) -> str:
    """The API's language for an ``Accept-Language`` header: the first of its
    ranges, by q-value (ties in the header's order), that names Indonesian or
    English (``id-ID`` counts as ``id``; ``q=0`` refuses); English when none
    does (``fr``, ``*``, no header, a malformed one)."""
    for tag, quality in parse_accept_lang_header(accept_language or ""):
        primary = tag.split("-", 1)[0]
        if quality > 0 and primary in API_LANGUAGES:
            return primary
    return API_LANGUAGES[0]


def is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


class ApiLanguageMiddleware:
    """Review 8.19: under /api/ the language comes from ``Accept-Language``
    (``api_language``), not from the dashboard's cookie. Placed after
    ``ChosenLanguageMiddleware`` (so it wins) and before ``ApiErrorMiddleware``
    (so the JSON 404/405 it writes speak the same language); the view, the
    services, DRF's own messages and the exception handler all run inside.
    The response says ``Content-Language`` and ``Vary: Accept-Language``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_api_path(request.path_info):
            return self.get_response(request)
        language = api_language(request.headers.get("Accept-Language", ""))
        request.LANGUAGE_CODE = language  # type: ignore[attr-defined]
        with translation.override(language):
            response = self.get_response(request)
        response.headers["Content-Language"] = language
        patch_vary_headers(response, ("Accept-Language",))
        return response
