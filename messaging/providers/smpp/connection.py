"""One TCP connection to an SMSC and its bind: PDUs out, a reader thread, a keep-alive thread.

``Connection.request`` writes a request PDU and waits (bounded) for its response; the reader
thread wakes it, answers ``enquire_link`` and ``unbind``, and hands every ``deliver_sm`` to
``on_deliver``; the keep-alive thread sends ``enquire_link`` and drops a connection whose
SMSC stopped answering. Sessions, back-off and what a failure means for a message are the
provider's business (``provider``).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from smpplib import consts, smpp

from messaging.providers.smpp.codec import describe, status_code

if TYPE_CHECKING:
    from messaging.providers.smpp.account import SmppAccount

logger = logging.getLogger("messaging.providers.smpp")


class _Sequence:
    """A 'client' for smpplib's PDU constructors and parser: we always set the sequence ourselves."""

    sequence = 0

    def next_sequence(self) -> int:
        return 0


NOSEQ = _Sequence()


def _make_pdu(command_name: str, sequence: int, **fields: Any) -> bytes:
    pdu = smpp.make_pdu(command_name, client=NOSEQ, **fields)
    pdu.sequence = sequence
    return bytes(pdu.generate())


class SmppError(Exception):
    pass


class BindRefused(SmppError):
    def __init__(self, status: int) -> None:
        super().__init__(f"bind refused: {status_code(status)} {describe(status)}")
        self.status = status


class ConnectionLost(SmppError):
    def __init__(self, message: str = "connection lost", *, sent: bool = False) -> None:
        super().__init__(message)
        self.sent = sent  # the request had been written when the connection went


class NoResponse(SmppError):
    pass


class NotBound(SmppError):
    def __init__(self, message: str, *, error_code: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Response:
    command_id: int
    status: int
    sequence: int
    message_id: str = ""


class _Waiter:
    __slots__ = ("event", "response")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.response: Response | None = None


_GENERIC_NACK = 0x80000000
_SUBMIT_SM_RESP = 0x80000004
_DELIVER_SM = 0x00000005
_UNBIND = 0x00000006
_ENQUIRE_LINK = 0x00000015
_ALERT_NOTIFICATION = 0x00000102
_MAX_PDU = 64 * 1024


class Connection:
    """One TCP connection and its bind: a reader thread and a keep-alive thread."""

    def __init__(
        self,
        account: SmppAccount,
        mode: str,
        *,
        on_deliver: Callable[[Connection, int, bytes], None],
        connect_timeout: float,
        response_timeout: float,
        enquire_link_interval: float,
    ) -> None:
        self.account = account
        self.mode = mode
        self.on_deliver = on_deliver
        self.connect_timeout = connect_timeout
        self.response_timeout = response_timeout
        self.enquire_link_interval = enquire_link_interval
        self.closed = threading.Event()
        self.bound = False
        self._sock: socket.socket | None = None
        self._write_lock = threading.Lock()
        self._lock = threading.Lock()
        self._pending: dict[int, _Waiter] = {}
        self._sequence = 0
        self._reader: threading.Thread | None = None
        self._keepalive: threading.Thread | None = None
        self._closing = False
        self.opened_at = time.monotonic()

    # -- lifecycle

    def open(self) -> None:
        """Connect and bind; raises BindRefused, ConnectionLost or NoResponse (and is then closed)."""
        try:
            sock = socket.create_connection((self.account.host, self.account.port), timeout=self.connect_timeout)
        except OSError as exc:
            self.closed.set()
            raise ConnectionLost(f"connect to {self.account.host}:{self.account.port} failed: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.settimeout(self.response_timeout)  # bounds sendall(); the reader tolerates recv timeouts
        self._sock = sock
        name = f"smpp-{self.account.name}"
        self._reader = threading.Thread(target=self._read_loop, name=f"{name}-reader", daemon=True)
        self._reader.start()
        try:
            response = self.request(
                f"bind_{self.mode}",
                system_id=self.account.system_id,
                password=self.account.password,
                system_type=self.account.system_type,
                addr_ton=0,
                addr_npi=0,
                address_range="",
            )
        except SmppError:
            self.close(unbind=False)
            raise
        if response.status != consts.SMPP_ESME_ROK:
            self.close(unbind=False)
            raise BindRefused(response.status)
        self.bound = True
        self.opened_at = time.monotonic()
        logger.info("SMPP %s bound (%s) to %s:%s", self.account.name, self.mode, self.account.host, self.account.port)
        if self.enquire_link_interval > 0:
            self._keepalive = threading.Thread(target=self._keepalive_loop, name=f"{name}-keepalive", daemon=True)
            self._keepalive.start()

    def close(self, *, unbind: bool = True, timeout: float = 2.0) -> None:
        if self.closed.is_set():
            return
        self._closing = True
        if unbind and self.bound:
            with contextlib.suppress(SmppError):
                self.request("unbind", timeout=timeout)
        self._abort("closed by us")
        reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout)

    def drop(self, reason: str, *, timeout: float = 2.0) -> None:
        """Close at once, without an unbind (the SMSC stopped answering: one would hang too)."""
        self._abort(reason)
        reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout)

    def _abort(self, reason: str) -> None:
        """Mark closed, wake the reader and every waiting sender."""
        with self._lock:
            if self.closed.is_set():
                return
            self.closed.set()
            pending, self._pending = self._pending, {}
        if self._closing:
            logger.info("SMPP %s unbound and closed", self.account.name)
        elif self.bound:
            logger.warning("SMPP %s connection lost: %s", self.account.name, reason)
        self.bound = False
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            if self._reader is None:
                sock.close()
        for waiter in pending.values():
            waiter.event.set()  # response stays None: connection lost

    # -- writing

    def _next_sequence(self) -> int:
        with self._lock:
            self._sequence = self._sequence % 0x7FFFFFFF + 1
            return self._sequence

    def _write(self, data: bytes) -> None:
        sock = self._sock
        if sock is None or self.closed.is_set():
            raise ConnectionLost()
        try:
            with self._write_lock:
                sock.sendall(data)
        except OSError as exc:
            # A partial write cannot have delivered a whole PDU: nothing was submitted. The
            # stream is broken though, so the connection goes.
            self._abort(f"write failed: {exc}")
            raise ConnectionLost(f"write failed: {exc}") from exc

    def request(self, command_name: str, *, timeout: float | None = None, **fields: Any) -> Response:
        """Send a request PDU and wait for its response (bounded)."""
        if self.closed.is_set():
            raise ConnectionLost()
        sequence = self._next_sequence()
        data = _make_pdu(command_name, sequence, **fields)
        waiter = _Waiter()
        with self._lock:
            if self.closed.is_set():
                raise ConnectionLost()
            self._pending[sequence] = waiter
        try:
            self._write(data)
            if not waiter.event.wait(self.response_timeout if timeout is None else timeout):
                raise NoResponse(f"no {command_name}_resp in time")
            if waiter.response is None:
                raise ConnectionLost(f"connection lost after {command_name}", sent=True)
            return waiter.response
        finally:
            with self._lock:
                self._pending.pop(sequence, None)

    def respond(self, command_name: str, sequence: int, status: int = consts.SMPP_ESME_ROK) -> None:
        """Answer a request from the SMSC; a closed connection is logged, not raised."""
        try:
            self._write(_make_pdu(command_name, sequence, status=status))
        except ConnectionLost:
            logger.warning("SMPP %s: could not send %s (connection closed)", self.account.name, command_name)

    # -- reading

    def _read_loop(self) -> None:
        sock = self._sock
        assert sock is not None  # noqa: S101 - set before the thread starts
        buffer = bytearray()
        reason = "closed by the SMSC"
        try:
            while not self.closed.is_set():
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    continue
                except OSError as exc:
                    reason = f"read failed: {exc}"
                    break
                if not chunk:
                    break
                buffer += chunk
                while len(buffer) >= 16:
                    (length,) = struct.unpack_from(">L", buffer)
                    if length < 16 or length > _MAX_PDU:
                        raise SmppError(f"bad command_length {length}")
                    if len(buffer) < length:
                        break
                    raw = bytes(buffer[:length])
                    del buffer[:length]
                    self._dispatch(raw)
        except Exception as exc:  # never let the reader die silently
            logger.exception("SMPP %s reader failed", self.account.name)
            reason = f"reader failed: {exc}"
        finally:
            self._abort(reason)
            sock.close()

    def _dispatch(self, raw: bytes) -> None:
        command_id, status, sequence = struct.unpack_from(">LLL", raw, 4)
        if command_id & 0x80000000:
            message_id = ""
            if command_id == _SUBMIT_SM_RESP and len(raw) > 16:
                message_id = raw[16:].split(b"\x00", 1)[0].decode("latin-1")
            with self._lock:
                waiter = self._pending.get(sequence)
            if waiter is None:
                logger.warning(
                    "SMPP %s: response 0x%08X seq %s matches no request (late?)",
                    self.account.name,
                    command_id,
                    sequence,
                )
                return
            waiter.response = Response(command_id, status, sequence, message_id)
            waiter.event.set()
        elif command_id == _ENQUIRE_LINK:
            self.respond("enquire_link_resp", sequence)
        elif command_id == _DELIVER_SM:
            self.on_deliver(self, sequence, raw)
        elif command_id == _UNBIND:
            self.respond("unbind_resp", sequence)
            self._abort("unbind from the SMSC")
        elif command_id == _ALERT_NOTIFICATION:
            logger.info("SMPP %s: alert_notification ignored", self.account.name)
        else:
            logger.warning("SMPP %s: unexpected command 0x%08X, generic_nack", self.account.name, command_id)
            self.respond("generic_nack", sequence, consts.SMPP_ESME_RINVCMDID)

    def _keepalive_loop(self) -> None:
        while not self.closed.wait(self.enquire_link_interval):
            try:
                self.request("enquire_link")
            except NoResponse:
                self._abort("enquire_link unanswered")
                return
            except SmppError:
                return
