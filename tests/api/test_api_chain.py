"""Issue 11: the key-authenticated API runs through a middleware chain of its own
(``otpportal.apichain``, ``settings.API_MIDDLEWARE``), and answers with the same
security headers, language, JSON errors and host check as through the whole chain."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client, override_settings

from otpportal.apichain import takes_api_chain
from tests.conftest import Cast, api_client

pytestmark = pytest.mark.django_db

CSP = "Content-Security-Policy"


def test_which_paths_take_the_api_chain() -> None:
    assert takes_api_chain("/api/v1/me")
    assert takes_api_chain("/api/v1/verifications/ver_x/check")
    assert takes_api_chain("/api/v1/no-such-thing")
    assert not takes_api_chain("/api/v1/docs/")  # Swagger UI: its own relaxed policy, whole chain
    assert not takes_api_chain("/api/v1/schema/")
    assert not takes_api_chain("/api/v2/me")  # the catch-all's JSON 404, whole chain
    assert not takes_api_chain("/")
    assert not takes_api_chain("/admin/")


def test_the_api_chain_is_a_subset_of_the_whole_chain_in_the_same_order() -> None:
    """Nothing runs on the API that does not run elsewhere, and what runs keeps its order
    (the JSON errors outside the outage answer, the language outside both)."""
    whole = [path for path in settings.MIDDLEWARE if path in settings.API_MIDDLEWARE]
    api = [path for path in settings.API_MIDDLEWARE if path in settings.MIDDLEWARE]
    assert api == whole
    assert set(settings.API_MIDDLEWARE) - set(settings.MIDDLEWARE) == {"otpportal.apichain.ApiPolicyMiddleware"}
    left_out = set(settings.MIDDLEWARE) - set(settings.API_MIDDLEWARE)
    assert "django.contrib.sessions.middleware.SessionMiddleware" in left_out
    assert "axes.middleware.AxesMiddleware" in left_out


def test_an_api_request_skips_sessions_and_the_signed_in_user(cast: Cast) -> None:
    client = api_client(cast.acme_live_key)
    client.cookies["sessionid"] = "anything"
    response = client.get("/api/v1/me")
    assert response.status_code == 200
    request = response.wsgi_request
    assert not hasattr(request, "session")
    assert not hasattr(request, "user") or request.user is None  # DRF's key authentication sets no user
    assert "Cookie" not in response.get("Vary", "")
    assert "Set-Cookie" not in response


def test_api_answers_carry_the_same_security_headers_as_the_dashboard(cast: Cast) -> None:
    api = api_client(cast.acme_live_key).get("/api/v1/me")
    page = Client().get("/login/")
    assert api[CSP] == page[CSP]  # the project's policy, built once (ApiPolicyMiddleware)
    assert "'unsafe-inline'" not in api[CSP]
    assert api["X-Frame-Options"] == page["X-Frame-Options"] == "DENY"
    assert api["X-Content-Type-Options"] == "nosniff"
    assert api["Referrer-Policy"] == page["Referrer-Policy"]
    assert api["Content-Language"] == "en"
    assert "Accept-Language" in api["Vary"]


def test_errors_on_the_api_chain_keep_the_contract_shape_and_language(cast: Cast) -> None:
    missing = api_client().get("/api/v1/me", HTTP_ACCEPT_LANGUAGE="id")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthenticated"
    assert missing["Content-Language"] == "id"
    unknown = api_client(cast.acme_live_key).get("/api/v1/no-such-thing")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    assert CSP in unknown


@override_settings(ALLOWED_HOSTS=["otp.example.com"])
def test_the_host_check_still_applies_on_the_api_chain(cast: Cast) -> None:
    refused = api_client(cast.acme_live_key).get("/api/v1/me", HTTP_HOST="evil.example")
    assert refused.status_code == 400
    allowed = api_client(cast.acme_live_key).get("/api/v1/me", HTTP_HOST="otp.example.com")
    assert allowed.status_code == 200


def test_the_api_docs_keep_their_own_policy_through_the_whole_chain() -> None:
    docs = Client().get("/api/v1/docs/")
    assert docs.status_code == 200
    assert "'unsafe-inline'" in docs[CSP]  # otpportal.csp's relaxed style-src for Swagger UI
    assert hasattr(docs.wsgi_request, "session")
