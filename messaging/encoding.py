"""Counting what is billed: encoding, weighted length and units (R-SEG).

Pure functions, no Django. The weights are the offer's billing rule
(R-SEG-2), not the GSM septet count: some characters that take one septet on
air (``!``, ``@``, ``,`` ...) are billed as 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "CHANNELS",
    "GSM7_BASIC",
    "GSM7_BASIC_TABLE",
    "GSM7_EXTENSION",
    "R_SEG_2_SPECIALS",
    "Measure",
    "is_gsm7",
    "measure",
]

Encoding = Literal["gsm7", "ucs2"]

# GSM 03.38 default alphabet, in code order 0x00-0x7F. 0x1B is the escape to
# the extension table, not a character of its own.
_GSM7_ESCAPE: Final = "\x1b"
GSM7_BASIC_TABLE: Final = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# The characters of the basic alphabet (the escape removed).
GSM7_BASIC: Final[frozenset[str]] = frozenset(GSM7_BASIC_TABLE) - {_GSM7_ESCAPE}
# GSM 03.38 extension table (each sent as escape + character): form feed ^ { } \ [ ~ ] | €
GSM7_EXTENSION: Final[frozenset[str]] = frozenset("\f^{}\\[~]|€")
_GSM7_ALL: Final[frozenset[str]] = GSM7_BASIC | GSM7_EXTENSION

# R-SEG-2: these characters count as 2 each: ~ ! @ # $ % & * ( ) _ = \ - { } [ ] : ; ' < > ? , . /
R_SEG_2_SPECIALS: Final = "~!@#$%&*()_=\\-{}[]:;'<>?,./"
# R-SEG-2 "and also the GSM extension characters ^ | €" (the others, { } [ ] \ ~,
# are already listed). The form feed, the one remaining extension character,
# is counted 2 as well: it takes two septets like every extension character.
_DOUBLE_WEIGHT: Final[frozenset[str]] = frozenset(R_SEG_2_SPECIALS) | GSM7_EXTENSION

SMS_GSM7_UNIT: Final = 160  # R-SEG-1
SMS_UCS2_SINGLE: Final = 70  # R-SEG-3
SMS_UCS2_UNIT: Final = 67  # R-SEG-3

CHANNEL_SMS: Final = "sms"
CHANNELS_WHATSAPP: Final = frozenset({"wa", "wa_official"})  # R-CH-1
CHANNELS: Final = frozenset({CHANNEL_SMS}) | CHANNELS_WHATSAPP


@dataclass(frozen=True, slots=True)
class Measure:
    """How a message body is encoded and billed.

    ``length`` is the R-SEG-2 weighted length for GSM-7 and the number of
    UTF-16 code units for UCS-2; ``units`` is what is billed (R-SEG-1/3/4).
    """

    encoding: Encoding
    length: int
    units: int


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def is_gsm7(text: str) -> bool:
    """Whether every character is in the GSM 03.38 basic or extension table."""
    return _GSM7_ALL.issuperset(text)


def gsm7_weighted_length(text: str) -> int:
    """R-SEG-2 weighted length: the listed specials and extension characters count 2, others 1."""
    return len(text) + sum(1 for char in text if char in _DOUBLE_WEIGHT)


def ucs2_length(text: str) -> int:
    """Number of UTF-16 code units (a character outside the BMP, e.g. an emoji, is 2)."""
    return len(text.encode("utf-16-le")) // 2


def sms_units(encoding: Encoding, length: int) -> int:
    """SMS billed for a body of ``length`` (R-SEG-1 for GSM-7, R-SEG-3 for UCS-2)."""
    if length <= 0:
        return 0
    if encoding == "gsm7":
        return _ceil_div(length, SMS_GSM7_UNIT)  # R-SEG-1
    if length <= SMS_UCS2_SINGLE:
        return 1  # R-SEG-3
    return _ceil_div(length, SMS_UCS2_UNIT)  # R-SEG-3


def measure(text: str, channel: str) -> Measure:
    """Encoding, length and billed units of ``text`` on ``channel`` (R-SEG).

    Empty text measures 0 units on every channel (the API refuses it before).
    Raises ValueError for an unknown channel.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; expected one of {sorted(CHANNELS)}")
    if is_gsm7(text):
        encoding: Encoding = "gsm7"
        length = gsm7_weighted_length(text)
    else:
        encoding = "ucs2"  # R-SEG-3
        length = ucs2_length(text)
    if channel in CHANNELS_WHATSAPP:
        # R-SEG-4: a WhatsApp message is 1 unit whatever its length.
        return Measure(encoding=encoding, length=length, units=1 if text else 0)
    return Measure(encoding=encoding, length=length, units=sms_units(encoding, length))
