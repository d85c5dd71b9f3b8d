"""SMS over SMPP 3.4 (smpplib's PDU codec and GSM-7 table; our own connection handling).

One ``SmppProvider`` holds one long-lived bind to one SMSC account:

* the TCP connection and bind are made lazily by the first ``send`` (or by
  ``connect``/``run_forever``), under a lock, and shared by every thread;
* a reader thread reads every PDU: it wakes the sender waiting for a
  ``submit_sm_resp``, answers ``enquire_link`` and ``unbind``, and hands
  ``deliver_sm`` to a report thread, which parses the receipt, calls
  ``on_report`` and then answers ``deliver_sm_resp`` (always, even when the
  PDU is malformed or ``on_report`` fails: a receipt is never retried forever);
* a keep-alive thread sends ``enquire_link`` every ``enquire_link_interval``
  seconds and drops the connection when no answer comes;
* a dropped connection is noticed by the reader; the next ``send`` binds
  again at once; failed connects/binds back off exponentially with jitter,
  and a ``send`` during the back-off returns RETRY at once (never hangs).

``send`` never loses a message silently: any doubt returns RETRY. The one
case where RETRY may duplicate is a ``submit_sm`` that was written but whose
``submit_sm_resp`` never came back: error_code ``no_response`` or
``connection_lost`` (``AMBIGUOUS_ERROR_CODES``); the SMSC may have taken it.
Every other RETRY (``not_connected``, ``rate_limited``, ``closed``, an SMSC
status) means nothing was accepted. The provider never resubmits on its
own, and a resent multi-part text gets a new UDH reference, so a handset
never merges parts of two attempts. For an OTP a duplicate is far less
harmful than a loss.

Receipt states: DELIVRD → DELIVERED; UNDELIV, EXPIRED, REJECTD, DELETED →
UNDELIVERED; UNKNOWN, ENROUTE, ACCEPTD → no report (logged): UNKNOWN means
the SMSC does not know, and calling it UNDELIVERED could refund the charge or
fall back to another channel for a code the user may already have.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import random
import re
import secrets
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

from smpplib import consts, smpp
from smpplib.gsm import GSM_CHARACTER_TABLE

from messaging.limits import LocalTokenBucket, TokenBucket, acquire
from messaging.providers.base import (
    DeliveryReport,
    DeliveryState,
    OutboundMessage,
    Outcome,
    ProviderResult,
    ReportCallback,
)

logger = logging.getLogger(__name__)

__all__ = [
    "AMBIGUOUS_ERROR_CODES",
    "PERMANENT_STATUSES",
    "RETRYABLE_STATUSES",
    "MessageTooLong",
    "SmppAccount",
    "SmppProvider",
    "accounts_from_settings",
    "encode_parts",
    "close_providers",
    "get_provider",
    "gsm7_encode",
    "outcome_for_status",
    "parse_receipt",
    "record_report",
    "report_from_deliver_sm",
    "status_code",
]

# ----------------------------------------------------------------------------- status mapping

# submit_sm_resp command_status values worth trying again later. Everything else that is not
# ESME_ROK is PERMANENT (as Kannel does), notably 0x0A/0x0B (bad source/destination), 0x45
# (ESME_RSUBMITFAIL: SMSCs use it for route/content/credit refusals that a retry will not fix;
# failing fast lets the dispatcher fall back to WhatsApp while the code is still valid),
# 0x65/0x66 (ESME_RX_P_APPN / ESME_RX_R_APPN: permanent / rejected message) and 0xFF.
RETRYABLE_STATUSES: Mapping[int, str] = {
    consts.SMPP_ESME_RINVBNDSTS: "not bound (we reconnect)",  # 0x04
    consts.SMPP_ESME_RSYSERR: "SMSC system error",  # 0x08
    consts.SMPP_ESME_RMSGQFUL: "SMSC queue full",  # 0x14
    consts.SMPP_ESME_RTHROTTLED: "throttled",  # 0x58
    consts.SMPP_ESME_RX_T_APPN: "temporary application error",  # 0x64
}
PERMANENT_STATUSES: Mapping[int, str] = {
    consts.SMPP_ESME_RINVMSGLEN: "invalid message length",  # 0x01
    consts.SMPP_ESME_RINVSRCADR: "invalid source address",  # 0x0A
    consts.SMPP_ESME_RINVDSTADR: "invalid destination address",  # 0x0B
    consts.SMPP_ESME_RSUBMITFAIL: "submit failed",  # 0x45
    consts.SMPP_ESME_RINVSRCTON: "invalid source TON",  # 0x48
    consts.SMPP_ESME_RINVSRCNPI: "invalid source NPI",  # 0x49
    consts.SMPP_ESME_RINVDSTTON: "invalid destination TON",  # 0x50
    consts.SMPP_ESME_RINVDSTNPI: "invalid destination NPI",  # 0x51
    consts.SMPP_ESME_RX_P_APPN: "permanent application error",  # 0x65
    consts.SMPP_ESME_RX_R_APPN: "message rejected",  # 0x66
    consts.SMPP_ESME_RUNKNOWNERR: "unknown error",  # 0xFF
}
_THROTTLE_RETRY_AFTER = 1.0

# RETRY error codes after which the SMSC may nevertheless have taken the message (the submit was
# written, its resp never came): a retry can duplicate it. Every other RETRY is clean.
AMBIGUOUS_ERROR_CODES = frozenset({"no_response", "connection_lost"})


def status_code(status: int) -> str:
    """``0x0000000B`` style, as stored in ``ProviderResult.error_code``."""
    return f"0x{status:08X}"


def outcome_for_status(status: int) -> Outcome:
    if status == consts.SMPP_ESME_ROK:
        return Outcome.ACCEPTED
    return Outcome.RETRY if status in RETRYABLE_STATUSES else Outcome.PERMANENT


def _describe(status: int) -> str:
    return (
        RETRYABLE_STATUSES.get(status)
        or PERMANENT_STATUSES.get(status)
        or consts.DESCRIPTIONS.get(status)
        or f"status {status_code(status)}"
    )


# ----------------------------------------------------------------------------- account


@dataclass(frozen=True, slots=True)
class SmppAccount:
    """One SMSC account; ``from_url`` reads the form kept in ``settings.SMPP_ACCOUNTS``."""

    name: str
    host: str
    port: int
    system_id: str
    password: str = field(repr=False)
    system_type: str = ""
    tps: float = 10.0  # submits (parts) per second for this account across all workers; 0 = no cap
    alnum_ton: int = consts.SMPP_TON_ALNUM  # 5, for letters in the sender ID
    alnum_npi: int = consts.SMPP_NPI_UNK  # 0
    numeric_ton: int = consts.SMPP_TON_INTL  # 1, for an all-digit sender
    numeric_npi: int = consts.SMPP_NPI_ISDN  # 1
    dest_ton: int = consts.SMPP_TON_INTL
    dest_npi: int = consts.SMPP_NPI_ISDN
    default_sender: str = ""  # used when the message has no sender_id
    validity_minutes: int = 0  # validity_period for submits; 0 = the SMSC's default
    receipt_tz: str = "Asia/Jakarta"  # the zone of the receipt's "done date"

    def __post_init__(self) -> None:
        # smpplib silently truncates longer values, which then fail to bind in confusing ways.
        if not self.system_id or len(self.system_id) > 15:
            raise ValueError("SMPP system_id must be 1..15 characters")
        if len(self.password) > 8:
            raise ValueError("SMPP password must be at most 8 characters")
        if len(self.system_type) > 12:
            raise ValueError("SMPP system_type must be at most 12 characters")
        if not 0 < self.port < 65536:
            raise ValueError("SMPP port out of range")
        if self.tps < 0:
            raise ValueError("SMPP tps must be >= 0")
        if not 0 <= self.validity_minutes < 99 * 24 * 60:
            raise ValueError("SMPP validity must be 0..98 days in minutes")
        ZoneInfo(self.receipt_tz)

    @classmethod
    def from_url(cls, url: str) -> SmppAccount:
        """``smpp://SYSTEM_ID:PASSWORD@HOST:PORT/?system_type=OTP&tps=50&name=main``.

        Optional query parameters: name (default: the system_id), system_type, tps, sender
        (default sender), validity (minutes), tz, alnum_ton, alnum_npi, numeric_ton,
        numeric_npi, dest_ton, dest_npi. User and password are percent-decoded.
        """
        parts = urlsplit(url)
        if parts.scheme != "smpp":
            raise ValueError("SMPP account URL must start with smpp://")
        if not parts.hostname or parts.username is None:
            raise ValueError("SMPP account URL needs SYSTEM_ID:PASSWORD@HOST")
        query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        system_id = unquote(parts.username)
        ints = {
            key: int(query[key])
            for key in ("alnum_ton", "alnum_npi", "numeric_ton", "numeric_npi", "dest_ton", "dest_npi")
            if key in query
        }
        return cls(
            name=query.get("name") or system_id,
            host=parts.hostname,
            port=parts.port or 2775,
            system_id=system_id,
            password=unquote(parts.password or ""),
            system_type=query.get("system_type", ""),
            tps=float(query.get("tps", "10")),
            default_sender=query.get("sender", ""),
            validity_minutes=int(query.get("validity", "0")),
            receipt_tz=query.get("tz", "Asia/Jakarta"),
            **ints,
        )


# ----------------------------------------------------------------------------- encoding

# GSM 03.38 default alphabet from smpplib's table, corrected: smpplib has "`" at 0x5F where GSM
# has "§", and lacks the form feed (escape + 0x0A). Same alphabet as messaging.encoding.is_gsm7.
_GSM_TABLE = GSM_CHARACTER_TABLE[:0x5F] + "§" + GSM_CHARACTER_TABLE[0x60:]
_GSM_BASIC: Mapping[str, int] = {ch: code for code, ch in enumerate(_GSM_TABLE[:0x80]) if code != 0x1B}
_GSM_EXTENDED: Mapping[str, int] = {
    **{ch: code - 0x80 for code, ch in enumerate(_GSM_TABLE) if code >= 0x80 and ch != "`"},
    "\f": 0x0A,
}


def gsm7_encode(text: str) -> bytes:
    """GSM-7 as SMPP carries it (one septet per octet, extension characters as 0x1B + code).

    Raises UnicodeError for a character outside the alphabet.
    """
    out = bytearray()
    for ch in text:
        code = _GSM_BASIC.get(ch)
        if code is not None:
            out.append(code)
            continue
        code = _GSM_EXTENDED.get(ch)
        if code is None:
            raise UnicodeError(f"{ch!r} is not in the GSM 7-bit alphabet")
        out += bytes((0x1B, code))
    return bytes(out)


_GSM_SINGLE, _GSM_PART = 160, 153  # septets, one per octet as SMPP carries them
_UCS2_SINGLE, _UCS2_PART = 140, 134  # octets
_UDHI = consts.SMPP_GSMFEAT_UDHI


class MessageTooLong(ValueError):
    """More than 255 parts."""


def encode_parts(text: str, encoding: str = "gsm7", *, ref: int = 0) -> tuple[list[bytes], int, int]:
    """``(short_messages, data_coding, esm_class)`` for ``text``.

    GSM-7 (data_coding 0, one septet per octet) or UCS-2 (data_coding 8, UTF-16BE) per
    ``encoding``; a "gsm7" text with characters outside the GSM alphabet goes as UCS-2 (a
    mangled OTP is worse than a dearer one). Longer texts are cut into parts with an 8-bit
    concatenation UDH (``05 00 03 ref total seq``), like ``smpplib.gsm.make_parts``, except
    that a cut never separates a GSM escape from its character nor the two halves of a UTF-16
    surrogate pair (an emoji), which smpplib's cutter can do.
    """
    if encoding == "ucs2":
        data, coding = text.encode("utf-16-be"), consts.SMPP_ENCODING_ISO10646
    else:
        try:
            data, coding = gsm7_encode(text), consts.SMPP_ENCODING_DEFAULT
        except UnicodeError:
            logger.warning("text is not GSM-7 although marked %r: sending as UCS-2", encoding)
            data, coding = text.encode("utf-16-be"), consts.SMPP_ENCODING_ISO10646
    gsm = coding == consts.SMPP_ENCODING_DEFAULT
    if len(data) <= (_GSM_SINGLE if gsm else _UCS2_SINGLE):
        return [data], coding, 0
    size = _GSM_PART if gsm else _UCS2_PART
    chunks: list[bytes] = []
    start = 0
    while start < len(data):
        end = min(start + size, len(data))
        if end < len(data):
            if gsm and data[end - 1] == 0x1B:  # 0x1B is always an escape lead byte in gsm7_encode's output
                end -= 1
            elif not gsm and 0xD8 <= data[end - 2] <= 0xDB:  # high surrogate: keep the pair together
                end -= 2
        chunks.append(data[start:end])
        start = end
    if len(chunks) > 255:
        raise MessageTooLong(f"{len(chunks)} parts")
    header = bytes((5, consts.SMPP_UDHIEIE_CONCATENATED, 3, ref & 0xFF, len(chunks)))
    return [header + bytes((seq,)) + chunk for seq, chunk in enumerate(chunks, start=1)], coding, _UDHI


# ----------------------------------------------------------------------------- receipts

_RECEIPT_KEY = re.compile(r"(?i)(?<![A-Za-z])(id|sub|dlvrd|submit[ _]date|done[ _]date|stat|err|text)\s*:")

_STAT_STATES: Mapping[str, DeliveryState | None] = {
    "DELIVRD": DeliveryState.DELIVERED,
    "UNDELIV": DeliveryState.UNDELIVERED,
    "EXPIRED": DeliveryState.UNDELIVERED,
    "REJECTD": DeliveryState.UNDELIVERED,
    "DELETED": DeliveryState.UNDELIVERED,
    "UNKNOWN": None,
    "ENROUTE": None,
    "ACCEPTD": None,
    # Spelled out by some SMSCs.
    "DELIVERED": DeliveryState.DELIVERED,
    "UNDELIVERABLE": DeliveryState.UNDELIVERED,
    "REJECTED": DeliveryState.UNDELIVERED,
}
_MESSAGE_STATE_STATES: Mapping[int, DeliveryState | None] = {
    consts.SMPP_MESSAGE_STATE_DELIVERED: DeliveryState.DELIVERED,
    consts.SMPP_MESSAGE_STATE_UNDELIVERABLE: DeliveryState.UNDELIVERED,
    consts.SMPP_MESSAGE_STATE_EXPIRED: DeliveryState.UNDELIVERED,
    consts.SMPP_MESSAGE_STATE_REJECTED: DeliveryState.UNDELIVERED,
    consts.SMPP_MESSAGE_STATE_DELETED: DeliveryState.UNDELIVERED,
    consts.SMPP_MESSAGE_STATE_UNKNOWN: None,
    consts.SMPP_MESSAGE_STATE_ENROUTE: None,
    consts.SMPP_MESSAGE_STATE_ACCEPTED: None,
}
_RECEIPT_TYPE_MASK = 0x3C  # esm_class bits 5..2: message type
_ESM_SMSC_RECEIPT = 0x04


def parse_receipt(text: str | bytes) -> dict[str, str]:
    """Fields of a receipt text (SMPP 3.4 appendix B), keys lower-case.

    ``id:abc sub:001 dlvrd:001 submit date:2501011200 done date:2501011201 stat:DELIVRD err:000 text:Kode``
    → ``{"id": "abc", "sub": "001", "dlvrd": "001", "submit_date": "2501011200",
    "done_date": "2501011201", "stat": "DELIVRD", "err": "000", "text": "Kode"}``.
    Keys missing from the text are missing from the dict; garbage gives ``{}``.
    """
    if isinstance(text, bytes):
        text = text.decode("latin-1")  # receipts are ASCII; latin-1 never fails
    text = text.replace("\x00", "")
    found = list(_RECEIPT_KEY.finditer(text))
    fields: dict[str, str] = {}
    for index, match in enumerate(found):
        key = match.group(1).lower().replace(" ", "_")
        if key == "text":
            fields.setdefault("text", text[match.end() :])
            break
        end = found[index + 1].start() if index + 1 < len(found) else len(text)
        words = text[match.end() : end].split()
        fields.setdefault(key, words[0] if words else "")
    return fields


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin-1").rstrip("\x00")
    return str(value)


def _receipt_time(value: str, tz: ZoneInfo) -> datetime | None:
    for fmt in ("%y%m%d%H%M%S", "%y%m%d%H%M"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=tz)
        except ValueError:
            continue
    return None


def report_from_deliver_sm(pdu: Any, *, tz: ZoneInfo | str = "Asia/Jakarta") -> DeliveryReport | None:
    """The ``DeliveryReport`` in a parsed deliver_sm, or None (an MO message, an intermediate or
    UNKNOWN state, or a receipt without an id)."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    esm_class = pdu.esm_class if isinstance(pdu.esm_class, int) else 0
    tlv_id = _text(getattr(pdu, "receipted_message_id", None))
    message_type = esm_class & _RECEIPT_TYPE_MASK
    if message_type != _ESM_SMSC_RECEIPT and not (tlv_id and message_type == 0):
        logger.info("SMPP inbound message (esm_class 0x%02X) ignored: the service is one-way (R-CH-2)", esm_class)
        return None
    body = pdu.short_message or getattr(pdu, "message_payload", None) or b""
    fields = parse_receipt(body)
    message_id = tlv_id or fields.get("id", "")
    if not message_id:
        logger.warning("SMPP receipt without a message id ignored: %r", body[:200])
        return None
    message_state = getattr(pdu, "message_state", None)
    stat = fields.get("stat", "").upper()
    if isinstance(message_state, int) and message_state in _MESSAGE_STATE_STATES:
        state = _MESSAGE_STATE_STATES[message_state]
    elif stat in _STAT_STATES:
        state = _STAT_STATES[stat]
    else:
        logger.warning(
            "SMPP receipt for %s with unknown state (stat=%r, message_state=%r) ignored",
            message_id,
            stat,
            message_state,
        )
        return None
    if state is None:
        logger.info("SMPP receipt for %s says %s: no state change", message_id, stat or message_state)
        return None
    err = fields.get("err", "")
    raw: dict[str, object] = {"receipt": fields, "esm_class": esm_class}
    if message_state is not None:
        raw["message_state"] = message_state
    if tlv_id:
        raw["receipted_message_id"] = tlv_id
    network_error = getattr(pdu, "network_error_code", None)
    if isinstance(network_error, bytes) and network_error:
        raw["network_error_code"] = network_error.hex()
    return DeliveryReport(
        provider="smpp",
        provider_message_id=message_id,
        state=state,
        occurred_at=_receipt_time(fields.get("done_date", ""), zone),
        error_code="" if state is DeliveryState.DELIVERED or err.strip("0") == "" else err,
        raw=raw,
    )


# ----------------------------------------------------------------------------- connection


class _Sequence:
    """A 'client' for smpplib's PDU constructors: we always set the sequence ourselves."""

    sequence = 0

    def next_sequence(self) -> int:
        return 0


_NOSEQ = _Sequence()


def _make_pdu(command_name: str, sequence: int, **fields: Any) -> bytes:
    pdu = smpp.make_pdu(command_name, client=_NOSEQ, **fields)
    pdu.sequence = sequence
    return bytes(pdu.generate())


class SmppError(Exception):
    pass


class BindRefused(SmppError):
    def __init__(self, status: int) -> None:
        super().__init__(f"bind refused: {status_code(status)} {_describe(status)}")
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
class _Response:
    command_id: int
    status: int
    sequence: int
    message_id: str = ""


class _Waiter:
    __slots__ = ("event", "response")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.response: _Response | None = None


_GENERIC_NACK = 0x80000000
_SUBMIT_SM_RESP = 0x80000004
_DELIVER_SM = 0x00000005
_UNBIND = 0x00000006
_ENQUIRE_LINK = 0x00000015
_ALERT_NOTIFICATION = 0x00000102
_MAX_PDU = 64 * 1024


class _Connection:
    """One TCP connection and its bind: a reader thread and a keep-alive thread."""

    def __init__(
        self,
        account: SmppAccount,
        mode: str,
        *,
        on_deliver: Callable[[_Connection, int, bytes], None],
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

    def request(self, command_name: str, *, timeout: float | None = None, **fields: Any) -> _Response:
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
            waiter.response = _Response(command_id, status, sequence, message_id)
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


# ----------------------------------------------------------------------------- provider


_rng = random.SystemRandom()
_DEFAULT_BUCKET = LocalTokenBucket()


class SmppProvider:
    """``send(message) -> ProviderResult`` over one long-lived bind to ``account``.

    ``mode``: "transceiver" (default when ``on_report`` is given: receipts the SMSC sends on
    this bind are reported) or "transmitter" (default without ``on_report``, so the SMSC sends
    receipts to a bind that reports them, such as the ``smpp_bind`` process, instead of one
    that would drop them).
    """

    name = "smpp"

    def __init__(
        self,
        account: SmppAccount,
        *,
        on_report: ReportCallback | None = None,
        bucket: TokenBucket | None = None,
        mode: str | None = None,
        response_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        enquire_link_interval: float = 30.0,
        backoff_base: float = 0.5,
        backoff_max: float = 60.0,
        throttle_timeout: float = 2.0,
    ) -> None:
        mode = mode or ("transceiver" if on_report is not None else "transmitter")
        if mode not in ("transceiver", "transmitter"):
            raise ValueError(f"unknown bind mode {mode!r}")
        self.account = account
        self.on_report = on_report
        self.bucket: TokenBucket = bucket if bucket is not None else _DEFAULT_BUCKET
        self.mode = mode
        self.response_timeout = response_timeout
        self.connect_timeout = connect_timeout
        self.enquire_link_interval = enquire_link_interval
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.throttle_timeout = throttle_timeout

        self._lock = threading.Lock()
        self._connect_lock = threading.Lock()
        self._conn: _Connection | None = None
        self._failures = 0
        self._next_attempt = 0.0
        self._last_error = ""
        self._last_error_code = "not_connected"
        self._closed = False
        self._ref = secrets.randbelow(256)
        self._reports: queue.Queue[tuple[_Connection, int, bytes] | None] = queue.Queue()
        self._report_thread: threading.Thread | None = None
        self._tz = ZoneInfo(account.receipt_tz)

    def __repr__(self) -> str:
        return f"<SmppProvider {self.account.name} {self.mode} {'bound' if self.connected else 'not bound'}>"

    # -- the bind

    @property
    def connected(self) -> bool:
        conn = self._conn
        return conn is not None and conn.bound and not conn.closed.is_set()

    def _connection(self) -> _Connection:
        conn = self._conn
        if conn is not None and not conn.closed.is_set():
            return conn
        with self._connect_lock:
            conn = self._conn
            if conn is not None and not conn.closed.is_set():
                return conn
            if self._closed:
                raise NotBound("provider closed", error_code="closed", retry_after=None)
            wait = self._next_attempt - time.monotonic()
            if wait > 0:
                raise NotBound(
                    f"not bound, next attempt in {wait:.1f}s ({self._last_error})",
                    error_code=self._last_error_code,
                    retry_after=wait,
                )
            self._start_report_thread()
            conn = _Connection(
                self.account,
                self.mode,
                on_deliver=self._reports_put,
                connect_timeout=self.connect_timeout,
                response_timeout=self.response_timeout,
                enquire_link_interval=self.enquire_link_interval,
            )
            try:
                conn.open()
            except BindRefused as exc:
                self._failed(str(exc), status_code(exc.status))
                logger.error("SMPP %s: %s", self.account.name, exc)
                raise NotBound(str(exc), error_code=status_code(exc.status), retry_after=self._backoff_left()) from exc
            except SmppError as exc:
                self._failed(str(exc), "not_connected")
                logger.warning("SMPP %s: %s", self.account.name, exc)
                raise NotBound(str(exc), error_code="not_connected", retry_after=self._backoff_left()) from exc
            self._failures = 0
            self._next_attempt = 0.0
            self._conn = conn
            return conn

    def _failed(self, message: str, code: str) -> None:
        self._failures += 1
        delay = min(self.backoff_max, self.backoff_base * 2 ** (self._failures - 1))
        delay *= _rng.uniform(0.5, 1.0)  # jitter: binds from many workers do not stampede the SMSC
        self._next_attempt = time.monotonic() + delay
        self._last_error = message
        self._last_error_code = code

    def _backoff_left(self) -> float:
        return max(0.0, self._next_attempt - time.monotonic())

    def connect(self) -> bool:
        """Bind now if not bound (respecting the back-off); True when bound."""
        try:
            self._connection()
        except NotBound:
            return False
        return True

    def ping(self, timeout: float | None = None) -> bool:
        """One enquire_link on the current bind; True when answered."""
        conn = self._conn
        if conn is None or conn.closed.is_set():
            return False
        try:
            conn.request("enquire_link", timeout=timeout)
        except SmppError:
            return False
        return True

    def run_forever(self, stop: threading.Event, *, poll: float = 0.5, flap_window: float = 5.0) -> None:
        """Keep the bind open until ``stop`` is set, binding again after every drop.

        Failed binds back off exponentially with jitter (``backoff_base`` doubling up to
        ``backoff_max``); so do binds that the SMSC keeps dropping within ``flap_window``
        seconds, so a flapping SMSC is not hammered.
        """
        flaps = 0
        while not stop.is_set():
            try:
                conn = self._connection()
            except NotBound as exc:
                if exc.error_code == "closed":
                    return
                stop.wait(exc.retry_after if exc.retry_after is not None else poll)
                continue
            while not stop.is_set() and not conn.closed.wait(poll):
                pass
            if stop.is_set():
                return
            if time.monotonic() - conn.opened_at < flap_window:
                flaps += 1
                delay = min(self.backoff_max, self.backoff_base * 2 ** (flaps - 1)) * _rng.uniform(0.5, 1.0)
                logger.warning(
                    "SMPP %s: bind dropped after a short while, next bind in %.1fs", self.account.name, delay
                )
                stop.wait(delay)
            else:
                flaps = 0

    def close(self) -> None:
        """Unbind and close; later sends return RETRY ("closed")."""
        with self._connect_lock:
            self._closed = True
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close(unbind=True)
        thread = self._report_thread
        if thread is not None:
            self._reports.put(None)
            if thread is not threading.current_thread():
                thread.join(self.response_timeout)

    # -- sending

    def _next_ref(self) -> int:
        with self._lock:
            self._ref = (self._ref + 1) % 256
            return self._ref

    def _source(self, sender_id: str) -> tuple[str, int, int]:
        sender = (sender_id or self.account.default_sender).strip()
        if not sender:
            return "", consts.SMPP_TON_UNK, consts.SMPP_NPI_UNK
        digits = sender.removeprefix("+")
        if re.fullmatch(r"[0-9]+", digits):
            return digits, self.account.numeric_ton, self.account.numeric_npi
        return sender, self.account.alnum_ton, self.account.alnum_npi

    def _validity(self) -> str:
        minutes = self.account.validity_minutes
        if minutes <= 0:
            return ""
        days, rest = divmod(minutes, 24 * 60)
        hours, mins = divmod(rest, 60)
        return f"0000{days:02d}{hours:02d}{mins:02d}00000R"  # relative: YYMMDDhhmmss t nn R

    def send(self, message: OutboundMessage) -> ProviderResult:
        if not re.fullmatch(r"\+?[1-9][0-9]{5,14}", message.to):
            return ProviderResult(Outcome.PERMANENT, error_code="invalid_destination", error_message="not E.164")
        destination = message.to.removeprefix("+")
        source, source_ton, source_npi = self._source(message.sender_id)
        try:
            parts, data_coding, esm_class = encode_parts(message.text, message.encoding, ref=self._next_ref())
        except MessageTooLong as exc:
            return ProviderResult(Outcome.PERMANENT, error_code="message_too_long", error_message=str(exc))
        validity = self._validity()
        ids: list[str] = []
        for index, short_message in enumerate(parts):
            if self.account.tps > 0 and not acquire(
                self.bucket,
                f"smpp:{self.account.name}",
                rate=self.account.tps,
                capacity=max(1.0, self.account.tps),
                # The first part may give up quickly; later parts wait longer rather than
                # leave a message half sent.
                timeout=self.throttle_timeout if index == 0 else self.response_timeout,
            ):
                return self._retry(
                    "rate_limited",
                    f"{self.account.name} is over {self.account.tps} parts/s",
                    ids,
                    retry_after=1.0 / self.account.tps,
                )
            try:
                conn = self._connection()
            except NotBound as exc:
                return self._retry(exc.error_code, str(exc), ids, retry_after=exc.retry_after)
            try:
                response = conn.request(
                    "submit_sm",
                    source_addr_ton=source_ton,
                    source_addr_npi=source_npi,
                    source_addr=source,
                    dest_addr_ton=self.account.dest_ton,
                    dest_addr_npi=self.account.dest_npi,
                    destination_addr=destination,
                    esm_class=esm_class,
                    validity_period=validity,
                    registered_delivery=consts.SMPP_SMSC_DELIVERY_RECEIPT_BOTH,
                    data_coding=data_coding,
                    short_message=short_message,
                )
            except ConnectionLost as exc:
                if not exc.sent:  # nothing reached the SMSC: a clean retry
                    return self._retry("not_connected", f"{exc} (before submit)", ids)
                return self._retry("connection_lost", f"{exc} (after submit: the SMSC may have accepted it)", ids)
            except NoResponse as exc:
                return self._retry("no_response", f"{exc} (after submit: the SMSC may have accepted it)", ids)
            if response.status != consts.SMPP_ESME_ROK:
                return self._refused(conn, response.status, ids)
            if not response.message_id:
                logger.warning("SMPP %s: submit_sm_resp without message_id for %s", self.account.name, message.id)
            ids.append(response.message_id)
        logger.info("SMPP %s: %s accepted as %s", self.account.name, message.id, ",".join(ids))
        return ProviderResult(Outcome.ACCEPTED, provider_message_id=ids[0], part_ids=tuple(ids))

    def _retry(self, code: str, detail: str, ids: list[str], *, retry_after: float | None = None) -> ProviderResult:
        if ids:
            detail += f"; parts {','.join(ids)} were accepted and will be sent again"
        return ProviderResult(Outcome.RETRY, error_code=code, error_message=detail, retry_after=retry_after)

    def _refused(self, conn: _Connection, status: int, ids: list[str]) -> ProviderResult:
        outcome = outcome_for_status(status)
        if status == consts.SMPP_ESME_RINVBNDSTS:
            conn.close(unbind=False)  # the SMSC thinks we are not bound: bind again
        detail = _describe(status)
        if ids:
            detail += f"; parts {','.join(ids)} were accepted before"
        return ProviderResult(
            outcome,
            error_code=status_code(status),
            error_message=detail,
            retry_after=_THROTTLE_RETRY_AFTER if status == consts.SMPP_ESME_RTHROTTLED else None,
        )

    # -- receipts

    def _reports_put(self, conn: _Connection, sequence: int, raw: bytes) -> None:
        self._reports.put((conn, sequence, raw))

    def _start_report_thread(self) -> None:
        if self._report_thread is None:
            self._report_thread = threading.Thread(
                target=self._report_loop, name=f"smpp-{self.account.name}-reports", daemon=True
            )
            self._report_thread.start()

    def _report_loop(self) -> None:
        while True:
            item = self._reports.get()
            if item is None:
                return
            conn, sequence, raw = item
            try:
                self._handle_deliver(raw)
            except Exception:
                logger.exception("SMPP %s: deliver_sm handling failed", self.account.name)
            finally:
                # Answered after on_report returned, so a crash before it makes the SMSC send
                # the receipt again rather than lose it; answered even when on_report failed or
                # the PDU was malformed, so the SMSC does not send the same one forever.
                conn.respond("deliver_sm_resp", sequence)

    def _handle_deliver(self, raw: bytes) -> None:
        try:
            pdu = smpp.parse_pdu(raw, client=_NOSEQ, allow_unknown_opt_params=True)
        except Exception as exc:
            logger.warning("SMPP %s: malformed deliver_sm (%s): %s", self.account.name, exc, raw.hex())
            return
        report = report_from_deliver_sm(pdu, tz=self._tz)
        if report is None:
            return
        report = DeliveryReport(
            provider=report.provider,
            provider_message_id=report.provider_message_id,
            state=report.state,
            occurred_at=report.occurred_at,
            error_code=report.error_code,
            raw={**report.raw, "account": self.account.name},
        )
        if self.on_report is None:
            logger.warning(
                "SMPP %s: receipt for %s (%s) on a bind without on_report: dropped",
                self.account.name,
                report.provider_message_id,
                report.state,
            )
            return
        self.on_report(report)


# ----------------------------------------------------------------------------- process-wide use


def record_report(report: DeliveryReport) -> None:
    """``on_report`` for production: ``messaging.services.delivery_record``, never raising."""
    try:
        from messaging import services

        services.delivery_record(report)
    except Exception:
        logger.exception("delivery_record failed for %s %s", report.provider, report.provider_message_id)
    finally:
        try:
            from django.db import close_old_connections

            close_old_connections()  # this runs in a long-lived thread: drop broken/expired connections
        except Exception:
            logger.debug("close_old_connections failed", exc_info=True)


def accounts_from_settings() -> list[SmppAccount]:
    from django.conf import settings

    return [SmppAccount.from_url(url) for url in getattr(settings, "SMPP_ACCOUNTS", [])]


_providers: dict[tuple[int, str], SmppProvider] = {}
_providers_lock = threading.Lock()


def get_provider(name: str | None = None) -> SmppProvider:
    """The process's provider for account ``name`` (default: the first in SMPP_ACCOUNTS).

    One bind per account per process; rebuilt after a fork (Celery prefork), since sockets and
    threads do not survive one. Receipts arriving on it go to ``record_report``.
    """
    from django.conf import settings

    from messaging.limits import default_bucket

    accounts = accounts_from_settings()
    if not accounts:
        raise LookupError("settings.SMPP_ACCOUNTS is empty")
    account = next((a for a in accounts if a.name == name), None) if name else accounts[0]
    if account is None:
        raise LookupError(f"no SMPP account named {name!r}")
    key = (os.getpid(), account.name)
    with _providers_lock:
        provider = _providers.get(key)
        if provider is None:
            for stale in [k for k in _providers if k[0] != key[0]]:
                del _providers[stale]  # inherited from the parent process: unusable here
            provider = SmppProvider(
                account,
                on_report=record_report,
                bucket=default_bucket(),
                mode=getattr(settings, "SMPP_WORKER_BIND_MODE", "transceiver"),
                **provider_options_from_settings(),
            )
            _providers[key] = provider
        return provider


def close_providers() -> None:
    """Unbind every provider ``get_provider`` made in this process (worker shutdown, tests)."""
    with _providers_lock:
        providers = [p for (pid, _), p in _providers.items() if pid == os.getpid()]
        _providers.clear()
    for provider in providers:
        provider.close()


def provider_options_from_settings() -> dict[str, float]:
    from django.conf import settings

    return {
        "response_timeout": float(getattr(settings, "SMPP_RESPONSE_TIMEOUT", 10.0)),
        "connect_timeout": float(getattr(settings, "SMPP_CONNECT_TIMEOUT", 5.0)),
        "enquire_link_interval": float(getattr(settings, "SMPP_ENQUIRE_LINK_INTERVAL", 30.0)),
        "backoff_max": float(getattr(settings, "SMPP_BACKOFF_MAX", 60.0)),
        "throttle_timeout": float(getattr(settings, "SMPP_THROTTLE_TIMEOUT", 2.0)),
    }
