"""Review 8.18: every path under /api/ answers the contract's JSON error
shape, whatever DEBUG is: unknown paths, a stray or missing trailing slash
(never an APPEND_SLASH redirect, never a 500 on POST), wrong methods."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.test import Client, RequestFactory, override_settings

from otpportal.api import ApiErrorMiddleware
from tests.conftest import Cast, api_client

pytestmark = pytest.mark.django_db


def assert_json_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/messages/msg_x/deep/er", "/api/v2/whatever", "/api"])
def test_review_8_18_unknown_api_paths_are_json_404_whatever_debug(
    cast: Cast, debug: bool, method: str, path: str
) -> None:
    with override_settings(DEBUG=debug):
        response = getattr(api_client(cast.acme_live_key), method)(path, {}, format="json")
        error = assert_json_error(response, 404, "not_found")
    assert error["details"] == {}


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize(
    ("path", "meant"),
    [
        ("/api/v1/verifications/", "/api/v1/verifications"),
        ("/api/v1/verifications/ver_abc/check/", "/api/v1/verifications/ver_abc/check"),
        ("/api/v1/messages/", "/api/v1/messages"),
        ("/api/v1/me/", "/api/v1/me"),
        ("/api/v1/schema", "/api/v1/schema/"),  # the other way round: no APPEND_SLASH redirect
    ],
)
def test_review_8_18_a_slash_too_many_or_too_few_names_the_endpoint(
    cast: Cast, debug: bool, method: str, path: str, meant: str
) -> None:
    """With DEBUG on, POST /api/v1/verifications/ used to be Django's HTML
    debug page, and POST /api/v1/schema a RuntimeError from APPEND_SLASH."""
    with override_settings(DEBUG=debug):
        response = getattr(api_client(cast.acme_live_key), method)(path, {"to": "0812-3456-7890"}, format="json")
        error = assert_json_error(response, 404, "not_found")
    assert error["details"] == {"path": [f"Did you mean {meant}?"]}
    assert meant in error["message"]


@pytest.mark.parametrize("debug", [True, False])
def test_review_8_18_unknown_path_without_a_key_or_csrf_token_is_json_404(cast: Cast, debug: bool) -> None:
    client = Client(enforce_csrf_checks=True)
    with override_settings(DEBUG=debug):
        assert_json_error(client.post("/api/v1/verifications/", {}), 404, "not_found")
        assert_json_error(client.get("/api/v1/nope"), 404, "not_found")


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", "/api/v1/messages"),
        ("put", "/api/v1/verifications"),
        ("get", "/api/v1/verifications/check"),
        ("post", "/api/v1/schema/"),  # was a YAML body
        ("post", "/api/v1/docs/"),  # was an HTML body
    ],
)
def test_review_8_18_wrong_methods_are_json_405(cast: Cast, debug: bool, method: str, path: str) -> None:
    with override_settings(DEBUG=debug):
        response = getattr(api_client(cast.acme_live_key), method)(path)
        error = assert_json_error(response, 405, "method_not_allowed")
    assert method.upper() in error["message"]
    assert response["Allow"]


def test_review_8_18_a_non_json_error_under_api_is_rewritten_and_keeps_its_status() -> None:
    """What Django renders itself (the DEBUG 500 page) reaches the client as JSON."""

    def debug_page(request: HttpRequest) -> HttpResponse:
        return HttpResponseServerError("<html>Traceback…</html>", content_type="text/html")

    middleware = ApiErrorMiddleware(debug_page)
    response = middleware(RequestFactory().get("/api/v1/me"))
    assert_json_error(response, 500, "internal_error")
    assert b"Traceback" not in response.content
    page = middleware(RequestFactory().get("/billing/"))
    assert page.status_code == 500 and page["Content-Type"] == "text/html"  # not under /api/: untouched


def test_review_8_18_known_endpoints_and_the_docs_still_answer(cast: Cast) -> None:
    client = api_client(cast.acme_live_key)
    assert client.get("/api/v1/me").status_code == 200
    assert Client().get("/api/v1/docs/").status_code == 200
    assert Client().get("/api/v1/schema/").status_code == 200
    assert Client().get("/billing/nope/").status_code == 404  # the dashboard keeps its HTML 404
    assert not Client().get("/billing/nope/")["Content-Type"].startswith("application/json")
