"""Public identifiers: a type prefix plus a time-ordered random part.

``msg_01JD…``: 10 characters of millisecond time and 16 of randomness in
Crockford base32, so ids sort by creation time (cursor pagination, index
locality) and cannot be guessed.
"""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _b32(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        out.append(_ALPHABET[rem])
    return "".join(reversed(out))


def new_id(prefix: str) -> str:
    millis = time.time_ns() // 1_000_000
    return f"{prefix}_{_b32(millis, 10)}{_b32(secrets.randbits(80), 16)}"
