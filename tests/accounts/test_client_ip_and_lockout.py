"""Review 8.9: lock-outs and per-address limits key on the client's address
behind our proxies (TRUSTED_PROXY_COUNT), never on a header anyone can send,
and a dashboard lock-out is per user name and address, not per address."""

from __future__ import annotations

import pytest
import time_machine
from django.test import Client, RequestFactory

from accounts.client_ip import client_ip
from tests.conftest import Cast, api_client
from tests.factories import TEST_PASSWORD
from tests.messaging.helpers import assert_error

pytestmark = pytest.mark.django_db

PROXY = "10.20.30.40"  # the load balancer: every request arrives from it


def request_from(remote: str, forwarded: str | None = None):  # type: ignore[no-untyped-def]
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_trusted_proxies_the_header_is_ignored(settings) -> None:  # type: ignore[no-untyped-def]
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request_from("203.0.113.9", "198.51.100.1")) == "203.0.113.9"
    assert client_ip(request_from("203.0.113.9")) == "203.0.113.9"


def test_with_trusted_proxies_the_nth_address_from_the_right_is_the_client(settings) -> None:  # type: ignore[no-untyped-def]
    settings.TRUSTED_PROXY_COUNT = 1
    # what the client sent ("1.2.3.4") stays on the left of what our proxy appended
    assert client_ip(request_from(PROXY, "1.2.3.4, 198.51.100.7")) == "198.51.100.7"
    assert client_ip(request_from(PROXY, " 2001:db8::7 ")) == "2001:db8::7"
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(request_from(PROXY, "1.2.3.4, 198.51.100.7, 10.0.0.2")) == "198.51.100.7"
    # fewer entries than proxies, or a value that is not an address: the socket's address
    assert client_ip(request_from(PROXY, "198.51.100.7")) == PROXY
    assert client_ip(request_from(PROXY)) == PROXY
    assert client_ip(request_from(PROXY, "evil, not-an-ip")) == PROXY


# --- the API's failed-authentication limit ---------------------------------------------------


def bad_key_status(forwarded: str, remote: str = PROXY) -> int:
    return (
        api_client("otp_live_" + "x" * 43)
        .get("/api/v1/me", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
        .status_code
    )


def test_api_failures_of_one_client_behind_the_proxy_do_not_block_another(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    """Review 8.9: TRUSTED_PROXY_COUNT=1 tells two clients behind one balancer apart."""
    settings.TRUSTED_PROXY_COUNT = 1
    settings.LIMIT_AUTH_FAILURES_PER_MINUTE = 3
    with time_machine.travel("2026-03-01 10:00:00 +0700", tick=False):
        assert [bad_key_status("198.51.100.21") for _ in range(3)] == [401, 401, 401]
        response = api_client("otp_live_" + "x" * 43).get(
            "/api/v1/me", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.21"
        )
        assert_error(response, 429, "rate_limited")
        assert bad_key_status("198.51.100.22") == 401  # another customer behind the same balancer


def test_a_spoofed_forwarded_header_does_not_escape_the_api_limit(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    """Review 8.9: with TRUSTED_PROXY_COUNT=0 a client cannot pick a fresh address per request."""
    settings.TRUSTED_PROXY_COUNT = 0
    settings.LIMIT_AUTH_FAILURES_PER_MINUTE = 3
    remote = "203.0.113.77"
    with time_machine.travel("2026-03-01 10:00:00 +0700", tick=False):
        statuses = [bad_key_status(f"198.51.100.{i}", remote=remote) for i in range(30, 34)]
    assert statuses == [401, 401, 401, 429]


# --- dashboard lock-out (django-axes) --------------------------------------------------------


def login(email: str, password: str, *, remote: str = PROXY, forwarded: str | None = None) -> int:
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return Client().post("/login/", {"username": email, "password": password}, **extra).status_code


def lock_out(email: str, **where: str) -> None:
    statuses = [login(email, "wrong-password", **where) for _ in range(10)]
    assert statuses[-1] == 429 and login(email, TEST_PASSWORD, **where) == 429  # locked, even with the password


def test_ten_bad_logins_for_one_user_do_not_lock_out_another_from_the_same_address(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    """Review 8.9: lock-outs are per user name and address, not per address."""
    settings.TRUSTED_PROXY_COUNT = 0
    settings.AXES_FAILURE_LIMIT = 10
    lock_out(cast.owner.email)
    assert login(cast.developer.email, TEST_PASSWORD) == 302


def test_a_lock_out_behind_the_proxy_is_for_that_client_only(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    """Review 8.9: with TRUSTED_PROXY_COUNT=1 the locked-out client is the one behind the balancer."""
    settings.TRUSTED_PROXY_COUNT = 1
    settings.AXES_FAILURE_LIMIT = 10
    lock_out(cast.owner.email, forwarded="198.51.100.41")
    assert login(cast.owner.email, TEST_PASSWORD, forwarded="198.51.100.42") == 302


def test_a_spoofed_forwarded_header_does_not_escape_a_lock_out(cast: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    """Review 8.9: with TRUSTED_PROXY_COUNT=0 the header is not the address."""
    settings.TRUSTED_PROXY_COUNT = 0
    settings.AXES_FAILURE_LIMIT = 10
    statuses = [login(cast.owner.email, "wrong-password", forwarded=f"198.51.100.{i}") for i in range(50, 60)]
    assert statuses[-1] == 429
    assert login(cast.owner.email, TEST_PASSWORD, forwarded="198.51.100.99") == 429
