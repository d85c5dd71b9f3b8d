"""Shared helpers for messaging tests."""

from __future__ import annotations

import re
from typing import Any

from rest_framework.test import APIClient

from messaging.models import SandboxMessage
from messaging.providers.base import OutboundMessage, Outcome, ProviderResult


def sandbox_code(to: str = "+6281234567890") -> str:
    """Read the code from the newest sandbox message to that number."""
    text = SandboxMessage.objects.filter(to=to).order_by("-created_at", "-id").first().text
    match = re.search(r"\b(\d{4,10})\b", text)
    assert match, text
    return match.group(1)


def post(client: APIClient, path: str, data: dict[str, Any] | None = None, **headers: str):  # type: ignore[no-untyped-def]
    return client.post(path, data or {}, format="json", **headers)


def assert_error(response, status: int, code: str, field: str | None = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    if field is not None:
        assert field in body["error"]["details"], body
    return body["error"]


class Scripted:
    """A provider that answers from a script and records what it was given."""

    name = "scripted"

    def __init__(self, *results: ProviderResult) -> None:
        self.results = list(results)
        self.sent: list[OutboundMessage] = []

    def send(self, message: OutboundMessage) -> ProviderResult:
        self.sent.append(message)
        result = (
            self.results.pop(0)
            if self.results
            else ProviderResult(Outcome.ACCEPTED, provider_message_id=f"p{len(self.sent)}")
        )
        return result


def queue_verification(cast: Any, **data: Any) -> Any:
    """A live verification of Acme's, created through the API without dispatching (on_commit
    callbacks are not run); its message, ``queued``."""
    from messaging.models import Message
    from tests.conftest import api_client

    response = post(api_client(cast.acme_live_key), "/api/v1/verifications", {"to": "0812-3456-7890", **data})
    assert response.status_code == 201, response.content
    return Message.objects.get(pk=response.json()["message_id"])
