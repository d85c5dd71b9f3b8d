"""Django's PostgreSQL backend with a health check that costs no round trip
while the connection is quiet (issue 11).

``CONN_HEALTH_CHECKS`` makes Django send ``SELECT 1`` before the first query of
every request (and of every Celery task) on a reused connection, so that a
connection the server has dropped (a restart, an administrator's
``pg_terminate_backend``) is replaced instead of failing the request: the
outage drill's "the next request after a restart succeeds" rests on it. That
round trip is a measurable part of a cheap API request.

A connection the server has closed is readable: PostgreSQL sends its
``FATAL`` message and closes the socket, and the kernel reports end of file
when the server process dies. An idle connection in autocommit mode is
otherwise silent (the product never ``LISTEN``\\s). So the check first asks the
kernel, without waiting, whether anything is pending on the socket: nothing
pending and psycopg not marking it broken or closed, the connection is
healthy; anything pending (a hang-up, an error, or a harmless message such as
a parameter change after a configuration reload, or a TLS session ticket),
Django's own ``SELECT 1`` decides, and reads it. A connection cut with no
packet at all (a network partition) is not seen by either check until a query
fails, as before.
"""

from __future__ import annotations

import select
from typing import Any

import psycopg
from django.db.backends.postgresql import base, operations


def socket_is_quiet(connection: object) -> bool:
    """Nothing to read and no hang-up on a psycopg connection's socket (a zero-timeout poll)."""
    if getattr(connection, "closed", True) or getattr(connection, "broken", True):
        return False
    try:
        descriptor = connection.fileno()  # type: ignore[attr-defined]
        poller = select.poll()
        poller.register(descriptor, select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
        return not poller.poll(0)
    except Exception:  # OSError, ValueError; psycopg's own errors on a connection it has closed
        return False


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> str | None:
        """A statement run bound on the server (``otpportal.rowsql.prepared_cursor``) is
        logged and captured as Django logs those of its server-binding mode: composed with
        its parameters (psycopg keeps no text of a prepared statement)."""
        if isinstance(cursor, psycopg.Cursor) and not isinstance(cursor, psycopg.ClientCursor):
            try:
                return self.compose_sql(sql, params)
            except psycopg.errors.DataError:
                return None
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.errors_occurred
            and socket_is_quiet(self.connection)
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
