"""Price lists: reading the one in force, tier choice, CSV parsing (R-PL).

A list in force never changes (R-PL-1), so its prices are cached in memory
per process; which list is in force for a day is re-read at most every
``_IN_FORCE_TTL`` seconds. This keeps the send path at zero queries for
prices.
"""

from __future__ import annotations

import csv
import io
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import TIERS, Channel, Operator, Price, PriceList, PriceTier
from billing.templatetags.money import format_rupiah
from otpportal.errors import ServiceError

_IN_FORCE_TTL = 30.0
_lock = threading.Lock()
_tables: dict[int, PriceTable] = {}
_in_force: dict[date, tuple[float, int]] = {}


@dataclass(frozen=True)
class TierBounds:
    tier: int
    prepaid_min: int
    prepaid_max: int | None
    postpaid_min: int
    postpaid_max: int | None


@dataclass(frozen=True)
class PriceTable:
    price_list_id: int
    effective_from: date
    tiers: tuple[TierBounds, ...]
    prices: dict[tuple[int, str, str], int] = field(default_factory=dict)

    def price_or_none(self, tier: int, channel: str, operator: str) -> int | None:
        """R-OP-1: SMS by operator; WhatsApp has one price per tier. None: no price."""
        return self.prices.get((tier, channel, operator if channel == Channel.SMS else ""))

    def unit_price(self, tier: int, channel: str, operator: str) -> int:
        """``price_or_none``, refusing a route without a price."""
        price = self.price_or_none(tier, channel, operator)
        if price is None:
            raise ServiceError(
                "invalid_request",
                _("No price for channel %(channel)s and operator %(operator)s.")
                % {"channel": repr(channel), "operator": repr(operator or "-")},
                details={"channel": [_("No price for %(route)s.") % {"route": f"{channel}/{operator or '-'}"}]},
            )
        return price

    def prepaid_tier(self, deposit: int) -> int:
        """R-PL-2: the tier a deposit of this amount buys."""
        for bounds in self.tiers:
            if deposit >= bounds.prepaid_min and (bounds.prepaid_max is None or deposit <= bounds.prepaid_max):
                return bounds.tier
        raise ServiceError(
            "invalid_request", _("No tier covers a deposit of %(amount)s.") % {"amount": format_rupiah(deposit)}
        )

    def postpaid_tier(self, units: int) -> int:
        """R-PL-2: the tier a month's usage reaches."""
        for bounds in self.tiers:
            if units >= bounds.postpaid_min and (bounds.postpaid_max is None or units <= bounds.postpaid_max):
                return bounds.tier
        raise ServiceError("invalid_request", _("No tier covers %(units)s units.") % {"units": units})


def jakarta_date(moment: datetime) -> date:
    """Business days are Asia/Jakarta days (domain-rules, time zone)."""
    return timezone.localtime(moment).date()


def _load(price_list: PriceList) -> PriceTable:
    tiers = tuple(
        TierBounds(t.tier, t.prepaid_min, t.prepaid_max, t.postpaid_min, t.postpaid_max)
        for t in PriceTier.objects.filter(price_list=price_list).order_by("tier")
    )
    prices = {(p.tier, p.channel, p.operator): p.unit_price for p in Price.objects.filter(price_list=price_list)}
    return PriceTable(price_list.pk, price_list.effective_from, tiers, prices)


def table_in_force(on: date) -> PriceTable:
    """The price list in force on a Jakarta date (R-PL-1)."""
    now = time.monotonic()
    cached = _in_force.get(on)
    if cached is not None and now - cached[0] < _IN_FORCE_TTL and cached[1] in _tables:
        return _tables[cached[1]]
    price_list = PriceList.objects.filter(effective_from__lte=on).order_by("-effective_from").first()
    if price_list is None:
        raise ServiceError("service_unavailable", _("No price list is in force; staff must load one."))
    with _lock:
        table = _tables.get(price_list.pk)
        if table is None or table.effective_from != price_list.effective_from:
            table = _load(price_list)
            if price_list.effective_from <= jakarta_date(timezone.now()):
                _tables[price_list.pk] = table  # in force: immutable, safe to keep
        _in_force[on] = (now, price_list.pk)
    return table


def table_for(price_list_id: int) -> PriceTable:
    """A price list by id (the list a charge was priced from). Kept like
    ``table_in_force`` keeps it once the list is in force (R-PL-1: it never
    changes again); a list still to come is read again each time, since staff
    may correct it until its day."""
    table = _tables.get(price_list_id)
    if table is None:
        table = _load(PriceList.objects.get(pk=price_list_id))
        if table.effective_from <= jakarta_date(timezone.now()):
            with _lock:
                _tables.setdefault(price_list_id, table)
    return table


def clear_cache() -> None:
    with _lock:
        _tables.clear()
        _in_force.clear()


# --- CSV ------------------------------------------------------------------

CSV_COLUMNS = [
    "effective_from",
    "tier",
    "prepaid_deposit_min",
    "prepaid_deposit_max",
    "postpaid_units_min",
    "postpaid_units_max",
    "channel",
    "operator",
    "unit_price",
]


@dataclass
class ParsedPriceList:
    effective_from: date
    tiers: list[TierBounds]
    prices: dict[tuple[int, str, str], int]


# Review 8.2: a unit price is plausible between Rp 1 and Rp 100.000 per unit
# (policy: a typo guard, like ``MAX_TOPUP``; the offer's prices are 300–770).
UNIT_PRICE_MIN = 1
UNIT_PRICE_MAX = 100_000

_PLAIN = re.compile(r"[0-9]+", re.ASCII)
_GROUPED = re.compile(r"[0-9]{1,3}([.,])[0-9]{3}(?:\1[0-9]{3})*", re.ASCII)  # one separator throughout
_FRACTION = re.compile(
    r"[0-9]+[.,][0-9]{1,2}"  # 650.00, 650,5, 1.00
    r"|[0-9]{1,3}(?:\.[0-9]{3})+,[0-9]{1,2}"  # 1.000,50 (Indonesian decimals)
    r"|[0-9]{1,3}(?:,[0-9]{3})+\.[0-9]{1,2}",  # 1,000.50
    re.ASCII,
)
_SEPARATED = re.compile(r"[0-9]+(?:[.,][0-9]+)+", re.ASCII)


class PriceListValueError(ServiceError):
    """A CSV cell that is not a whole number, named by its line, column and
    value, with the reason (Review 8.2). Nothing of the file is written."""

    def __init__(self, *, line: int, column: str, value: str, reason: str) -> None:
        super().__init__(
            "invalid_request",
            _("Line %(line)s, column %(column)s: %(value)s %(reason)s.")
            % {"line": line, "column": column, "value": repr(value), "reason": reason},
            details={"line": line, "column": column, "value": value, "reason": reason},
        )
        self.line = line
        self.column = column
        self.value = value
        self.reason = reason


def parse_whole_number(value: str, *, column: str, line: int) -> int:
    """One CSV number: whole and not negative (Review 8.2).

    Accepted: ``650``; ``1.000`` or ``1,000`` (a thousands separator,
    Indonesian or English); ``1.000.000`` or ``1,000,000`` (one separator
    throughout, groups of three). Refused, never guessed: a fractional part
    (``650.00``, ``650,5``, ``1.00``, ``1.000,50``), mixed separators
    (``1.000,000``), groups that are not of three (``1,0000``, ``1000.000``).
    """
    text = value.strip()
    if _PLAIN.fullmatch(text):
        return int(text)
    grouped = _GROUPED.fullmatch(text)
    if grouped:
        return int(text.replace(grouped.group(1), ""))
    if text.startswith("-") and (_PLAIN.fullmatch(text[1:]) or _GROUPED.fullmatch(text[1:])):
        reason = _("may not be negative")
    elif _FRACTION.fullmatch(text):
        reason = _(
            "has a fractional part; only whole numbers are accepted (a thousands separator is followed by 3 digits)"
        )
    elif _SEPARATED.fullmatch(text) and "." in text and "," in text:
        reason = _("mixes '.' and ',' as separators; use one thousands separator or none")
    elif _SEPARATED.fullmatch(text):
        reason = _("has an ambiguous thousands separator: every group after it must have exactly 3 digits")
    else:
        reason = _("is not a whole number")
    raise PriceListValueError(line=line, column=column, value=value, reason=reason)


def _int(value: str | None, column: str, line: int, *, optional: bool = False) -> int | None:
    if (value or "").strip() == "" and optional:
        return None
    return parse_whole_number(value or "", column=column, line=line)


def parse_price_list_csv(data: bytes | str, *, effective_from: date | None = None) -> ParsedPriceList:
    """Parse and fully validate a price-list CSV; raise a ServiceError naming
    the first problem (missing tier, channel or operator, overlapping bounds…).
    """
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise ServiceError("invalid_request", _("The CSV is not UTF-8 text.")) from None
    reader = csv.DictReader(io.StringIO(text))
    missing_columns = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing_columns:
        raise ServiceError(
            "invalid_request", _("The CSV lacks the column(s): %(columns)s.") % {"columns": ", ".join(missing_columns)}
        )
    bounds: dict[int, TierBounds] = {}
    prices: dict[tuple[int, str, str], int] = {}
    dates: set[str] = set()
    for line, row in enumerate(reader, start=2):
        if None in row or any(row.get(c) is None for c in CSV_COLUMNS):
            raise ServiceError(
                "invalid_request",
                _("Line %(line)s does not have the %(count)s columns of the header.")
                % {"line": line, "count": len(CSV_COLUMNS)},
            )
        dates.add(row["effective_from"].strip())
        tier = _int(row["tier"], "tier", line)
        if tier is None or tier not in TIERS:
            raise ServiceError(
                "invalid_request", _("Line %(line)s: tier %(tier)s is not 1–6.") % {"line": line, "tier": tier}
            )
        this = TierBounds(
            tier,
            _int(row["prepaid_deposit_min"], "prepaid_deposit_min", line) or 0,
            _int(row["prepaid_deposit_max"], "prepaid_deposit_max", line, optional=True),
            _int(row["postpaid_units_min"], "postpaid_units_min", line) or 0,
            _int(row["postpaid_units_max"], "postpaid_units_max", line, optional=True),
        )
        if bounds.setdefault(tier, this) != this:
            raise ServiceError(
                "invalid_request",
                _("Line %(line)s: tier %(tier)s has bounds that differ from earlier rows.")
                % {"line": line, "tier": tier},
            )
        channel = row["channel"].strip()
        operator = row["operator"].strip().lower()
        if channel not in Channel.values:
            raise ServiceError(
                "invalid_request",
                _("Line %(line)s: unknown channel %(channel)s.") % {"line": line, "channel": repr(channel)},
            )
        if channel == Channel.SMS and operator not in Operator.values:
            raise ServiceError(
                "invalid_request",
                _("Line %(line)s: unknown operator %(operator)s for SMS.") % {"line": line, "operator": repr(operator)},
            )
        if channel != Channel.SMS and operator:
            raise ServiceError(
                "invalid_request",
                _("Line %(line)s: %(channel)s prices take no operator.") % {"line": line, "channel": channel},
            )
        price = _int(row["unit_price"], "unit_price", line)
        if not price:
            raise ServiceError("invalid_request", _("Line %(line)s: unit_price must be positive.") % {"line": line})
        if not UNIT_PRICE_MIN <= price <= UNIT_PRICE_MAX:  # Review 8.2: a typo (650.000 for 650) is refused
            raise PriceListValueError(
                line=line,
                column="unit_price",
                value=row["unit_price"],
                reason=_("is not a plausible unit price: outside Rp %(min)s–%(max)s")
                % {"min": UNIT_PRICE_MIN, "max": f"{UNIT_PRICE_MAX:,}".replace(",", ".")},
            )
        key = (tier, channel, operator)
        if key in prices:
            raise ServiceError(
                "invalid_request",
                _("Line %(line)s: duplicate price for tier %(tier)s %(channel)s %(operator)s.")
                % {"line": line, "tier": tier, "channel": channel, "operator": operator},
            )
        prices[key] = price
    if len(dates) > 1:
        raise ServiceError(
            "invalid_request", _("The CSV mixes effective dates: %(dates)s.") % {"dates": ", ".join(sorted(dates))}
        )
    if effective_from is None:
        if not dates:
            raise ServiceError("invalid_request", _("The CSV has no rows."))
        try:
            effective_from = date.fromisoformat(dates.pop())
        except ValueError:
            raise ServiceError("invalid_request", _("effective_from must be a date like 2026-01-01.")) from None
    missing_tiers = [t for t in TIERS if t not in bounds]
    if missing_tiers:
        raise ServiceError(
            "invalid_request",
            _("The CSV lacks tier(s) %(tiers)s.") % {"tiers": ", ".join(map(str, missing_tiers))},
        )
    for tier in TIERS:
        expected = [(Channel.SMS.value, op) for op in Operator.values] + [
            (Channel.WA.value, ""),
            (Channel.WA_OFFICIAL.value, ""),
        ]
        for channel, operator in expected:
            if (tier, channel, operator) not in prices:
                raise ServiceError(
                    "invalid_request",
                    _("Tier %(tier)s lacks a price for %(route)s.")
                    % {"tier": tier, "route": f"{channel} {operator}" if operator else channel},
                )
    _check_contiguous([(b.tier, b.prepaid_min, b.prepaid_max) for b in bounds.values()], _("prepaid deposit"))
    _check_contiguous([(b.tier, b.postpaid_min, b.postpaid_max) for b in bounds.values()], _("postpaid units"))
    return ParsedPriceList(effective_from, [bounds[t] for t in TIERS], prices)


def _check_contiguous(ranges: list[tuple[int, int, int | None]], what: str) -> None:
    """Tiers must start at 0, follow each other without overlap or gap, and
    only the last is open-ended. ``what`` names the bounds, translated."""
    ranges.sort()
    expected_start = 0
    for index, (tier, low, high) in enumerate(ranges):
        if low != expected_start:
            if low < expected_start:
                message = _("Tier %(tier)s %(what)s bounds overlap: it starts at %(low)s, expected %(expected)s.")
            else:
                message = _("Tier %(tier)s %(what)s bounds gap: it starts at %(low)s, expected %(expected)s.")
            raise ServiceError(
                "invalid_request",
                message % {"tier": tier, "what": what, "low": f"{low:,}", "expected": f"{expected_start:,}"},
            )
        last = index == len(ranges) - 1
        if high is None and not last:
            raise ServiceError(
                "invalid_request",
                _("Tier %(tier)s %(what)s has no upper bound but is not the last tier.") % {"tier": tier, "what": what},
            )
        if high is not None and last:
            raise ServiceError(
                "invalid_request", _("The last tier's %(what)s must have no upper bound.") % {"what": what}
            )
        if high is not None:
            if high < low:
                raise ServiceError(
                    "invalid_request", _("Tier %(tier)s %(what)s ends before it starts.") % {"tier": tier, "what": what}
                )
            expected_start = high + 1


def write_price_list(parsed: ParsedPriceList, *, models: tuple[type, type, type], **fields: object) -> PriceList:
    """Write a validated list with its tiers and prices. ``models`` is
    (PriceList, PriceTier, Price): the live models, or a migration's
    historical ones."""
    list_model, tier_model, price_model = models
    price_list = list_model.objects.create(effective_from=parsed.effective_from, **fields)
    tier_model.objects.bulk_create(
        tier_model(
            price_list=price_list,
            tier=b.tier,
            prepaid_min=b.prepaid_min,
            prepaid_max=b.prepaid_max,
            postpaid_min=b.postpaid_min,
            postpaid_max=b.postpaid_max,
        )
        for b in parsed.tiers
    )
    price_model.objects.bulk_create(
        price_model(price_list=price_list, tier=tier, channel=channel, operator=operator, unit_price=unit_price)
        for (tier, channel, operator), unit_price in sorted(parsed.prices.items())
    )
    return price_list
