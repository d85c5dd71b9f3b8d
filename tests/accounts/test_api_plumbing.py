"""Error shape for paths DRF never sees, the schema and the docs."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import Cast, api_client

pytestmark = pytest.mark.django_db


def test_unknown_api_path_is_json_404(cast: Cast) -> None:
    response = api_client(cast.acme_live_key).get("/api/v1/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_unknown_api_path_without_key_is_still_json(cast: Cast) -> None:
    response = Client().get("/api/v2/whatever")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_json_500_under_api(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    from django.test import RequestFactory

    from otpportal.api import handler500

    response = handler500(RequestFactory().get("/api/v1/me"))
    assert response.status_code == 500
    assert b'"internal_error"' in response.content


def test_schema_is_openapi_3_and_names_the_contract_paths(cast: Cast) -> None:
    response = Client().get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    body = response.content.decode()
    assert "openapi: 3" in body or '"openapi": "3' in body
    assert "/api/v1/me" in body


def test_docs_are_served_without_a_cdn(cast: Cast) -> None:
    response = Client().get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    for cdn in ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com"):
        assert cdn not in html
    assert "/static/drf_spectacular_sidecar/" in html
