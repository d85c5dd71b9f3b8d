"""Schemathesis generates requests for every operation of the served
OpenAPI schema (valid and invalid shapes): none may produce a 500, and
every JSON refusal has the contract's error shape."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing import services as billing
from tests.conftest import Cast

EXAMPLES_PER_OPERATION = 12


@pytest.fixture
def in_process_app(db: None) -> Iterator[object]:
    """The WSGI app inside the test's transaction: like Django's test client,
    requests must not close the test's connection."""
    from django.core import signals
    from django.db import close_old_connections

    from otpportal.wsgi import application

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield application
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def test_no_generated_request_gives_a_500(cast: Cast, in_process_app: object) -> None:
    billing.lot_create(customer=cast.acme, amount=1_000_000, reference="fuzz")
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", in_process_app)
    auth = {"Authorization": f"Bearer {cast.acme_live_key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    seen: dict[str, set[int]] = {}

    from schemathesis import GenerationMode

    def fuzz(operation):  # type: ignore[no-untyped-def]
        @given(data=st.data(), mode=st.sampled_from(["positive", "negative"]))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(data, mode) -> None:  # type: ignore[no-untyped-def]
            case = data.draw(operation.as_strategy(generation_mode=GenerationMode(mode)))
            response = case.call(headers={**(case.headers or {}), **auth})
            seen.setdefault(operation.label, set()).add(response.status_code)
            assert response.status_code < 500, (operation.label, mode, response.text[:500])
            if response.status_code >= 400 and "json" in response.headers.get("content-type", [""])[0]:
                body = response.json()
                assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"]), body

        return run

    for operation in operations:
        fuzz(operation)()
    assert len(seen) == len(operations)
    codes = set().union(*seen.values())
    assert any(c < 300 for c in codes) and any(400 <= c < 500 for c in codes)
