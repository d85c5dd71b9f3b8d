"""Rupiah in templates: ``{{ amount|rupiah }}`` → "Rp 2.500.000".

Money is whole rupiah (domain-rules "Money"), so no decimals are shown.
The Indonesian grouping (dots) is used whatever the page language: it is how
rupiah amounts are written.
"""

from __future__ import annotations

from datetime import date

from babel.numbers import format_currency
from django import template

register = template.Library()

_PATTERN = "¤ #,##0"


def format_rupiah(amount: object) -> str:
    """Format as "Rp 2.500.000"; negative as "-Rp 2.500"; empty for no amount."""
    if amount is None or amount == "":
        return ""
    try:
        value = int(amount)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return str(amount)
    return format_currency(value, "IDR", locale="id_ID", format=_PATTERN, currency_digits=False)


@register.filter(is_safe=True)
def rupiah(amount: object) -> str:
    return format_rupiah(amount)


@register.filter(is_safe=True)
def rupiah_signed(amount: object) -> str:
    """Always with a sign: "+Rp 1.000", "-Rp 650", "Rp 0"."""
    text = format_rupiah(amount)
    try:
        positive = int(amount) > 0  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return text
    return f"+{text}" if positive else text


@register.filter
def isodate(value: object) -> date | object:
    """A "2026-05-31" string (as notifications pass dates) as a date, so that
    ``|date`` can format it in the reader's language."""
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return value
