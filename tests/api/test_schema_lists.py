"""The served OpenAPI schema documents the lists' filters (Review 8.26, from
the FilterSets), the rows' ``mode`` (Review 8.21) and the quote's required
``to`` (Review 8.20)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

FILTERS = {"status", "channel", "to", "created_after", "created_before", "mode"}


@pytest.fixture(scope="module")
def schema(django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        response = Client().get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def parameters(schema: dict[str, Any], path: str, method: str = "get") -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in schema["paths"][path][method].get("parameters", []) if p["in"] == "query"}


@pytest.mark.parametrize("path", ["/api/v1/messages", "/api/v1/verifications"])
def test_review_8_26_list_filters_are_query_parameters_in_the_schema(schema: dict[str, Any], path: str) -> None:
    params = parameters(schema, path)
    assert FILTERS | {"cursor", "limit"} <= set(params), sorted(params)
    assert params["mode"]["schema"]["enum"] == ["all", "live", "test"]
    assert "calling key" in params["mode"]["description"]
    assert params["channel"]["schema"]["enum"] == ["sms", "wa", "wa_official"]
    assert params["created_after"]["schema"]["format"] == "date-time"
    assert not any(p.get("required") for p in params.values())
    assert not set(parameters(schema, path, "post")) & FILTERS


def test_review_8_26_status_filters_name_their_own_statuses(schema: dict[str, Any]) -> None:
    assert "delivered" in parameters(schema, "/api/v1/messages")["status"]["schema"]["enum"]
    assert "approved" in parameters(schema, "/api/v1/verifications")["status"]["schema"]["enum"]
    assert "approved" not in parameters(schema, "/api/v1/messages")["status"]["schema"]["enum"]


def test_review_8_26_lists_are_documented_as_cursor_pages(schema: dict[str, Any]) -> None:
    for path in ("/api/v1/messages", "/api/v1/verifications"):
        ref = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        page = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert {"next", "previous", "results"} <= set(page["properties"]), page


@pytest.mark.parametrize("component", ["MessageOut", "VerificationOut"])
def test_review_8_21_rows_document_their_mode(schema: dict[str, Any], component: str) -> None:
    mode = schema["components"]["schemas"][component]["properties"]["mode"]
    target = schema["components"]["schemas"][mode["allOf"][0]["$ref"].rsplit("/", 1)[1]] if "allOf" in mode else mode
    assert target["enum"] == ["live", "test"]


def test_review_8_20_quote_documents_to_as_required(schema: dict[str, Any]) -> None:
    params = parameters(schema, "/api/v1/pricing/quote")
    assert params["to"]["required"] is True
    assert {"channel", "text"} <= set(params) and not params["text"].get("required")
