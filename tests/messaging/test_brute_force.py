"""Issue 14 (hostile input), brute force: what the existing tests did not cover yet.

Already covered elsewhere: five wrong checks by id close a verification
(``test_api_verifications``), a dashboard user name is locked out per client address after
``AXES_FAILURE_LIMIT`` wrong passwords (``tests/accounts/test_client_ip_and_lockout``), the
second factor's codes are throttled by django-otp (``test_two_factor_customers``), and API
authentication failures are limited per client address (``test_limits_api``,
``test_client_ip_and_lockout``). Here:

- the limit holds across resends (each resend adds a code, never attempts) and for checks
  by number;
- concurrent wrong checks never get past the limit (PostgreSQL row locks);
- the admin's sign-in and the dashboard's share one lock-out;
- the API's failure count is per client across endpoints and kinds of bad credentials, and
  lifts when the window has passed.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connections
from django.test import Client
from django.utils import timezone

from billing import services as billing
from messaging import services
from messaging.models import Verification
from tests.conftest import Cast, api_client
from tests.factories import TEST_PASSWORD
from tests.helpers import api_key_for
from tests.messaging.helpers import assert_error, post, sandbox_code

TO = "+6281234567890"


def _check(cast: Cast, verification_id: str, code: str) -> dict[str, Any]:
    response = post(api_client(cast.acme_test_key), f"/api/v1/verifications/{verification_id}/check", {"code": code})
    assert response.status_code == 200, response.content
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.django_db
@pytest.mark.usefixtures("eager")
def test_issue_14_the_check_limit_holds_across_resends_and_by_number(
    cast: Cast, django_capture_on_commit_callbacks: Any
) -> None:
    """Issue 14: five checks per verification in all, whatever the number of codes sent;
    past the limit no code (the first, the resent one) and no route (by id, by number) passes."""
    client = api_client(cast.acme_test_key)
    start = timezone.now()
    with time_machine.travel(start, tick=False), django_capture_on_commit_callbacks(execute=True):
        verification_id = post(client, "/api/v1/verifications", {"to": TO}).json()["id"]
    first = sandbox_code(TO)
    wrong = "000000" if first != "000000" else "111111"
    with time_machine.travel(start + timedelta(seconds=5), tick=False):
        assert [_check(cast, verification_id, wrong)["attempts_left"] for _ in range(4)] == [4, 3, 2, 1]
    with (
        time_machine.travel(start + timedelta(seconds=40), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        resent = post(client, f"/api/v1/verifications/{verification_id}/resend")
    assert resent.status_code == 200, resent.content
    assert resent.json()["attempts_left"] == 1 and resent.json()["sends"] == 2  # a new code, no new attempts
    second = sandbox_code(TO)
    with time_machine.travel(start + timedelta(seconds=45), tick=False):
        last = _check(cast, verification_id, wrong if wrong != second else "222222")
        assert last["status"] == "max_attempts_reached" and last["attempts_left"] == 0
        for code in (first, second):
            assert _check(cast, verification_id, code)["valid"] is False
            by_number = post(client, "/api/v1/verifications/check", {"to": TO, "code": code})
            assert by_number.json()["valid"] is False and by_number.json()["status"] == "max_attempts_reached"
    row = Verification.objects.get(pk=verification_id)
    assert row.status == "max_attempts_reached" and row.checks == Verification.MAX_CHECKS


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("shipped_price_list")
def test_issue_14_concurrent_wrong_checks_stop_at_exactly_the_limit(cast: Cast, settings: Any) -> None:
    """Issue 14: 16 wrong checks at once against one verification: exactly five are counted
    (the row is locked for each check); every answer is ``valid: false``."""
    settings.REDIS_URL = ""
    billing.lot_create(customer=cast.acme, amount=100_000, reference="BRUTE")
    verification, _message = services.verification_start(api_key=api_key_for(cast.acme_live_key), to=TO)
    count = 16
    barrier = threading.Barrier(count)
    results: list[tuple[bool, str]] = []
    errors: list[str] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            row, valid = services.verification_check(
                customer=cast.acme, verification_id=verification.id, code=f"{i:02d}0000"
            )
            with lock:
                results.append((valid, row.status))
        except Exception as exc:  # noqa: BLE001 - report anything as a failure
            with lock:
                errors.append(repr(exc))
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        list(pool.map(one, range(count)))
    assert errors == []
    assert len(results) == count and not any(valid for valid, _status in results)
    verification.refresh_from_db()
    assert verification.checks == Verification.MAX_CHECKS and verification.status == "max_attempts_reached"
    assert sorted(status for _valid, status in results).count("pending") == Verification.MAX_CHECKS - 1


def _login(path: str, email: str, password: str) -> int:
    return Client().post(path, {"username": email, "password": password}, REMOTE_ADDR="198.51.100.7").status_code


@pytest.mark.django_db
def test_issue_14_the_admin_and_the_dashboard_sign_in_share_one_lock_out(cast: Cast, settings: Any) -> None:
    """Issue 14: django-axes counts wrong passwords at /login/ and /admin/login/ together; at
    the limit both refuse even the right password (429), for that user from that address."""
    settings.AXES_FAILURE_LIMIT = 6
    email = cast.staff.email
    assert [_login("/login/", email, "wrong") for _ in range(3)] == [200, 200, 200]
    assert [_login("/admin/login/", email, "wrong") for _ in range(2)] == [200, 200]
    assert _login("/admin/login/", email, "wrong") == 429
    assert _login("/admin/login/", email, TEST_PASSWORD) == 429
    assert _login("/login/", email, TEST_PASSWORD) == 429
    other = Client().post(
        "/login/", {"username": cast.owner.email, "password": TEST_PASSWORD}, REMOTE_ADDR="198.51.100.7"
    )
    assert other.status_code == 302  # another user from the same address is not locked out


@pytest.mark.django_db
def test_issue_14_api_auth_failures_count_per_client_across_endpoints_and_lift_after_the_window(
    cast: Cast, settings: Any
) -> None:
    """Issue 14: unknown keys, malformed headers and revoked-looking keys on any endpoint all
    count against the client's address; past the limit every request from it without a valid
    key is 429 with Retry-After, a valid key still works, and the limit lifts after a minute."""
    settings.REDIS_URL = ""  # database buckets: the window follows the test's clock
    settings.LIMIT_AUTH_FAILURES_PER_MINUTE = 4
    remote = {"REMOTE_ADDR": "203.0.113.50"}
    unknown = api_client("otp_live_" + "y" * 43)
    malformed = Client(HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        statuses = [
            unknown.get("/api/v1/me", **remote).status_code,
            malformed.get("/api/v1/balance", **remote).status_code,
            post(unknown, "/api/v1/verifications", {"to": TO}, **remote).status_code,
            malformed.get("/api/v1/messages", **remote).status_code,
        ]
        assert statuses == [401, 401, 401, 401]
        refused = unknown.get("/api/v1/invoices", **remote)
        assert_error(refused, 429, "rate_limited")
        assert int(refused["Retry-After"]) >= 1
        assert malformed.get("/api/v1/me", **remote).status_code == 429
        assert unknown.get("/api/v1/me", REMOTE_ADDR="203.0.113.51").status_code == 401  # another client
        assert api_client(cast.acme_live_key).get("/api/v1/me", **remote).status_code == 200
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        assert unknown.get("/api/v1/me", **remote).status_code == 401  # the window has passed
