"""The PostgreSQL backend's health check (``otpportal.pgbackend``, issue 11): no
``SELECT 1`` round trip while the connection is quiet, and a connection the
server has dropped is still replaced before the request's first query."""

from __future__ import annotations

import select
from collections.abc import Iterator

import pytest
from django.db import connections

from otpportal.pgbackend.base import DatabaseWrapper, socket_is_quiet

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def pair() -> Iterator[tuple[DatabaseWrapper, DatabaseWrapper]]:
    """A connection under test (health checks on, as in production) and another one to act on it."""
    checked = connections.create_connection("default")
    other = connections.create_connection("default")
    checked.ensure_connection()
    other.ensure_connection()
    checked.health_check_enabled = True  # as in production (set by connect() from the settings)
    checked.close_at = None  # a persistent connection (the tests' CONN_MAX_AGE is 0)
    yield checked, other
    checked.close()
    other.close()


def _count_usable_calls(wrapper: DatabaseWrapper) -> list[bool]:
    """Record each ``SELECT 1`` check (``is_usable``) the wrapper makes, and its answer."""
    calls: list[bool] = []
    real = wrapper.is_usable

    def is_usable() -> bool:
        calls.append(real())
        return calls[-1]

    wrapper.is_usable = is_usable  # type: ignore[method-assign]
    return calls


def _pid(wrapper: DatabaseWrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _wait_readable(wrapper: DatabaseWrapper) -> None:
    """Until the server's message (or its hang-up) has reached the socket (at most 10 s)."""
    poller = select.poll()
    poller.register(wrapper.connection.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
    assert poller.poll(10_000), "nothing arrived from the server"


def _new_request(wrapper: DatabaseWrapper) -> None:
    """What Django does around a request (and Celery around a task), then the first query's check."""
    wrapper.close_if_unusable_or_obsolete()
    wrapper.close_if_health_check_failed()


def test_the_project_runs_this_backend_on_postgresql() -> None:
    assert isinstance(connections["default"], DatabaseWrapper)
    assert connections["default"].vendor == "postgresql"


def test_a_quiet_connection_is_healthy_without_a_round_trip(pair) -> None:
    checked, _other = pair
    pid = _pid(checked)
    calls = _count_usable_calls(checked)
    for _request in range(3):
        _new_request(checked)
        assert checked.health_check_done
        assert _pid(checked) == pid  # the same connection, kept
    assert calls == []


def test_a_connection_the_server_dropped_is_replaced_before_the_first_query(pair) -> None:
    checked, other = pair
    pid = _pid(checked)
    calls = _count_usable_calls(checked)
    with other.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert cursor.fetchone()[0] is True
    _wait_readable(checked)
    assert not socket_is_quiet(checked.connection)
    _new_request(checked)
    assert calls == [False]  # the socket said something: SELECT 1 decided, and failed
    assert checked.connection is None  # closed: the next query connects again
    checked.ensure_connection()
    assert _pid(checked) != pid


def test_a_harmless_message_falls_back_to_select_1_and_keeps_the_connection(pair) -> None:
    checked, other = pair
    pid = _pid(checked)
    with checked.cursor() as cursor:
        cursor.execute("LISTEN pgbackend_test")
    calls = _count_usable_calls(checked)
    with other.cursor() as cursor:
        cursor.execute("NOTIFY pgbackend_test")
    _wait_readable(checked)
    _new_request(checked)
    assert calls == [True]
    assert _pid(checked) == pid


def test_after_a_database_error_django_checks_with_select_1(pair) -> None:
    checked, _other = pair
    calls = _count_usable_calls(checked)
    checked.errors_occurred = True
    _new_request(checked)
    assert calls == [True]
    assert not checked.errors_occurred


def test_a_closed_or_broken_connection_is_never_quiet(pair) -> None:
    checked, _other = pair
    raw = checked.connection
    assert socket_is_quiet(raw)
    raw.close()
    assert not socket_is_quiet(raw)
    assert not socket_is_quiet(None)
