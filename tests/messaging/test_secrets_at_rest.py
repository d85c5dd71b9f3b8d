"""Issue 14 (hostile input), secrets at rest: after a burst of sends (live and test keys),
checks (right and wrong codes) and signed webhook deliveries, a ``pg_dump`` of the test
database and every log record (all loggers at DEBUG, SQL included) hold no OTP code and no
API key in clear.

What "in clear" covers, and the one exemption:

- Live codes: nowhere, ever. A verification keeps keyed HMACs of its codes; the outbox
  keeps the text sealed (encrypted) until the message is final; the readable body has the
  code masked; a ``POST /messages`` text is stored with its code-like tokens masked. Live
  messages here go over SMPP to the local SMSC (what production does); the codes are read
  from the SMSC's own records.
- Test-key codes: only in the sandbox inbox's table (``messaging_sandboxmessage``), which
  shows test messages in clear by design (it is how an integrator reads a test code; a test
  message never reaches a phone). Nowhere else, and in the logs only in the SQL that writes
  that table (SQL is logged only with DEBUG on; here it is forced on). The dump scan proves
  it can see a code by finding each test code there. The sandbox provider is refused in
  production (system check otpportal.E001) unless ``ALLOW_SANDBOX_IN_PRODUCTION`` is set
  for a staging site, so live codes never reach that table in production.
- API keys: only their SHA-256 and a short visible prefix are stored; neither a whole key
  nor its secret part (after the prefix) may appear, a revoked key tried again included.
- A webhook endpoint's signing secret: kept sealed (it signs every delivery, so it must be
  recoverable, unlike a key); it appears in no table and no log.

Codes are 10 digits long and matched as whole tokens, so a match cannot be a coincidence
of a timestamp, a price or a hex digest.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from django.db import connection, connections

from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke
from billing import services as billing
from devservers.smsc import SmscServer
from devservers.wa_cloud import CallbackReceiver
from messaging import services
from messaging.models import Message, SandboxMessage, Verification, WebhookDelivery
from messaging.providers import registry, smpp
from tests.conftest import Cast, api_client
from tests.helpers import api_key_for, wait_for
from tests.messaging.helpers import post

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_price_list", "eager", "local_webhooks"),
]

SANDBOX_TABLE = "messaging_sandboxmessage"
CODE_LENGTH = 10
OWN_CODE = "K7Q2X9M4"  # the customer's own code in a POST /messages text


def _token(value: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])")


@pytest.fixture
def smsc(settings: Any) -> Iterator[SmscServer]:
    """The local SMSC behind the live SMS channel, as in production (SMPP)."""
    registry.reset()
    smpp.close_providers()
    with SmscServer(receipt_delay=0.05) as server:
        settings.SMPP_ACCOUNTS = [f"smpp://otp:secret@127.0.0.1:{server.port}/?name=main&tps=500"]
        settings.PROVIDER_SMS = "smpp"
        yield server
        smpp.close_providers()
    registry.reset()
    connections.close_all()


@pytest.fixture
def every_logger_at_debug(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog at DEBUG for all loggers, the ones settings.LOGGING quiets included, and the
    SQL of this thread's connection logged with its parameters."""
    caplog.set_level(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
    connection.force_debug_cursor = True
    yield caplog
    connection.force_debug_cursor = False
    for logger, level, disabled in saved:
        logger.setLevel(level)
        logger.disabled = disabled


def _dump() -> dict[str, str]:
    """``pg_dump --data-only`` of the test database, split by table."""
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is missing: `make system-deps` installs Debian's postgresql-client"
    db = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": str(db.get("PASSWORD") or "")}
    command = [
        pg_dump,
        "--data-only",
        "--no-owner",
        "-h",
        str(db["HOST"] or "127.0.0.1"),
        "-p",
        str(db["PORT"] or 5432),
    ]
    command += ["-U", str(db["USER"]), str(db["NAME"])]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    tables: dict[str, str] = {}
    for match in re.finditer(r"^COPY public\.(\w+) .*? FROM stdin;\n(.*?)^\\\.$", done.stdout, re.M | re.S):
        tables[match.group(1)] = match.group(2)
    assert "messaging_message" in tables and "accounts_apikey" in tables, sorted(tables)
    return tables


def _logs(caplog: pytest.LogCaptureFixture, *, sandbox_sql: bool) -> str:
    """Every captured record: its message, its exception and its attributes. Without
    ``sandbox_sql``, less the SQL that writes or reads the sandbox inbox's table (the
    exempt test-mode texts; SQL is logged only with DEBUG on, or forced here)."""
    lines = []
    for record in caplog.records:
        message = record.getMessage()
        if not sandbox_sql and record.name == "django.db.backends" and SANDBOX_TABLE in message:
            continue
        lines.append(message)
        if record.exc_info and record.exc_info[1] is not None:
            lines.append(repr(record.exc_info[1]))
        lines.append(" ".join(f"{key}={value!r}" for key, value in vars(record).items() if key not in ("msg", "args")))
    return "\n".join(lines)


def test_issue_14_no_code_and_no_api_key_in_clear_in_the_database_or_the_logs(
    cast: Cast,
    smsc: SmscServer,
    every_logger_at_debug: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Issue 14: a burst of sends, checks and webhook deliveries, then the database dump and
    the logs: no live code anywhere, test codes only in the sandbox inbox, no API key."""
    billing.lot_create(customer=cast.acme, amount=1_000_000, reference="SECRETS")
    with CallbackReceiver() as receiver:
        signing_secret = services.endpoint_create(customer=cast.acme, url=receiver.url).secret
        live, test = api_client(cast.acme_live_key), api_client(cast.acme_test_key)
        started: dict[str, list[str]] = {"live": [], "test": []}
        for n in range(6):
            for mode, client in (("live", live), ("test", test)):
                body = {"to": f"+628123450{mode == 'test':d}{n:03d}", "code_length": CODE_LENGTH, "locale": "en"}
                response = post(client, "/api/v1/verifications", body, HTTP_IDEMPOTENCY_KEY=f"{mode}-{n}")
                assert response.status_code == 201, response.content
                started[mode].append(response.json()["id"])
        for client in (live, test):
            sent = post(client, "/api/v1/messages", {"to": "+6281234569999", "text": f"Your code is {OWN_CODE}"})
            assert sent.status_code == 201, sent.content

        # The codes, read where they were "received": the SMSC (live) and the sandbox inbox (test),
        # by the number they went to.
        submits = smsc.wait_for_submits(7, timeout=30)
        assert any(OWN_CODE in submit.text for submit in submits)
        live_codes = _codes_by_number((f"+{s.destination_addr.lstrip('+')}", s.text) for s in submits)
        wait_for(lambda: SandboxMessage.objects.count() == 7, timeout=30)
        test_codes = _codes_by_number(SandboxMessage.objects.values_list("to", "text"))
        assert len(live_codes) == len(test_codes) == 6

        # Checks: a wrong code, then the right one for half of them; two wrong ones for the rest.
        for mode, client, codes in (("live", live, live_codes), ("test", test, test_codes)):
            for n, verification_id in enumerate(started[mode]):
                code = codes[Verification.objects.get(pk=verification_id).to]
                wrong = "0123456789" if code != "0123456789" else "9876543210"
                path = f"/api/v1/verifications/{verification_id}/check"
                with django_capture_on_commit_callbacks(execute=True):
                    assert post(client, path, {"code": wrong}).json()["valid"] is False
                    result = post(client, path, {"code": code if n % 2 == 0 else wrong}).json()
                assert result["valid"] is (n % 2 == 0)
        # A revoked key tried again, and an unknown one: refused, and not written down anywhere.
        revoked = api_key_create(customer=cast.acme, mode=ApiKey.Mode.LIVE)
        api_key_revoke(api_key=revoked.api_key)
        assert api_client(revoked.secret).get("/api/v1/me").status_code == 401
        stranger_secret = "otp_live_" + "Zz9" * 14
        assert api_client(stranger_secret).get("/api/v1/me").status_code == 401

        wait_for(
            lambda: not Message.objects.exclude(status__in=Message.FINAL).exists(), timeout=30
        )  # every receipt in: sealed bodies gone
        # Every event signed and delivered: 14 messages sent and delivered, 6 verifications approved.
        wait_for(lambda: not WebhookDelivery.objects.exclude(status="succeeded").exists(), timeout=30)
        assert WebhookDelivery.objects.count() == len(receiver.requests) == 14 * 2 + 6

    tables = _dump()
    logs = _logs(every_logger_at_debug, sandbox_sql=True)
    logs_but_the_sandbox = _logs(every_logger_at_debug, sandbox_sql=False)
    assert len(every_logger_at_debug.records) > 100  # the logs were really captured (SQL included)
    keys = [cast.acme_live_key, cast.acme_test_key, cast.globex_live_key, revoked.secret, stranger_secret]
    keys += [secret[len(api_key_for(secret).prefix) :] for secret in keys[:3]]

    found: list[str] = []
    for code in live_codes.values():
        where = [table for table, rows in tables.items() if _token(code).search(rows)]
        found += [f"live code {code} in table {table}" for table in where]
    for code in test_codes.values():
        where = {table for table, rows in tables.items() if _token(code).search(rows)}
        assert SANDBOX_TABLE in where, f"the scan should see test code {code} in the sandbox inbox"
        found += [f"test code {code} in table {table}" for table in where - {SANDBOX_TABLE}]
    own = [table for table, rows in tables.items() if _token(OWN_CODE).search(rows)]
    found += [f"a POST /messages code in table {table}" for table in own if table != SANDBOX_TABLE]
    for secret in keys:
        found += [f"API key {secret[:12]}… in table {t}" for t, rows in tables.items() if secret in rows]
    for code in live_codes.values():
        if _token(code).search(logs) or code.encode().hex() in logs:
            found.append(f"live code {code} in the logs")
    for code in [*test_codes.values(), OWN_CODE]:
        if _token(code).search(logs_but_the_sandbox) or code.encode().hex() in logs_but_the_sandbox:
            found.append(f"code {code} in the logs (outside the sandbox inbox's SQL)")
    found += [f"API key {secret[:12]}… in the logs" for secret in keys if secret in logs]
    secret_part = signing_secret.removeprefix("whsec_")
    found += [f"the webhook signing secret in table {t}" for t, rows in tables.items() if secret_part in rows]
    if secret_part in logs:
        found.append("the webhook signing secret in the logs")
    assert found == []


def _codes_by_number(received: Iterable[tuple[str, str]]) -> dict[str, str]:
    """{number: code} of the texts that carry a verification code."""
    codes = {}
    for to, text in received:
        match = re.search(rf"\b(\d{{{CODE_LENGTH}}})\b", text)
        if match:
            codes[to] = match.group(1)
    return codes
