"""Issue 14: the served OpenAPI schema declares every error response an operation can
answer, in the contract's shape (the ``Error`` component), so the docs show them and
schemathesis holds the API to them (``tests/api/test_fuzz_no_500.py``)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from otpportal.errors import STATUS_BY_CODE

pytestmark = pytest.mark.django_db

EVERY = {"400", "401", "406", "429", "503"}
SEND = {"402", "403", "409", "415"}

# operationId -> the statuses it declares besides EVERY and its success. A new operation
# fails here until it has an entry: decide which refusals it can answer.
SPECIFIC: dict[str, set[str]] = {
    "me": set(),
    "balance": set(),
    "verifications_create": SEND,
    "verifications_list": {"404"},  # an expired or forged cursor
    "verifications_retrieve": {"404"},
    "verifications_check": {"404", "415"},
    "verifications_check_by_number": {"404", "415"},
    "verifications_resend": SEND | {"404"},
    "verifications_cancel": {"404"},
    "messages_create": SEND,
    "messages_list": {"404"},
    "messages_retrieve": {"404"},
    "pricing_quote": set(),
    "sandbox_messages": {"403"},
    "webhooks_list": set(),
    "webhooks_create": {"409", "415"},
    "webhooks_delete": {"404"},
    "invoices_list": {"404"},
    "invoices_retrieve": {"404"},
    "invoices_pdf": {"404"},
    "invoices_csv": {"404"},
    "sender_ids_list": set(),
    "sender_ids_create": {"403", "409", "415"},
    "sender_ids_retrieve": {"404"},
}


@pytest.fixture(scope="module")
def schema(django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        response = Client().get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def operations(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {op["operationId"]: op for ops in schema["paths"].values() for op in ops.values()}


def test_issue_14_every_operation_has_an_entry_in_the_table(schema: dict[str, Any]) -> None:
    assert set(operations(schema)) == set(SPECIFIC), "add the new operation to SPECIFIC with its refusals"


@pytest.mark.parametrize("operation_id", sorted(SPECIFIC))
def test_issue_14_every_operation_declares_its_error_responses(schema: dict[str, Any], operation_id: str) -> None:
    responses = operations(schema)[operation_id]["responses"]
    errors = {status for status in responses if status >= "400"}
    assert errors == EVERY | SPECIFIC[operation_id], sorted(errors)
    for status in errors:
        content = responses[status]["content"]
        assert content == {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}, (status, content)
        assert responses[status]["description"].startswith("- `"), "the description lists the stable codes"


def test_issue_14_each_status_lists_only_codes_of_that_status(schema: dict[str, Any]) -> None:
    for operation_id, operation in operations(schema).items():
        for status, response in operation["responses"].items():
            if status < "400":
                continue
            codes = [line.split("`")[1] for line in response["description"].splitlines()]
            assert codes and all(STATUS_BY_CODE[code] == int(status) for code in codes), (operation_id, status, codes)


def test_issue_14_the_error_component_is_the_contracts_shape(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    assert components["Error"]["required"] == ["error"]
    body = components["ErrorBody"]
    assert set(body["required"]) == {"code", "message", "details"}
    assert set(components["ErrorCodeEnum"]["enum"]) == set(STATUS_BY_CODE)


def test_issue_14_the_send_refusals_are_named_in_the_docs(schema: dict[str, Any]) -> None:
    responses = operations(schema)["verifications_create"]["responses"]
    assert "`insufficient_balance`" in responses["402"]["description"]
    assert "`idempotency_conflict`" in responses["409"]["description"]
    assert "`service_unavailable`" in responses["503"]["description"]
    assert "`rate_limited`" in responses["429"]["description"]
