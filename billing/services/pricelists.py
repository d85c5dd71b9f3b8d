"""Loading price lists (R-PL-1): validated as a whole, written as a whole."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from billing.models import Price, PriceList, PriceTier
from billing.pricing import clear_cache, jakarta_date, parse_price_list_csv, write_price_list
from otpportal.errors import ServiceError


@transaction.atomic
def price_list_import(
    *,
    data: bytes | str,
    effective_from: date | None = None,
    name: str = "",
    filename: str = "",
    uploaded_by: User | None = None,
    allow_past: bool = False,
) -> PriceList:
    """Create a price list from CSV. A new list must take effect in the
    future (it never reprices what was charged); the shipped list is loaded
    with ``allow_past`` by its data migration."""
    parsed = parse_price_list_csv(data, effective_from=effective_from)
    today = jakarta_date(timezone.now())
    if not allow_past and parsed.effective_from <= today:
        raise ServiceError(
            "invalid_request",
            _("A new price list must take effect after today (%(today)s); it never reprices the past.")
            % {"today": f"{today:%Y-%m-%d}"},
            details={"effective_from": [_("Must be in the future.")]},
        )
    if PriceList.objects.filter(effective_from=parsed.effective_from).exists():
        raise ServiceError(
            "invalid_request",
            _("A price list effective %(date)s exists already.") % {"date": f"{parsed.effective_from:%Y-%m-%d}"},
            details={"effective_from": [_("Already taken.")]},
        )
    price_list = write_price_list(
        parsed,
        models=(PriceList, PriceTier, Price),
        name=name or f"Price list {parsed.effective_from:%Y-%m-%d}",
        source_filename=filename[:200],
        uploaded_by=uploaded_by,
    )
    transaction.on_commit(clear_cache)
    return price_list


def price_list_delete(*, price_list: PriceList) -> None:
    if price_list.is_in_force(jakarta_date(timezone.now())):
        raise ServiceError("invalid_request", _("A price list in force is read-only (R-PL-1)."))
    price_list.delete()
    transaction.on_commit(clear_cache)
