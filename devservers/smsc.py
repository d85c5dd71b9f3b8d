"""A small SMSC (SMPP 3.4 server) for tests and development.

Asyncio in a thread of its own, on 127.0.0.1. PDUs are encoded and decoded
with smpplib's PDU classes (``smpplib.smpp.make_pdu`` / ``parse_pdu``).

What it does:

* ``bind_transceiver`` / ``bind_transmitter`` / ``bind_receiver``, checked
  against ``credentials`` (wrong → ``ESME_RBINDFAIL``); ``enquire_link``;
  ``unbind``; ``submit_sm`` → ``submit_sm_resp`` with a unique message id.
* records every ``submit_sm`` (``SubmitRecord``) in a list readable from any
  thread (``submits``, ``wait_for_submits``).
* sends a delivery receipt (``deliver_sm``, esm_class 0x04, standard receipt
  text plus the ``receipted_message_id`` and ``message_state`` TLVs) after
  ``receipt_delay`` seconds, on the submitting session when it can receive,
  else on another receiver/transceiver bind of the same system_id, else it
  keeps it until such a bind arrives.
* with ``receipts_first`` (or ``receipts_before_response(True)``) it sends
  the receipt at once, *before* the ``submit_sm_resp``, as some SMSCs do
  under load: the client learns the id from the receipt first.
* re-sends a ``deliver_sm`` that was not acknowledged, as SMSCs do: one
  left unanswered when its session closed goes to another receiver bind of
  the same system_id (or waits for the next one); one answered with an
  error status (``ESME_RX_T_APPN``: the client could not record it now) is
  sent again after ``redeliver_delay`` seconds. ``redeliveries`` counts them.
* can be scripted from another thread: ``refuse``, ``throttle``,
  ``drop_after``, ``silence``, ``hang``, ``refuse_binds``, ``set_receipt_stat``,
  ``send_malformed_receipt``, ``send_receipt`` (any id, known or not),
  ``send_mo``, ``ping_clients``, ``drop_all``, or all at once with ``script(...)``.

    server = SmscServer(credentials={"otp": "secret"})
    port = server.start()
    ...
    server.stop()

For development: ``python -m devservers.smsc --port 2775`` (``--help`` for the
rest), then ``SMPP_ACCOUNTS=smpp://otp:secret@127.0.0.1:2775/?name=main``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import secrets
import signal
import struct
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from smpplib import command_codes, consts, smpp
from smpplib.gsm import GSM_CHARACTER_TABLE

logger = logging.getLogger(__name__)

__all__ = [
    "RECEIPT_STATES",
    "BindRecord",
    "DeliverAck",
    "SmscServer",
    "SubmitRecord",
    "decode_short_message",
    "reassemble",
]

T = TypeVar("T")

ESME_ROK = consts.SMPP_ESME_ROK
ESME_RINVCMDLEN = consts.SMPP_ESME_RINVCMDLEN
ESME_RINVCMDID = consts.SMPP_ESME_RINVCMDID
ESME_RINVBNDSTS = consts.SMPP_ESME_RINVBNDSTS
ESME_RALYBND = consts.SMPP_ESME_RALYBND
ESME_RBINDFAIL = consts.SMPP_ESME_RBINDFAIL
ESME_RTHROTTLED = consts.SMPP_ESME_RTHROTTLED

# Receipt "stat:" words and the matching message_state TLV values (SMPP 3.4, 5.2.28).
RECEIPT_STATES: dict[str, int] = {
    "ENROUTE": consts.SMPP_MESSAGE_STATE_ENROUTE,
    "DELIVRD": consts.SMPP_MESSAGE_STATE_DELIVERED,
    "EXPIRED": consts.SMPP_MESSAGE_STATE_EXPIRED,
    "DELETED": consts.SMPP_MESSAGE_STATE_DELETED,
    "UNDELIV": consts.SMPP_MESSAGE_STATE_UNDELIVERABLE,
    "ACCEPTD": consts.SMPP_MESSAGE_STATE_ACCEPTED,
    "UNKNOWN": consts.SMPP_MESSAGE_STATE_UNKNOWN,
    "REJECTD": consts.SMPP_MESSAGE_STATE_REJECTED,
}

_BIND_MODES = {"bind_transceiver": "trx", "bind_transmitter": "tx", "bind_receiver": "rx"}
_MAX_PDU = 64 * 1024
_JAKARTA = ZoneInfo("Asia/Jakarta")
_CROSS_THREAD_TIMEOUT = 5.0


class _NoSequence:
    """smpplib's PDU constructors want a 'client' with sequence numbers; we set them ourselves."""

    sequence = 0

    def next_sequence(self) -> int:
        return 0


_NOSEQ = _NoSequence()


def _pdu(command_name: str, sequence: int, **fields: Any) -> Any:
    pdu = smpp.make_pdu(command_name, client=_NOSEQ, **fields)
    pdu.sequence = sequence
    return pdu


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


def _int(value: object) -> int:
    return int(value) if isinstance(value, int) else 0


# smpplib's table with GSM 03.38's "§" at 0x5F (smpplib has "`") and the form feed (escape 0x0A).
_GSM_BASIC = GSM_CHARACTER_TABLE[:0x5F] + "§" + GSM_CHARACTER_TABLE[0x60:0x80]
_GSM_EXTENDED = {code - 0x80: ch for code, ch in enumerate(GSM_CHARACTER_TABLE) if code >= 0x80 and ch != "`"}
_GSM_EXTENDED[0x0A] = "\f"


def _gsm_decode(data: bytes) -> str:
    out: list[str] = []
    escape = False
    for byte in data:
        if escape:
            out.append(_GSM_EXTENDED.get(byte, " "))  # unknown extension: a space, as 03.38 advises
            escape = False
        elif byte == 0x1B:
            escape = True
        else:
            out.append(_GSM_BASIC[byte] if byte < 0x80 else "?")
    return "".join(out)


def decode_short_message(data: bytes, data_coding: int) -> str:
    """Text of a short message (without UDH) as a handset would show it."""
    if data_coding == consts.SMPP_ENCODING_ISO10646:
        return data.decode("utf-16-be", errors="replace")
    if data_coding == consts.SMPP_ENCODING_ISO88591:
        return data.decode("latin-1")
    if data_coding == consts.SMPP_ENCODING_IA5:
        return data.decode("ascii", errors="replace")
    return _gsm_decode(data)


def _split_udh(payload: bytes) -> tuple[tuple[int, int, int] | None, bytes]:
    """(ref, total, seq) of a concatenation UDH, and the user data after the UDH."""
    if not payload:
        return None, payload
    udhl = payload[0]
    header, rest = payload[1 : 1 + udhl], payload[1 + udhl :]
    concat: tuple[int, int, int] | None = None
    pos = 0
    while pos + 2 <= len(header):
        iei, iel = header[pos], header[pos + 1]
        value = header[pos + 2 : pos + 2 + iel]
        if iei == consts.SMPP_UDHIEIE_CONCATENATED and iel == 3 and len(value) == 3:
            concat = (value[0], value[1], value[2])
        elif iei == consts.SMPP_UDHIEIE_CONCATENATED16 and iel == 4 and len(value) == 4:
            concat = ((value[0] << 8) | value[1], value[2], value[3])
        pos += 2 + iel
    return concat, rest


@dataclass(frozen=True, slots=True)
class SubmitRecord:
    """One submit_sm as the SMSC saw it."""

    system_id: str
    source_addr: str
    source_addr_ton: int
    source_addr_npi: int
    destination_addr: str
    dest_addr_ton: int
    dest_addr_npi: int
    data_coding: int
    esm_class: int
    registered_delivery: int
    validity_period: str
    udh: tuple[int, int, int] | None  # (ref, total, seq) when esm_class has UDHI (0x40)
    user_data: bytes  # short_message without the UDH
    text: str  # user_data decoded per data_coding
    command_status: int  # what submit_sm_resp said (0 = accepted)
    message_id: str  # "" unless accepted
    answered: bool  # False when the connection was dropped before the resp
    sequence: int
    received_at: float = field(default_factory=time.monotonic)

    @property
    def accepted(self) -> bool:
        return self.command_status == ESME_ROK and bool(self.message_id)


@dataclass(frozen=True, slots=True)
class BindRecord:
    system_id: str
    command: str  # "bind_transceiver" | "bind_transmitter" | "bind_receiver"
    status: int


@dataclass(frozen=True, slots=True)
class DeliverAck:
    """A deliver_sm_resp the SMSC got back for a deliver_sm it sent."""

    sequence: int
    status: int
    message_id: str  # the receipted id we sent ("" for MO / malformed)


def reassemble(parts: Sequence[SubmitRecord]) -> str:
    """Join the parts of one concatenated message (any order) back into its text."""
    if not parts:
        return ""
    ordered = sorted(parts, key=lambda r: r.udh[2] if r.udh else 0)
    return decode_short_message(b"".join(p.user_data for p in ordered), ordered[0].data_coding)


def _stamp(when: datetime) -> str:
    return when.strftime("%y%m%d%H%M")


class _Session:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.system_id = ""
        self.mode = ""  # "", "trx", "tx", "rx"
        self.closed = False
        self._sequence = 0
        self.sent: dict[int, str] = {}  # deliver_sm sequence -> receipted message id
        self.unacked: dict[int, bytes] = {}  # deliver_sm sequence -> the PDU, until its resp comes

    def next_sequence(self) -> int:
        self._sequence = self._sequence % 0x7FFFFFFF + 1
        return self._sequence

    @property
    def can_receive(self) -> bool:
        return not self.closed and self.mode in ("trx", "rx")

    def write(self, data: bytes) -> None:
        if not self.closed:
            self.writer.write(data)

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(Exception):
            self.writer.close()


@dataclass(slots=True)
class _Drop:
    remaining: int
    answer: bool
    accept: bool


class SmscServer:
    """The SMSC. ``start()`` runs it in a background thread; every public method is thread-safe."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        credentials: Mapping[str, str] | None = None,
        receipt_delay: float = 0.2,
        message_id_format: str = "hex",
        system_id: str = "devsmsc",
        receipts_first: bool = False,
        redeliver_delay: float = 1.0,
    ) -> None:
        if message_id_format not in ("hex", "decimal"):
            raise ValueError("message_id_format must be 'hex' or 'decimal'")
        self.host = host
        self.port = port
        self.credentials = dict(credentials if credentials is not None else {"otp": "secret"})
        self.receipt_delay = receipt_delay
        self.message_id_format = message_id_format
        self.system_id = system_id
        self.redeliver_delay = redeliver_delay

        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._submits: list[SubmitRecord] = []
        self._binds: list[BindRecord] = []
        self._acks: list[DeliverAck] = []
        self._counts = {"enquire_link": 0, "enquire_link_resp": 0, "unbind": 0, "ignored": 0, "redelivered": 0}
        # Script, read by the event loop under the lock.
        self._refuse: dict[str, int] = {}
        self._throttle = 0
        self._silence = 0
        self._hung = False
        self._hung_accepts = False  # while hung, submits are accepted (their answers lost)
        self._bind_refusal = 0  # a bind status other than ESME_ROK: every bind is refused with it
        self._receipts_first = receipts_first
        self._drop: _Drop | None = None
        self._receipt_stat: dict[str, tuple[str, str]] = {}
        self._receipts_enabled = True
        self._next_id = secrets.randbelow(0x0FFFFFFF) + 0x10000000

        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._sessions: set[_Session] = set()
        # system_id -> (receipted id, encoded deliver_sm) waiting for a receiver bind
        self._held_receipts: dict[str, list[tuple[str, bytes]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> int:
        """Start listening in a background thread; returns the bound port (useful with port 0)."""
        if self._thread is not None:
            raise RuntimeError("SmscServer already started")
        ready = threading.Event()
        failure: list[BaseException] = []
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None  # noqa: S101 - set above, narrows the type
            asyncio.set_event_loop(self._loop)
            try:
                self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, self.host, self.port))
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:  # reported to start()'s caller
                failure.append(exc)
                ready.set()
                return
            ready.set()
            try:
                self._loop.run_forever()
            finally:
                self._loop.close()

        self._thread = threading.Thread(target=run, name="smsc", daemon=True)
        self._thread.start()
        if not ready.wait(_CROSS_THREAD_TIMEOUT):
            raise RuntimeError("SMSC did not start in time")
        if failure:
            self._thread = None
            raise failure[0]
        logger.info("SMSC listening on %s:%s", self.host, self.port)
        return self.port

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(_CROSS_THREAD_TIMEOUT)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_CROSS_THREAD_TIMEOUT)
        self._thread = None
        self._loop = None

    def __enter__(self) -> SmscServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for session in list(self._sessions):
            session.close()
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    def _call(self, factory: Callable[[], Any]) -> Any:
        """Run a coroutine made by ``factory`` on the server's loop and return its result."""
        if self._loop is None:
            raise RuntimeError("SmscServer is not running")
        return asyncio.run_coroutine_threadsafe(factory(), self._loop).result(_CROSS_THREAD_TIMEOUT)

    # ---------------------------------------------------------------- reading what happened

    @property
    def submits(self) -> list[SubmitRecord]:
        with self._lock:
            return list(self._submits)

    def accepted(self) -> list[SubmitRecord]:
        return [r for r in self.submits if r.accepted]

    @property
    def binds(self) -> list[BindRecord]:
        with self._lock:
            return list(self._binds)

    @property
    def acks(self) -> list[DeliverAck]:
        with self._lock:
            return list(self._acks)

    @property
    def enquire_links(self) -> int:
        """enquire_link requests received from clients."""
        with self._lock:
            return self._counts["enquire_link"]

    @property
    def enquire_link_resps(self) -> int:
        """enquire_link_resp received for the SMSC's own enquire_link (``ping_clients``)."""
        with self._lock:
            return self._counts["enquire_link_resp"]

    @property
    def unbinds(self) -> int:
        with self._lock:
            return self._counts["unbind"]

    def unacked_receipts(self) -> int:
        """deliver_sm sent on open sessions and not acknowledged yet, plus those held for a receiver."""

        async def count() -> int:
            held = sum(len(v) for v in self._held_receipts.values())
            return held + sum(len(s.unacked) for s in self._sessions if not s.closed)

        return self._call(count)

    @property
    def redeliveries(self) -> int:
        """deliver_sm sent again: unanswered when their session closed, or answered with an error."""
        with self._lock:
            return self._counts["redelivered"]

    def bound_sessions(self, system_id: str | None = None) -> int:
        """How many sessions are bound (for ``system_id``, or any)."""

        async def count() -> int:
            return sum(1 for s in self._sessions if s.mode and not s.closed and system_id in (None, s.system_id))

        return self._call(count)

    def wait_until(self, predicate: Callable[[SmscServer], T], timeout: float) -> T:
        """Wait until ``predicate(self)`` is truthy and return it; raise TimeoutError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self)
            if value:
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("SMSC condition not met in time")
            with self._changed:
                self._changed.wait(min(left, 0.05))

    def wait_for_submits(self, count: int, timeout: float = 5.0) -> list[SubmitRecord]:
        """Wait until at least ``count`` submits were recorded; returns them all."""

        def enough(server: SmscServer) -> list[SubmitRecord] | None:
            records = server.submits
            return records if len(records) >= count else None

        return self.wait_until(enough, timeout)

    def wait_for_ack(self, sequence: int, timeout: float = 5.0) -> DeliverAck:
        return self.wait_until(
            lambda s: next((a for a in s.acks if a.sequence == sequence), None),
            timeout,
        )

    def _record(self, apply: Callable[[], None]) -> None:
        with self._changed:
            apply()
            self._changed.notify_all()

    def _count(self, key: str) -> None:
        with self._changed:
            self._counts[key] += 1
            self._changed.notify_all()

    # ---------------------------------------------------------------- scripting (any thread)

    def refuse(self, destination: str, command_status: int | None) -> None:
        """Answer every submit to ``destination`` with ``command_status`` (None: stop refusing)."""
        with self._lock:
            if command_status is None:
                self._refuse.pop(destination, None)
            else:
                self._refuse[destination] = command_status

    def throttle(self, count: int) -> None:
        """Answer the next ``count`` submits with ESME_RTHROTTLED (0x58)."""
        with self._lock:
            self._throttle = count

    def silence(self, count: int) -> None:
        """Never answer the next ``count`` submits (not accepted either); the connection stays up."""
        with self._lock:
            self._silence = count

    def hang(self, hung: bool = True, *, accept: bool = False) -> None:
        """A hung SMSC: connections are still accepted and PDUs read (submits are recorded, never
        accepted), but nothing at all is answered, binds included, until ``hang(False)``.

        ``accept=True``: only its answers are lost; the submits it reads are accepted (and
        delivered: their receipts go out once it answers again), so a client that sends again
        after the silence makes a second copy (the lost ``submit_sm_resp``)."""
        with self._lock:
            self._hung = hung
            self._hung_accepts = hung and accept

    def refuse_binds(self, status: int | None = ESME_RBINDFAIL) -> None:
        """Answer every bind with ``status`` (ESME_RBINDFAIL by default) until ``refuse_binds(None)``.
        Sessions already bound stay up: ``drop_all`` closes them."""
        with self._lock:
            self._bind_refusal = status or 0

    @property
    def ignored(self) -> int:
        """Requests other than submit_sm left unanswered while hung (binds, enquire_links…)."""
        with self._lock:
            return self._counts["ignored"]

    def receipts_before_response(self, enabled: bool = True) -> None:
        """Send each receipt at once, before the submit_sm_resp (see ``receipts_first``)."""
        with self._lock:
            self._receipts_first = enabled

    def drop_after(self, count: int = 1, *, answer: bool = True, accept: bool = False) -> None:
        """Drop the TCP connection on the ``count``-th next submit.

        ``answer=True``: the submit is accepted and answered, then the connection is closed.
        ``answer=False``: closed without an answer; the submit is lost (not accepted) unless
        ``accept=True``, which models the ambiguous case: accepted (and receipted) but the
        resp never reached the client.
        """
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._drop = _Drop(remaining=count, answer=answer, accept=accept or answer)

    def set_receipt_stat(self, destination: str, stat: str | None, err: str = "") -> None:
        """Receipts for ``destination`` say ``stat`` (DELIVRD, UNDELIV, EXPIRED, REJECTD, DELETED, UNKNOWN)."""
        with self._lock:
            if stat is None:
                self._receipt_stat.pop(destination, None)
                return
            if stat not in RECEIPT_STATES:
                raise ValueError(f"unknown receipt stat {stat!r}")
            self._receipt_stat[destination] = (stat, err or ("000" if stat == "DELIVRD" else "001"))

    def enable_receipts(self, enabled: bool) -> None:
        with self._lock:
            self._receipts_enabled = enabled

    def script(
        self,
        *,
        refuse: Mapping[str, int] | None = None,
        throttle: int | None = None,
        drop_after: int | None = None,
        drop_answer: bool = True,
        drop_accept: bool = False,
        receipt_stat: Mapping[str, str] | None = None,
        receipts: bool | None = None,
    ) -> None:
        """Several script changes in one call (see the single-purpose methods)."""
        for destination, status in (refuse or {}).items():
            self.refuse(destination, status)
        if throttle is not None:
            self.throttle(throttle)
        if drop_after is not None:
            self.drop_after(drop_after, answer=drop_answer, accept=drop_accept)
        for destination, stat in (receipt_stat or {}).items():
            self.set_receipt_stat(destination, stat)
        if receipts is not None:
            self.enable_receipts(receipts)

    def reset(self) -> None:
        """Forget the script and what was recorded (sessions stay open)."""
        with self._changed:
            self._refuse.clear()
            self._throttle = 0
            self._silence = 0
            self._hung = False
            self._hung_accepts = False
            self._bind_refusal = 0
            self._drop = None
            self._receipt_stat.clear()
            self._receipts_enabled = True
            self._submits.clear()
            self._binds.clear()
            self._acks.clear()
            self._counts = dict.fromkeys(self._counts, 0)
            self._changed.notify_all()

    def send_receipt(
        self,
        message_id: str,
        stat: str = "DELIVRD",
        *,
        system_id: str | None = None,
        err: str = "000",
        tlvs: bool = True,
        text_id: str | None = None,
    ) -> int:
        """Send a receipt for any id (known or not) to a receiver bind; returns the deliver_sm sequence.

        ``text_id`` puts another id in the text's ``id:`` field than in the TLV.
        """
        now = _stamp(datetime.now(tz=_JAKARTA))
        body = (
            f"id:{text_id if text_id is not None else message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} "
            f"submit date:{now} done date:{now} stat:{stat} err:{err} text:"
        ).encode("ascii")
        fields: dict[str, Any] = {
            "source_addr_ton": 1,
            "source_addr_npi": 1,
            "source_addr": "6281200000000",
            "destination_addr": "OTP",
            "esm_class": 0x04,
            "short_message": body,
        }
        if tlvs:
            fields["receipted_message_id"] = message_id
            fields["message_state"] = RECEIPT_STATES.get(stat, consts.SMPP_MESSAGE_STATE_UNKNOWN)
        return self._call(lambda: self._push(system_id, "deliver_sm", fields, message_id))

    def send_malformed_receipt(self, *, system_id: str | None = None, kind: str = "text", text: str = "") -> int:
        """Send a broken receipt; returns the deliver_sm sequence.

        ``kind="text"``: esm_class 0x04 with garbage text and no TLVs.
        ``kind="tlv"``: a receipt whose message_state TLV is cut short (smpplib cannot parse it).
        ``kind="no_id"``: receipt text without an id and no TLVs.
        ``text``: what the receipt's ``text:`` field says (the start of the SMS, as real ones do).
        """
        tail = f" text:{text}".encode("ascii", errors="replace") if text else b""
        if kind == "text":
            fields = {"esm_class": 0x04, "short_message": b"\xff\xfegarbage: not a receipt \x00\x01" + tail}
            return self._call(lambda: self._push(system_id, "deliver_sm", fields, ""))
        if kind == "no_id":
            fields = {
                "esm_class": 0x04,
                "short_message": b"sub:001 dlvrd:001 stat:DELIVRD err:000" + (tail or b" text:"),
            }
            return self._call(lambda: self._push(system_id, "deliver_sm", fields, ""))
        if kind == "tlv":
            fields = {"esm_class": 0x04, "short_message": b"id:1 stat:DELIVRD" + tail}
            return self._call(lambda: self._push(system_id, "deliver_sm", fields, "", trailer=b"\x04\x27\x00\x01"))
        raise ValueError(f"unknown malformed kind {kind!r}")

    def send_mo(self, source_addr: str, text: str, *, system_id: str | None = None) -> int:
        """Send an inbound (MO) message, which the platform must ignore (R-CH-2)."""
        fields = {
            "source_addr_ton": 1,
            "source_addr_npi": 1,
            "source_addr": source_addr.lstrip("+"),
            "destination_addr": "OTP",
            "esm_class": 0x00,
            "short_message": text.encode("ascii", errors="replace"),
        }
        return self._call(lambda: self._push(system_id, "deliver_sm", fields, ""))

    def ping_clients(self) -> int:
        """Send enquire_link on every bound session; returns how many were sent."""
        return self._call(self._ping)

    def drop_all(self) -> int:
        """Close every client connection at once (no unbind); returns how many."""
        return self._call(self._drop_all)

    # ---------------------------------------------------------------- event loop side

    async def _ping(self) -> int:
        sessions = [s for s in self._sessions if s.mode and not s.closed]
        for session in sessions:
            session.write(_pdu("enquire_link", session.next_sequence()).generate())
        return len(sessions)

    async def _drop_all(self) -> int:
        sessions = [s for s in self._sessions if not s.closed]
        for session in sessions:
            session.close()
        return len(sessions)

    async def _push(
        self,
        system_id: str | None,
        command_name: str,
        fields: dict[str, Any],
        message_id: str,
        trailer: bytes = b"",
    ) -> int:
        session = self._receiver_for(system_id)
        if session is None:
            raise RuntimeError(f"no receiver bound for system_id {system_id!r}")
        data = _pdu(command_name, 0, **fields).generate()
        if trailer:
            data = struct.pack(">L", len(data) + len(trailer)) + data[4:] + trailer
        return self._send_deliver(session, message_id, data)

    def _send_deliver(self, session: _Session, message_id: str, data: bytes) -> int:
        """Write an encoded deliver_sm on ``session`` under a sequence of its own; keep it until
        its deliver_sm_resp (re-sent elsewhere if the session closes first)."""
        sequence = session.next_sequence()
        data = data[:12] + struct.pack(">L", sequence) + data[16:]
        session.sent[sequence] = message_id
        session.unacked[sequence] = data
        session.write(data)
        return sequence

    def _resend(self, system_id: str, message_id: str, data: bytes) -> None:
        """Deliver again a deliver_sm that was not acknowledged: on a receiver bind of
        ``system_id`` if one is up, else when the next one binds."""
        self._count("redelivered")
        session = self._receiver_for(system_id)
        if session is None:
            self._held_receipts.setdefault(system_id, []).append((message_id, data))
            return
        self._send_deliver(session, message_id, data)

    async def _resend_later(self, system_id: str, message_id: str, data: bytes) -> None:
        await asyncio.sleep(self.redeliver_delay)
        self._resend(system_id, message_id, data)

    def _unacked_lost(self, session: _Session) -> None:
        """A session closed: what it was sent and never acknowledged is delivered again."""
        pending, session.unacked = session.unacked, {}
        for sequence, data in sorted(pending.items()):
            self._resend(session.system_id, session.sent.get(sequence, ""), data)

    def _receiver_for(self, system_id: str | None, prefer: _Session | None = None) -> _Session | None:
        if prefer is not None and prefer.can_receive:
            return prefer
        for session in self._sessions:
            if session.can_receive and system_id in (None, session.system_id):
                return session
        return None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(reader, writer)
        self._sessions.add(session)
        try:
            while not session.closed:
                head = await reader.readexactly(4)
                (length,) = struct.unpack(">L", head)
                if length < 16 or length > _MAX_PDU:
                    logger.warning("SMSC: bad command_length %s, closing", length)
                    break
                raw = head + await reader.readexactly(length - 4)
                await self._dispatch(session, raw)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("SMSC session crashed")
        finally:
            session.close()
            self._sessions.discard(session)
            self._unacked_lost(session)

    async def _dispatch(self, session: _Session, raw: bytes) -> None:
        command_id, _status, sequence = struct.unpack(">LLL", raw[4:16])
        try:
            name = command_codes.get_command_name(command_id)
        except Exception:
            session.write(_pdu("generic_nack", sequence, status=ESME_RINVCMDID).generate())
            return
        try:
            pdu = smpp.parse_pdu(raw, client=_NOSEQ, allow_unknown_opt_params=True)
        except Exception:
            logger.warning("SMSC: cannot parse %s", name, exc_info=True)
            session.write(_pdu("generic_nack", sequence, status=ESME_RINVCMDLEN).generate())
            return

        with self._lock:
            hung = self._hung
        if hung and name != "submit_sm":
            self._count("ignored")
            return
        if name in _BIND_MODES:
            self._on_bind(session, name, pdu, sequence)
        elif name == "enquire_link":
            self._count("enquire_link")
            session.write(_pdu("enquire_link_resp", sequence).generate())
        elif name == "enquire_link_resp":
            self._count("enquire_link_resp")
        elif name == "unbind":
            self._count("unbind")
            session.write(_pdu("unbind_resp", sequence).generate())
            with contextlib.suppress(Exception):
                await session.writer.drain()
            session.close()
        elif name == "submit_sm":
            await self._on_submit(session, pdu, sequence)
        elif name == "deliver_sm_resp":
            message_id = session.sent.pop(sequence, "")
            data = session.unacked.pop(sequence, None)
            ack = DeliverAck(sequence, pdu.status, message_id)
            self._record(lambda: self._acks.append(ack))
            if pdu.status != ESME_ROK and data is not None:
                # The client could not take it now (e.g. ESME_RX_T_APPN): send it again later.
                task = asyncio.get_running_loop().create_task(self._resend_later(session.system_id, message_id, data))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        elif name in ("generic_nack", "unbind_resp"):
            logger.info("SMSC: got %s (status 0x%08X)", name, pdu.status)
        else:
            session.write(_pdu("generic_nack", sequence, status=ESME_RINVCMDID).generate())

    def _on_bind(self, session: _Session, name: str, pdu: Any, sequence: int) -> None:
        system_id = _text(pdu.system_id)
        password = _text(pdu.password)
        with self._lock:
            refusal = self._bind_refusal
        if session.mode:
            status = ESME_RALYBND
        elif refusal:
            status = refusal
        elif system_id in self.credentials and secrets.compare_digest(self.credentials[system_id], password):
            status = ESME_ROK
        else:
            status = ESME_RBINDFAIL
        record = BindRecord(system_id, name, status)
        self._record(lambda: self._binds.append(record))
        fields: dict[str, Any] = {"status": status}
        if status == ESME_ROK:
            fields["system_id"] = self.system_id
        session.write(_pdu(f"{name}_resp", sequence, **fields).generate())
        if status != ESME_ROK:
            return
        session.system_id = system_id
        session.mode = _BIND_MODES[name]
        if session.can_receive:
            for message_id, data in self._held_receipts.pop(system_id, []):
                self._send_deliver(session, message_id, data)

    def _new_message_id(self) -> str:
        with self._lock:
            self._next_id += 1
            value = self._next_id
        return f"{value:x}" if self.message_id_format == "hex" else str(value)

    async def _on_submit(self, session: _Session, pdu: Any, sequence: int) -> None:
        destination = _text(pdu.destination_addr)
        with self._lock:
            drop: _Drop | None = None
            silent = accepted_silently = False
            if self._drop is not None:
                self._drop.remaining -= 1
                if self._drop.remaining <= 0:
                    drop, self._drop = self._drop, None
            if self._hung:
                silent = True
                accepted_silently = self._hung_accepts
            elif self._silence > 0 and drop is None:
                self._silence -= 1
                silent = True
            if (drop is not None and not drop.accept) or (silent and not accepted_silently):
                status = consts.SMPP_ESME_RSYSERR  # never answered, not accepted
            elif session.mode not in ("trx", "tx"):
                status = ESME_RINVBNDSTS
            elif self._throttle > 0:
                self._throttle -= 1
                status = ESME_RTHROTTLED
            else:
                status = self._refuse.get(destination, ESME_ROK)
            stat, err = self._receipt_stat.get(destination, ("DELIVRD", "000"))
            receipts = self._receipts_enabled
            receipts_first = self._receipts_first

        esm_class = _int(pdu.esm_class)
        data_coding = _int(pdu.data_coding)
        payload = pdu.short_message or b""
        if not payload and getattr(pdu, "message_payload", None):
            payload = pdu.message_payload
        udh, user_data = _split_udh(payload) if esm_class & consts.SMPP_GSMFEAT_UDHI else (None, payload)
        message_id = self._new_message_id() if status == ESME_ROK else ""
        answered = not silent and (drop is None or drop.answer)
        record = SubmitRecord(
            system_id=session.system_id,
            source_addr=_text(pdu.source_addr),
            source_addr_ton=_int(pdu.source_addr_ton),
            source_addr_npi=_int(pdu.source_addr_npi),
            destination_addr=destination,
            dest_addr_ton=_int(pdu.dest_addr_ton),
            dest_addr_npi=_int(pdu.dest_addr_npi),
            data_coding=data_coding,
            esm_class=esm_class,
            registered_delivery=_int(pdu.registered_delivery),
            validity_period=_text(pdu.validity_period),
            udh=udh,
            user_data=user_data,
            text=decode_short_message(user_data, data_coding),
            command_status=status,
            message_id=message_id,
            answered=answered,
            sequence=sequence,
        )
        self._record(lambda: self._submits.append(record))

        wants = record.registered_delivery & consts.SMPP_SMSC_DELIVERY_RECEIPT_BITMASK
        receipt = record.accepted and receipts and (wants == 1 or (wants == 2 and stat != "DELIVRD"))
        if receipt and receipts_first:
            self._deliver_receipt(session, record, stat, err)
            receipt = False
        if answered:
            fields: dict[str, Any] = {"status": status}
            if message_id:
                fields["message_id"] = message_id
            session.write(_pdu("submit_sm_resp", sequence, **fields).generate())
        if drop is not None:
            with contextlib.suppress(Exception):
                await session.writer.drain()
            session.close()

        if receipt:
            task = asyncio.get_running_loop().create_task(self._receipt_later(session, record, stat, err))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _receipt_later(self, origin: _Session, record: SubmitRecord, stat: str, err: str) -> None:
        await asyncio.sleep(self.receipt_delay)
        while True:  # a hung SMSC sends nothing: the receipt waits until it answers again
            with self._lock:
                hung = self._hung
            if not hung:
                break
            await asyncio.sleep(0.1)
        self._deliver_receipt(origin, record, stat, err)

    def _deliver_receipt(self, origin: _Session, record: SubmitRecord, stat: str, err: str) -> None:
        now = _stamp(datetime.now(tz=_JAKARTA))
        text = (
            f"id:{record.message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} "
            f"submit date:{now} done date:{now} stat:{stat} err:{err} text:{record.text[:20]}"
        )
        fields = {
            "source_addr_ton": record.dest_addr_ton,
            "source_addr_npi": record.dest_addr_npi,
            "source_addr": record.destination_addr,
            "dest_addr_ton": record.source_addr_ton,
            "dest_addr_npi": record.source_addr_npi,
            "destination_addr": record.source_addr,
            "esm_class": 0x04,
            "short_message": text.encode("ascii", errors="replace"),
            "receipted_message_id": record.message_id,
            "message_state": RECEIPT_STATES[stat],
        }
        data = _pdu("deliver_sm", 0, **fields).generate()
        session = self._receiver_for(record.system_id, prefer=origin)
        if session is None:
            self._held_receipts.setdefault(record.system_id, []).append((record.message_id, data))
            return
        self._send_deliver(session, record.message_id, data)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m devservers.smsc``: run an SMSC on 127.0.0.1 until Ctrl-C / SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m devservers.smsc", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2775)
    parser.add_argument("--system-id", default="otp")
    parser.add_argument("--password", default="secret")
    parser.add_argument("--receipt-delay", type=float, default=0.2, help="seconds before the receipt")
    parser.add_argument("--receipts-first", action="store_true", help="send each receipt before submit_sm_resp")
    parser.add_argument(
        "--redeliver-delay", type=float, default=1.0, help="seconds before a receipt answered with an error is re-sent"
    )
    parser.add_argument("--message-ids", choices=("hex", "decimal"), default="hex")
    parser.add_argument("--once-seconds", type=float, default=None, help="stop after N seconds (tests)")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    server = SmscServer(
        options.host,
        options.port,
        credentials={options.system_id: options.password},
        receipt_delay=options.receipt_delay,
        message_id_format=options.message_ids,
        receipts_first=options.receipts_first,
        redeliver_delay=options.redeliver_delay,
    )
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    port = server.start()
    print(f"SMSC listening on {options.host}:{port} (system_id {options.system_id!r})", flush=True)
    try:
        stop.wait(options.once_seconds)
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("SMSC stopped", flush=True)


if __name__ == "__main__":
    main()
