"""Issue 14 (hostile input): schemathesis generates requests for every operation of the
served OpenAPI schema (``/api/v1/schema/``), valid and invalid shapes, with a live key and
with a test key. None may produce a server error, every response must be one the schema
declares (status code, content type and body: schemathesis' ``status_code_conformance``,
``content_type_conformance`` and ``response_schema_conformance`` checks), and every JSON
refusal has the contract's error shape.

Two sizes:

- the CI run (default): ``CI_EXAMPLES`` examples per operation and key, derandomized, well
  under a minute;
- the full run: ``FUZZ_EXAMPLES=<n per operation and key>`` (``make fuzz`` sets it so that at
  least 5,000 requests are made), randomized (``FUZZ_SEED`` replays one), printing the
  requests made, the server errors and the schema violations at the end.

The requests run in-process against the WSGI app inside the test's transaction.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from billing import services as billing
from tests.conftest import Cast, api_client

CI_EXAMPLES = 6
FULL_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0") or 0)
FULL_MINIMUM_REQUESTS = 5_000
SCHEMA_CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass
class Tally:
    """What one run made and found."""

    requests: int = 0
    server_errors: int = 0
    schema_violations: int = 0
    shape_violations: int = 0  # a JSON refusal outside the contract's error shape
    statuses: Counter[int] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)  # the first few failures, for the report

    def note(self, text: str) -> None:
        if len(self.examples) < 15:
            self.examples.append(text)

    @property
    def clean(self) -> bool:
        return not (self.server_errors or self.schema_violations or self.shape_violations)

    def summary(self, label: str) -> str:
        lines = [
            f"fuzz [{label}]: {self.requests} requests, {self.server_errors} server errors, "
            f"{self.schema_violations} schema violations, {self.shape_violations} error-shape violations",
            f"  statuses: {dict(sorted(self.statuses.items()))}",
        ]
        lines += [f"  - {example}" for example in self.examples]
        return "\n".join(lines)


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


def _check(case: Any, response: Any, tally: Tally, label: str) -> None:
    tally.requests += 1
    tally.statuses[response.status_code] += 1
    try:
        case.validate_response(response, checks=[not_a_server_error])
    except FailureGroup:
        tally.server_errors += 1
        tally.note(f"{label} {response.status_code}: {response.text[:300]}")
    try:
        case.validate_response(response, checks=SCHEMA_CHECKS)
    except FailureGroup as group:
        tally.schema_violations += 1
        titles = "; ".join(f"{type(f).__name__}: {f.title} {str(f.message)[:200]}" for f in group.exceptions)
        tally.note(f"{label} {response.status_code}: {titles} | {response.text[:200]}")
    content_type = response.headers.get("content-type", [""])[0]
    if response.status_code >= 400 and "json" in content_type:
        body = response.json()
        if not (
            isinstance(body, dict) and set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"])
        ):
            tally.shape_violations += 1
            tally.note(f"{label} {response.status_code} not the error shape: {response.text[:200]}")


# Values that get past the first checks, mixed into positive cases so that requests also
# reach the services (sends, checks, charges) and not only the validation.
NUMBERS = ["+6281234500001", "081234500002", "+62 812-3450-0003", "6285712300004", "+6289912300005"]
CODES = ["000000", "123456", "1234", "9999999999"]


def realistic(case: Any, data: Any, ids: dict[str, list[str]]) -> None:
    """Half of the time each, a valid number for ``to``, a plausible code, and the id of a
    real object (the key's customer's own, or another customer's) for a path parameter."""
    body = case.body if isinstance(case.body, dict) else {}
    for container in (body, case.query or {}):
        if "to" in container and data.draw(st.booleans()):
            container["to"] = data.draw(st.sampled_from(NUMBERS))
    if "code" in body and data.draw(st.booleans()):
        body["code"] = data.draw(st.sampled_from(CODES))
    for name in list(case.path_parameters or {}):
        if ids.get(name) and data.draw(st.booleans()):
            case.path_parameters[name] = data.draw(st.sampled_from(ids[name]))


def seed_objects(cast: Cast) -> dict[str, list[str]]:
    """A verification and a message for each key of the cast (Acme live and test, Globex
    live), made through the API: their ids are mixed into the generated paths."""
    ids: dict[str, list[str]] = {"verification_id": [], "message_id": []}
    for n, secret in enumerate((cast.acme_live_key, cast.acme_test_key, cast.globex_live_key)):
        client = api_client(secret)
        started = client.post("/api/v1/verifications", {"to": f"+62812345990{n}"}, format="json")
        assert started.status_code == 201, started.content
        ids["verification_id"].append(started.json()["id"])
        sent = client.post("/api/v1/messages", {"to": f"+62812345991{n}", "text": "Kode OTP: 481516"}, format="json")
        assert sent.status_code == 201, sent.content
        ids["message_id"].append(sent.json()["id"])
    return ids


def fuzz(
    app: object,
    secret: str,
    examples: int,
    *,
    derandomize: bool,
    ids: dict[str, list[str]],
    run_seed: int | None = None,
) -> Tally:
    """Generate ``examples`` cases (positive and negative) per operation and send each with
    ``secret``; count what came back."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20, [op.label for op in operations]
    auth = {"Authorization": f"Bearer {secret}"}
    tally = Tally()

    def run_one(operation: Any) -> None:
        @given(data=st.data(), mode=st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE]))
        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=derandomize,
            database=None,
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )
        def run(data: Any, mode: GenerationMode) -> None:
            case = data.draw(operation.as_strategy(generation_mode=mode))
            if mode is GenerationMode.POSITIVE:
                realistic(case, data, ids)
            response = case.call(headers={**(case.headers or {}), **auth})
            _check(case, response, tally, f"{operation.label} ({mode.value})")

        if run_seed is not None:
            run = seed(run_seed)(run)
        run()

    for operation in operations:
        run_one(operation)
    return tally


@dataclass
class Funded:
    cast: Cast
    ids: dict[str, list[str]]


@pytest.fixture
def funded(cast: Cast, settings: Any) -> Funded:
    """A deposit for the live keys' sends, a few real objects to aim at, and the per-key rate
    high enough that the generated requests reach the views (the limit has its own tests).
    Set up before ``in_process_app``: Django's test client reconnects the signals that
    close the connection after a request."""
    billing.lot_create(customer=cast.acme, amount=5_000_000, reference="fuzz")
    billing.lot_create(customer=cast.globex, amount=100_000, reference="fuzz-globex")
    settings.LIMIT_KEY_RATE = 100_000.0
    settings.LIMIT_KEY_BURST = 100_000.0
    return Funded(cast, seed_objects(cast))


def test_issue_14_fuzz_no_500_and_every_response_in_the_schema(
    funded: Funded, in_process_app: object, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 14: generated requests with a live key and with a test key: 0 server errors, 0
    responses outside the schema, 0 refusals outside the error shape. The CI run by default;
    the full run (at least 5,000 requests) with ``FUZZ_EXAMPLES`` (``make fuzz``). Prints the
    figures."""
    full = bool(FULL_EXAMPLES)
    run_seed = int(os.environ.get("FUZZ_SEED") or random.SystemRandom().randrange(2**32)) if full else None
    examples = FULL_EXAMPLES or CI_EXAMPLES
    ids, cast = funded.ids, funded.cast
    tallies = {
        key: fuzz(in_process_app, secret, examples, derandomize=not full, ids=ids, run_seed=run_seed)
        for key, secret in (("live", cast.acme_live_key), ("test", cast.acme_test_key))
    }
    total = Tally()
    for tally in tallies.values():
        total.requests += tally.requests
        total.server_errors += tally.server_errors
        total.schema_violations += tally.schema_violations
        total.shape_violations += tally.shape_violations
        total.statuses.update(tally.statuses)
        total.examples += tally.examples
    run = f"full, seed {run_seed}" if full else "CI"
    with capsys.disabled():
        print()
        for key, tally in tallies.items():
            print(tally.summary(f"{run}, {key} key"))
        print(total.summary(f"{run}, total"))
    assert all(tally.clean for tally in tallies.values()), total.summary("total")
    assert total.requests >= (FULL_MINIMUM_REQUESTS if full else 200), f"only {total.requests} requests"
    for tally in tallies.values():  # each key got answers of both kinds
        assert any(s < 300 for s in tally.statuses) and any(400 <= s < 500 for s in tally.statuses)
