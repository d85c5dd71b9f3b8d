"""Destination numbers: parsing, validation, operator lookup (R-OP).

Pure functions, no database. ``phonenumbers`` decides whether a number is a
valid mobile number (R-OP-2); the project's own dated prefix table decides the
operator (R-OP-3), because phonenumbers' carrier names lag the 2024-25 mergers
(it reports Three's 0895-0899 as "Indosat Ooredoo Hutchison") and miss some
ranges (0884-0886 Smartfren have no carrier name).

This module is on the hot send path: regexes and tables are built once at
import, and parsing results are memoised (they are immutable).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType
from typing import Final

import phonenumbers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from otpportal.errors import ServiceError

__all__ = [
    "PREFIX_TABLE",
    "PREFIX_TABLE_AS_OF",
    "Operator",
    "PhoneNumber",
    "mask",
    "normalize",
    "operator_for",
    "parse",
]

ERROR_CODE = "invalid_phone_number"
MAX_INPUT_LENGTH = 32
DEFAULT_REGION = "ID"
INDONESIA_CALLING_CODE = "62"


class Operator(StrEnum):
    """Indonesian mobile operators that SMS prices depend on (R-OP-1).

    The values are the ``operator`` column of the price list CSV.
    """

    TELKOMSEL = "telkomsel"
    XL = "xl"
    INDOSAT = "indosat"
    THREE = "three"
    SMARTFREN = "smartfren"

    @property
    def label(self) -> str:
        return _OPERATOR_LABELS[self]


_OPERATOR_LABELS: dict[Operator, str] = {
    Operator.TELKOMSEL: "Telkomsel",
    Operator.XL: "XL-Axiata",
    Operator.INDOSAT: "Indosat",
    Operator.THREE: "Three",
    Operator.SMARTFREN: "Smartfren",
}


# R-OP-3: the project's dated prefix table (national prefix -> operator),
# exactly as domain-rules.md lists it. Indonesia has no mobile number
# portability (R-OP-1), so the prefix decides. Read-only: update the literal
# and PREFIX_TABLE_AS_OF together when the rule changes.
PREFIX_TABLE_AS_OF: Final = date(2026, 1, 1)
PREFIX_TABLE: Final[Mapping[str, Operator]] = MappingProxyType(
    {
        # Telkomsel
        "0811": Operator.TELKOMSEL,
        "0812": Operator.TELKOMSEL,
        "0813": Operator.TELKOMSEL,
        "0821": Operator.TELKOMSEL,
        "0822": Operator.TELKOMSEL,
        "0823": Operator.TELKOMSEL,
        "0851": Operator.TELKOMSEL,
        "0852": Operator.TELKOMSEL,
        "0853": Operator.TELKOMSEL,
        # Indosat (IM3 / Mentari belong to Indosat, R-OP-1)
        "0814": Operator.INDOSAT,
        "0815": Operator.INDOSAT,
        "0816": Operator.INDOSAT,
        "0855": Operator.INDOSAT,
        "0856": Operator.INDOSAT,
        "0857": Operator.INDOSAT,
        "0858": Operator.INDOSAT,
        # XL-Axiata
        "0817": Operator.XL,
        "0818": Operator.XL,
        "0819": Operator.XL,
        "0859": Operator.XL,
        "0877": Operator.XL,
        "0878": Operator.XL,
        "0879": Operator.XL,
        # Axis (belongs to XL-Axiata, R-OP-1)
        "0831": Operator.XL,
        "0832": Operator.XL,
        "0833": Operator.XL,
        "0838": Operator.XL,
        # Three
        "0895": Operator.THREE,
        "0896": Operator.THREE,
        "0897": Operator.THREE,
        "0898": Operator.THREE,
        "0899": Operator.THREE,
        # Smartfren
        "0881": Operator.SMARTFREN,
        "0882": Operator.SMARTFREN,
        "0883": Operator.SMARTFREN,
        "0884": Operator.SMARTFREN,
        "0885": Operator.SMARTFREN,
        "0886": Operator.SMARTFREN,
        "0887": Operator.SMARTFREN,
        "0888": Operator.SMARTFREN,
        "0889": Operator.SMARTFREN,
    }
)
_PREFIX_LENGTH = 4

_MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})

# R-OP-2: digits with spaces, dashes, dots or parentheses, optionally one leading "+".
_ALLOWED_CHARS = re.compile(r"[0-9+() .\-\u00a0]+")
_SEPARATORS = re.compile(r"[() .\-\u00a0]")
_COMPACT = re.compile(r"\+?[0-9]+")
_INDONESIAN_E164 = re.compile(r"\+62([0-9]+)")
_NON_DIGITS = re.compile(r"[^0-9]")

# Refusals (R-OP-2), translated when raised (Review 8.19).
_MSG_EMPTY = gettext_noop("A phone number is required.")
_MSG_TOO_LONG = gettext_noop("The phone number is too long (at most %(max)s characters).")
_MSG_CHARACTERS = gettext_noop(
    "The phone number may contain only digits, a leading '+', spaces, dashes, dots and parentheses."
)
_MSG_FORMAT = gettext_noop("Enter the number as 08..., 628... or +628... (other countries with a leading '+').")
_MSG_INVALID = gettext_noop("This is not a valid phone number.")
_MSG_NOT_MOBILE = gettext_noop("This is not a mobile number; OTP messages can only be sent to mobile numbers.")
_MSG_UNKNOWN_OPERATOR = gettext_noop(
    "This number's prefix belongs to an unknown operator; it cannot be priced or sent."
)


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A validated destination number."""

    e164: str  # "+6281234567890"
    country: str  # ISO 3166-1 alpha-2, "ID"
    operator: Operator | None  # None outside the prefix table (or outside Indonesia)
    national: str  # "081234567890"


def _refuse(message: str) -> ServiceError:
    """The R-OP-2 refusal, in the contract's ``details`` shape for the ``to`` field;
    ``message`` is already translated."""
    return ServiceError(ERROR_CODE, message, details={"to": [message]})


def _allowed_countries(allowed_countries: Sequence[str] | None) -> frozenset[str]:
    """The countries numbers may belong to; settings are read lazily (R-OP-2 policy)."""
    if allowed_countries is None:
        from django.conf import settings

        allowed_countries = settings.ALLOWED_COUNTRIES
    if isinstance(allowed_countries, str):  # "ID" means ["ID"], not ["I", "D"]
        allowed_countries = [allowed_countries]
    return frozenset(country.strip().upper() for country in allowed_countries)


def _compact(raw: object) -> str:
    """Strip separators; refuse anything that is not a plausibly written phone number."""
    if not isinstance(raw, str) or not raw.strip():
        raise _refuse(_(_MSG_EMPTY))
    if len(raw) > MAX_INPUT_LENGTH:
        raise _refuse(_(_MSG_TOO_LONG) % {"max": MAX_INPUT_LENGTH})
    text = raw.strip()
    if not _ALLOWED_CHARS.fullmatch(text):
        raise _refuse(_(_MSG_CHARACTERS))
    compact = _SEPARATORS.sub("", text)
    if not _COMPACT.fullmatch(compact):
        raise _refuse(_(_MSG_CHARACTERS))
    return compact


def _international(compact: str) -> str:
    """The number with its country code and '+': ``08…`` / ``628…`` / ``+…`` (R-OP-2).

    A bare number that starts with neither 0 nor 62 is ambiguous and refused.
    """
    if compact.startswith("+"):
        return compact
    if compact.startswith(INDONESIA_CALLING_CODE):
        return "+" + compact
    if compact.startswith("0") and not compact.startswith("00"):
        return "+" + INDONESIA_CALLING_CODE + compact[1:]
    raise _refuse(_(_MSG_FORMAT))


def _national(number: phonenumbers.PhoneNumber, country: str) -> str:
    if country == DEFAULT_REGION:
        return "0" + phonenumbers.national_significant_number(number)
    return _NON_DIGITS.sub("", phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL))


@lru_cache(maxsize=8192)
def _parse_compact(compact: str) -> PhoneNumber:
    """Validate a compact number (no country policy, no operator policy). Raises ServiceError."""
    international = _international(compact)
    try:
        number = phonenumbers.parse(international, None)
    except NumberParseException:
        raise _refuse(_(_MSG_INVALID)) from None
    if not phonenumbers.is_valid_number(number):
        raise _refuse(_(_MSG_INVALID))
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise _refuse(_(_MSG_NOT_MOBILE))  # landlines, toll-free, premium... (R-OP-2)
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    country = phonenumbers.region_code_for_number(number) or ""
    return PhoneNumber(
        e164=e164,
        country=country,
        operator=operator_for(e164),
        national=_national(number, country),
    )


def parse(
    raw: str,
    *,
    allowed_countries: Sequence[str] | None = None,
    require_operator: bool = True,
) -> PhoneNumber:
    """Parse and validate a destination number (R-OP-2, R-OP-3).

    ``allowed_countries`` defaults to ``settings.ALLOWED_COUNTRIES``. With
    ``require_operator`` (SMS), a number whose prefix is not in the table is
    refused: a number is never priced by guess (R-OP-3). Numbers outside
    Indonesia have no operator, so they need ``require_operator=False``.
    """
    number = _parse_compact(_compact(raw))
    allowed = _allowed_countries(allowed_countries)
    if number.country not in allowed:
        if allowed == {DEFAULT_REGION}:
            raise _refuse(_("Only Indonesian mobile numbers are accepted."))
        names = ", ".join(sorted(allowed)) or _("none")
        raise _refuse(
            _("Numbers from this country (%(country)s) are not accepted; allowed: %(allowed)s.")
            % {"country": number.country, "allowed": names}
        )
    if require_operator and number.operator is None:
        raise _refuse(_(_MSG_UNKNOWN_OPERATOR))  # R-OP-3
    return number


def normalize(raw: str, *, allowed_countries: Sequence[str] | None = None) -> str:
    """The E.164 form (``+628…``) of a valid mobile number (R-OP-2); raises ServiceError.

    Does not require a known operator; use :func:`parse` for SMS pricing.
    """
    return parse(raw, allowed_countries=allowed_countries, require_operator=False).e164


def operator_for(e164: str) -> Operator | None:
    """The operator for an E.164 number from the dated prefix table (R-OP-3).

    None for a prefix the table does not know or a number outside Indonesia.
    """
    match = _INDONESIAN_E164.fullmatch(e164)
    if match is None:
        return None
    return PREFIX_TABLE.get("0" + match.group(1)[: _PREFIX_LENGTH - 1])


def mask(e164: str) -> str:
    """A display form hiding the middle digits: ``+6281234567890`` -> ``+62812****7890``.

    Keeps the last 4 digits and up to 5 leading ones, always hiding at least 4.
    """
    digits = e164.removeprefix("+")
    tail = 4
    if len(digits) < 2 * tail:
        return "+" + "*" * len(digits)
    head = min(5, len(digits) - 2 * tail)
    hidden = len(digits) - head - tail
    return "+" + digits[:head] + "*" * hidden + digits[-tail:]
