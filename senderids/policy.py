"""The sender-ID rules' numbers and pure helpers (no queries, no writes).

The amounts and thresholds are the offer's (docs/rules.md R-SID-3,
R-SID-5 … R-SID-8), not settings: changing them changes the offer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db.models import TextChoices
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from billing.models import Operator
from otpportal.errors import ServiceError, field_error

MIN_DEPOSIT = 2_000_000  # R-SID-3: one top-up of at least this (prepaid)
MONTHLY_MINIMUM_SMS = 1_000  # R-SID-5
QUARTERLY_MINIMUM_SMS = 100  # R-SID-6, R-SID-7
SMARTFREN_REGISTRATION_FEE = 100_000  # R-SID-8
THREE_REACTIVATION_FEE = 300_000  # R-SID-6
EXPECTED_WORKING_DAYS = (7, 30)  # R-SID-4
WARN_DAYS_BEFORE_QUARTER_END = 14  # R-SID-6, R-SID-7: "two weeks before"

# R-SID-1: the operators a sender ID can be registered with, in the order pages list them.
OPERATORS: tuple[str, ...] = (
    Operator.TELKOMSEL,
    Operator.XL,
    Operator.INDOSAT,
    Operator.THREE,
    Operator.SMARTFREN,
)
# Operators whose quarterly traffic is judged (R-SID-6 Three, R-SID-7 Telkomsel).
QUARTERLY_OPERATORS: tuple[str, ...] = (Operator.THREE, Operator.TELKOMSEL)

NAME_MIN, NAME_MAX = 3, 11
_NAME = re.compile(r"^[A-Za-z0-9 ]+$")

# Fixed messages, translated when raised (Review 8.19).
MSG_NAME_LENGTH = gettext_noop("The sender name must be 3 to 11 characters.")
MSG_NAME_CHARACTERS = gettext_noop("The sender name may contain only letters, digits and single spaces.")
MSG_NAME_DIGITS = gettext_noop("The sender name must contain at least one letter.")
MSG_NAME_PLATFORM = gettext_noop("This name is the platform's own sender.")
MSG_OPERATOR_UNKNOWN = gettext_noop("Unknown operator; choose from telkomsel, xl, indosat, three and smartfren.")
MSG_OPERATOR_NONE = gettext_noop("Choose at least one operator.")


def normalise_name(raw: object) -> str:
    """The name as it will be registered: outer spaces removed."""
    return raw.strip() if isinstance(raw, str) else ""


def name_key(name: str) -> str:
    """Names compare without regard to case: "TokoKu" and "TOKOKU" are one name."""
    return name.upper()


def validate_name(raw: object) -> str:
    """An alphanumeric sender (R-SID-2): 3–11 characters, ASCII letters,
    digits and single spaces, not all digits (handsets would read a number),
    never the platform's own sender (R-CH-4). Returns the name to register."""
    name = normalise_name(raw)
    if not NAME_MIN <= len(name) <= NAME_MAX:
        raise field_error("name", _(MSG_NAME_LENGTH))
    if not _NAME.match(name) or "  " in name:
        raise field_error("name", _(MSG_NAME_CHARACTERS))
    if not any(c.isalpha() for c in name):
        raise field_error("name", _(MSG_NAME_DIGITS))
    if name_key(name) == name_key(settings.PLATFORM_SENDER_ID):
        raise ServiceError("sender_id_taken", _(MSG_NAME_PLATFORM), details={"name": [_(MSG_NAME_PLATFORM)]})
    return name


def validate_operators(raw: object) -> list[str]:
    """R-SID-1: a non-empty selection of the five operators, in our order."""
    values = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list | tuple | set) else []
    chosen = set()
    for value in values:
        for part in str(value).split(","):
            if part.strip():
                chosen.add(part.strip().lower())
    unknown = sorted(chosen - set(OPERATORS))
    if unknown:
        raise field_error("operators", _(MSG_OPERATOR_UNKNOWN))
    if not chosen:
        raise field_error("operators", _(MSG_OPERATOR_NONE))
    return [op for op in OPERATORS if op in chosen]


def route_for(operator: str) -> str:
    """R-SID-7: Telkomsel registrations carry a route. This platform sends only
    OTP (R-CH-3), so it registers Telkomsel's premium (OTP) route."""
    return "premium" if operator == Operator.TELKOMSEL else ""


class FeeKind(TextChoices):
    REGISTRATION = "registration", "registration"  # R-SID-8
    REACTIVATION = "reactivation", "reactivation"  # R-SID-6


@dataclass(frozen=True)
class Fee:
    """A fee the customer sees before confirming and that is billed once."""

    operator: str
    kind: str  # a FeeKind
    amount: int

    def as_dict(self) -> dict[str, object]:
        return {"operator": self.operator, "kind": self.kind, "amount": self.amount}


def application_fees(operators: list[str]) -> list[Fee]:
    """R-SID-8: what an application for these operators costs when it is submitted."""
    if Operator.SMARTFREN in operators:
        return [Fee(Operator.SMARTFREN, FeeKind.REGISTRATION, SMARTFREN_REGISTRATION_FEE)]
    return []


def reactivation_fee(operator: str) -> Fee | None:
    """R-SID-6: reactivating a suspended Three registration costs Rp 300.000;
    the other operators (not Telkomsel, R-SID-7) reactivate free."""
    if operator == Operator.THREE:
        return Fee(Operator.THREE, FeeKind.REACTIVATION, THREE_REACTIVATION_FEE)
    return None


# --- Calendar quarters (R-SID-6, R-SID-7), Asia/Jakarta days ----------------------------


def quarter_of(day: date) -> date:
    """The first day of the calendar quarter ``day`` is in."""
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def next_quarter(quarter: date) -> date:
    return quarter_of(quarter) + relativedelta(months=3)


def previous_quarter(day: date) -> date:
    """The first day of the quarter before the one ``day`` is in."""
    return quarter_of(day) - relativedelta(months=3)


def quarter_label(quarter: date) -> str:
    return f"{quarter.year}-Q{(quarter.month - 1) // 3 + 1}"


def warning_day(quarter: date) -> date:
    """Two weeks before the quarter ends (its end is the next quarter's first
    00:00 WIB): from that day on a registration below the threshold is warned
    (R-SID-6, R-SID-7). Calendar days: a holiday moves nothing."""
    return next_quarter(quarter) - relativedelta(days=WARN_DAYS_BEFORE_QUARTER_END)
