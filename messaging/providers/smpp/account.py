"""One SMSC account, as ``settings.SMPP_ACCOUNTS`` lists it (one URL each), and the SMPP_* options."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

from smpplib import consts


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


def accounts_from_settings() -> list[SmppAccount]:
    from django.conf import settings

    return [SmppAccount.from_url(url) for url in getattr(settings, "SMPP_ACCOUNTS", [])]


def provider_options_from_settings() -> dict[str, float]:
    from django.conf import settings

    return {
        "response_timeout": float(getattr(settings, "SMPP_RESPONSE_TIMEOUT", 10.0)),
        "connect_timeout": float(getattr(settings, "SMPP_CONNECT_TIMEOUT", 5.0)),
        "enquire_link_interval": float(getattr(settings, "SMPP_ENQUIRE_LINK_INTERVAL", 30.0)),
        "backoff_max": float(getattr(settings, "SMPP_BACKOFF_MAX", 60.0)),
        "throttle_timeout": float(getattr(settings, "SMPP_THROTTLE_TIMEOUT", 2.0)),
    }
