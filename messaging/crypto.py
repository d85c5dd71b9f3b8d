"""Codes are kept only as keyed HMACs; outbox bodies are sealed (encrypted)
until their message reaches a final state; secrets the platform must use again
(a webhook endpoint's signing secret) are kept sealed too."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def make_code(length: int) -> str:
    """A code of ``length`` digits from the OS's CSPRNG."""
    return "".join(secrets.choice("0123456789") for _ in range(length))


def code_hmac(verification_id: str, code: str) -> str:
    """Keyed by OTP_HMAC_KEY and bound to the verification, so equal codes of
    two verifications never share a digest."""
    key = settings.OTP_HMAC_KEY.encode()
    return hmac.new(key, f"{verification_id}:{code}".encode(), hashlib.sha256).hexdigest()


def code_matches(verification_id: str, code: str, digests: list[str]) -> bool:
    """Constant-time comparison against every digest (no early exit)."""
    candidate = code_hmac(verification_id, code)
    matched = False
    for digest in digests:
        matched |= hmac.compare_digest(candidate, digest)
    return matched


@lru_cache(maxsize=4)
def _fernet(secret: str) -> Fernet:
    key = base64.urlsafe_b64encode(hashlib.sha256(f"outbox-seal:{secret}".encode()).digest())
    return Fernet(key)


def seal(text: str, code: str = "") -> str:
    return _fernet(settings.OTP_HMAC_KEY).encrypt(json.dumps({"t": text, "c": code}).encode()).decode()


def unseal(token: str) -> tuple[str, str]:
    """(text, code); raises ValueError when the token is not ours."""
    try:
        data = json.loads(_fernet(settings.OTP_HMAC_KEY).decrypt(token.encode()))
    except (InvalidToken, ValueError) as exc:
        raise ValueError("sealed body cannot be opened") from exc
    return data["t"], data.get("c", "")


@lru_cache(maxsize=4)
def _secrets_fernet(secret: str) -> Fernet:
    key = base64.urlsafe_b64encode(hashlib.sha256(f"stored-secret:{secret}".encode()).digest())
    return Fernet(key)


def seal_secret(plain: str) -> str:
    """A secret we must use again (to sign), encrypted for the database: a dump or a
    replica does not give it away. Keyed by OTP_HMAC_KEY (its own derivation, not the
    outbox's); changing that key makes the sealed secrets unreadable, as it does the
    outbox's sealed bodies."""
    return _secrets_fernet(settings.OTP_HMAC_KEY).encrypt(plain.encode()).decode()


def open_secret(sealed: str) -> str:
    """The secret ``seal_secret`` sealed; raises ValueError when the token is not ours."""
    try:
        return _secrets_fernet(settings.OTP_HMAC_KEY).decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError) as exc:
        raise ValueError("sealed secret cannot be opened") from exc
