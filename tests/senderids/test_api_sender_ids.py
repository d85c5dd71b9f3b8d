"""``GET|POST /api/v1/sender-ids`` and ``GET /api/v1/sender-ids/{id}``
(api-contract "Sender IDs"): a multipart application with the signed form,
fees accepted with ``accept_fees``, status per operator with its history
and expected dates; another customer's sender ID is 404."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from rest_framework.test import APIClient

from billing.models import LedgerEntry
from senderids.models import SenderId
from tests.conftest import Cast, api_client
from tests.messaging.helpers import assert_error
from tests.senderids.helpers import activate, apply, pdf_bytes, registration, stored_files, upload

pytestmark = pytest.mark.django_db


def post_application(client: APIClient, **fields: object):  # type: ignore[no-untyped-def]
    data: dict[str, object] = {"name": "TOKOKU", "brand": "Toko Kita", "operators": ["telkomsel", "xl"]}
    data.update(fields)
    if "form" not in data:
        data["form"] = upload(pdf_bytes())
    return client.post("/api/v1/sender-ids", {k: v for k, v in data.items() if v is not None}, format="multipart")


def test_an_application_answers_201_with_each_operators_status(eligible: Cast) -> None:
    response = post_application(api_client(eligible.acme_live_key))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"].startswith("sid_") and body["name"] == "TOKOKU" and body["form_type"] == "pdf"
    assert body["fees"] == []
    by_operator = {r["operator"]: r for r in body["registrations"]}
    assert set(by_operator) == {"telkomsel", "xl"}
    assert by_operator["telkomsel"]["route"] == "premium"
    assert by_operator["xl"]["status"] == "submitted" and by_operator["xl"]["expected_from"]
    assert by_operator["xl"]["history"][0]["new"] == "submitted"
    assert SenderId.objects.get().applied_by is None  # an API key has no user


def test_operators_may_come_comma_separated(eligible: Cast) -> None:
    response = post_application(api_client(eligible.acme_live_key), operators="xl, indosat")
    assert response.status_code == 201, response.content
    assert sorted(r["operator"] for r in response.json()["registrations"]) == ["indosat", "xl"]


def test_smartfren_needs_accept_fees_and_the_answer_says_what_it_costs_r_sid_8(
    eligible: Cast, media_root: Path
) -> None:
    client = api_client(eligible.acme_live_key)
    error = assert_error(post_application(client, operators=["smartfren"]), 400, "fees_not_accepted", "accept_fees")
    assert error["details"]["fees"] == [{"operator": "smartfren", "kind": "registration", "amount": 100_000}]
    assert stored_files(media_root) == [] and not SenderId.objects.exists()
    response = post_application(client, operators=["smartfren"], accept_fees="true")
    assert response.status_code == 201, response.content
    assert response.json()["fees"] == [
        {"operator": "smartfren", "kind": "registration", "amount": 100_000, "billed_to": "deposit"}
    ]
    assert LedgerEntry.objects.get(kind="fee").amount == -100_000


def test_without_the_first_deposit_it_is_403_deposit_required_r_sid_3(cast: Cast) -> None:
    assert_error(post_application(api_client(cast.acme_live_key)), 403, "deposit_required")


def test_a_disguised_upload_is_400_invalid_file(eligible: Cast, media_root: Path) -> None:
    exe = upload(b"MZ\x90\x00" + b"\x00" * 64, name="form.pdf")
    assert_error(post_application(api_client(eligible.acme_live_key), form=exe), 400, "invalid_file", "form")
    assert stored_files(media_root) == []


def test_missing_fields_are_400_naming_them(eligible: Cast) -> None:
    client = api_client(eligible.acme_live_key)
    error = assert_error(post_application(client, name=None, form=None), 400, "invalid_request")
    assert {"name", "form"} <= set(error["details"])


def test_a_second_application_is_409_sender_id_exists(eligible: Cast) -> None:
    client = api_client(eligible.acme_live_key)
    assert post_application(client).status_code == 201
    error = assert_error(post_application(client, name="tokoku"), 409, "sender_id_exists")
    assert error["details"]["operators"] == ["telkomsel", "xl"]


def test_an_idempotency_key_replays_the_application_and_bills_once(eligible: Cast) -> None:
    """api-contract "Basics": the same key, fields and file replay the first answer."""
    client = api_client(eligible.acme_live_key)
    form = pdf_bytes()
    kwargs = {"operators": ["smartfren"], "accept_fees": "true"}
    first = client.post(
        "/api/v1/sender-ids",
        {"name": "TOKOKU", "brand": "Toko Kita", "form": upload(form), **kwargs},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="apply-1",
    )
    assert first.status_code == 201, first.content
    again = client.post(
        "/api/v1/sender-ids",
        {"name": "TOKOKU", "brand": "Toko Kita", "form": upload(form), **kwargs},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="apply-1",
    )
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    other_file = client.post(
        "/api/v1/sender-ids",
        {"name": "TOKOKU", "brand": "Toko Kita", "form": upload(pdf_bytes() + b"%extra"), **kwargs},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="apply-1",
    )
    assert_error(other_file, 409, "idempotency_conflict")
    assert SenderId.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="fee").count() == 1


def test_a_bad_name_is_400_on_the_name(eligible: Cast) -> None:
    assert_error(post_application(api_client(eligible.acme_live_key), name="12345"), 400, "invalid_request", "name")


def test_a_json_body_is_415(eligible: Cast) -> None:
    response = api_client(eligible.acme_live_key).post("/api/v1/sender-ids", {"name": "TOKOKU"}, format="json")
    assert_error(response, 415, "unsupported_media_type")


def test_a_test_key_may_read_but_not_apply(eligible: Cast) -> None:
    client = api_client(eligible.acme_test_key)
    assert_error(post_application(client), 403, "permission_denied")
    assert client.get("/api/v1/sender-ids").status_code == 200


def test_list_and_detail_show_status_per_operator_and_history(eligible: Cast) -> None:
    result = apply(eligible)
    activate(registration(result, "xl"), eligible.staff)
    client = api_client(eligible.acme_live_key)
    [listed] = client.get("/api/v1/sender-ids").json()
    assert listed["id"] == result.sender_id.pk and "history" not in listed["registrations"][0]
    detail = client.get(f"/api/v1/sender-ids/{result.sender_id.pk}").json()
    xl = next(r for r in detail["registrations"] if r["operator"] == "xl")
    assert xl["status"] == "active" and xl["activated_at"]
    assert [(h["old"], h["new"]) for h in xl["history"]] == [
        ("", "submitted"),
        ("submitted", "in_review"),
        ("in_review", "active"),
    ]
    assert xl["history"][-1]["note"] == "Approved."


def test_another_customers_sender_id_is_404(eligible: Cast) -> None:
    result = apply(eligible)
    assert_error(
        api_client(eligible.globex_live_key).get(f"/api/v1/sender-ids/{result.sender_id.pk}"), 404, "not_found"
    )
    assert api_client(eligible.globex_live_key).get("/api/v1/sender-ids").json() == []
    assert_error(api_client(eligible.acme_live_key).get("/api/v1/sender-ids/sid_nope"), 404, "not_found")


def test_the_schema_documents_the_multipart_application() -> None:
    schema = Client().get("/api/v1/schema/?format=json").json()
    create = schema["paths"]["/api/v1/sender-ids"]["post"]
    assert create["operationId"] == "sender_ids_create"
    body = create["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].split("/")[-1]
    fields = schema["components"]["schemas"][body]["properties"]
    assert fields["form"]["format"] == "binary" and {"name", "brand", "operators", "accept_fees"} <= set(fields)
    assert "get" in schema["paths"]["/api/v1/sender-ids/{sender_id}"]
