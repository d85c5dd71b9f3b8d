"""What SMPP bytes mean: status tables, GSM-7/UCS-2 texts cut into UDH parts, delivery receipts.

Pure functions, no sockets and no threads: ``connection`` moves PDUs, ``provider`` decides.

Receipt states: DELIVRD → DELIVERED; UNDELIV, EXPIRED, REJECTD, DELETED →
UNDELIVERED; UNKNOWN, ENROUTE, ACCEPTD → no report (logged): UNKNOWN means
the SMSC does not know, and calling it UNDELIVERED could refund the charge or
fall back to another channel for a code the user may already have.

A receipt's ``text:`` field carries the first 20 characters of the SMS, which
can hold the code: whatever is logged or kept of a receipt goes through
``mask_receipt`` first (Review 8.12).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from smpplib import consts
from smpplib.gsm import GSM_CHARACTER_TABLE

from messaging.providers.base import DeliveryReport, DeliveryState, Outcome, plausible_report_time

logger = logging.getLogger("messaging.providers.smpp")

# ----------------------------------------------------------------------------- status tables

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
THROTTLE_RETRY_AFTER = 1.0

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


def describe(status: int) -> str:
    return (
        RETRYABLE_STATUSES.get(status)
        or PERMANENT_STATUSES.get(status)
        or consts.DESCRIPTIONS.get(status)
        or f"status {status_code(status)}"
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
_TEXT_FIELD = re.compile(r"(?i)(?<![A-Za-z])text\s*:")

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


def _decoded(text: str | bytes) -> str:
    if isinstance(text, bytes):
        return text.decode("latin-1")  # receipts are ASCII; latin-1 never fails
    return text


def parse_receipt(text: str | bytes) -> dict[str, str]:
    """Fields of a receipt text (SMPP 3.4 appendix B), keys lower-case.

    ``id:abc sub:001 dlvrd:001 submit date:2501011200 done date:2501011201 stat:DELIVRD err:000 text:Kode``
    → ``{"id": "abc", "sub": "001", "dlvrd": "001", "submit_date": "2501011200",
    "done_date": "2501011201", "stat": "DELIVRD", "err": "000", "text": "Kode"}``.
    Keys missing from the text are missing from the dict; garbage gives ``{}``.
    The ``text`` value may hold the code: log ``mask_receipt(...)``, never it.
    """
    text = _decoded(text).replace("\x00", "")
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


def masked(value: str) -> str:
    """What stands for a withheld text in logs: its length only."""
    return f"<{len(value)} chars withheld>" if value else ""


def mask_receipt(text: str | bytes, limit: int = 300) -> str:
    """A receipt (or any deliver_sm body) fit for a log line: everything after ``text:`` withheld.

    Review 8.12: the text field repeats the start of the SMS, which can hold the code.
    """
    text = _decoded(text)
    match = _TEXT_FIELD.search(text)
    if match is not None:
        text = text[: match.end()] + masked(text[match.end() :])
    return text[:limit]


_RECEIPT_TIME = re.compile(r"\d{10}(?:\d{2})?")


def receipt_time(value: str, tz: ZoneInfo, *, now: datetime | None = None) -> datetime | None:
    """A receipt's ``done date`` in the account's zone, or None when it is not one.

    The format is chosen by length (Review 8.15): 10 digits are ``YYMMDDhhmm`` (SMPP 3.4
    appendix B), 12 digits ``YYMMDDhhmmss`` (some SMSCs add seconds); anything else, or a
    date that does not exist, is refused. ``strptime`` is not used: it accepts one-digit
    fields, so ``%y%m%d%H%M%S`` read ``2611300535`` as 05:03:05. A time more than a few
    minutes ahead is clamped to now (``plausible_report_time``); one before the message was
    sent is clamped by the dispatch service, which knows when that was.
    """
    value = value.strip()
    if not _RECEIPT_TIME.fullmatch(value):
        if value:
            logger.warning("SMPP receipt with an unreadable done date %r ignored", value[:20])
        return None
    pairs = [int(value[i : i + 2]) for i in range(0, len(value), 2)]
    year, month, day, hour, minute = pairs[:5]
    second = pairs[5] if len(pairs) == 6 else 0
    try:
        when = datetime(2000 + year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError:
        logger.warning("SMPP receipt with an impossible done date %r ignored", value)
        return None
    return plausible_report_time(when, now=now, source="smpp")


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin-1").rstrip("\x00")
    return str(value)


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
        logger.warning("SMPP receipt without a message id ignored: %r", mask_receipt(body, 200))
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
    if "text" in fields:
        fields["text"] = masked(fields["text"])  # raw may be logged or kept: never the code (Review 8.12)
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
        occurred_at=receipt_time(fields.get("done_date", ""), zone),
        error_code="" if state is DeliveryState.DELIVERED or err.strip("0") == "" else err,
        raw=raw,
    )
