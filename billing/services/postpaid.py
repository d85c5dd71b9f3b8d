"""Postpaid money before the invoice: the guarantee deposit (R-POST-1), the
monthly usage counter and its cap (R-POST-2).

The counter is one ``MonthlyUsage`` row per customer and month, locked and
updated inside the charging transaction: the cap check reads one row, never
a ``SUM`` over the month's charges.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Customer, User
from billing import notifications
from billing.models import CapChange, Guarantee, LedgerEntry, MonthlyUsage
from billing.pricing import PriceTable
from billing.services.deposits import validate_amount
from billing.templatetags.money import format_rupiah
from billing.usage import month_of, month_value, route_key
from otpportal.errors import ServiceError

logger = logging.getLogger(__name__)

CAP_PERCENT_MAX = 1000  # staff may raise a cap to at most 10 × the guarantee


# --- Guarantee (R-POST-1) -----------------------------------------------------


def _guarantee_locked(customer: Customer, now: datetime) -> Guarantee:
    Guarantee.objects.bulk_create(
        [Guarantee(customer=customer, cap_percent=settings.POSTPAID_CAP_PERCENT, created_at=now)],
        ignore_conflicts=True,
    )
    return Guarantee.objects.select_for_update().get(customer=customer)


def guarantee_deposit(
    *,
    customer: Customer,
    amount: object,
    reference: str,
    created_by: User | None = None,
    now: datetime | None = None,
) -> Guarantee:
    """Record a guarantee deposit received by bank transfer (R-POST-1).

    The guarantee held afterwards must reach ``POSTPAID_GUARANTEE_MIN``
    (Rp 10.000.000): a first deposit below it, or a top-up that leaves the
    guarantee below it, is refused and nothing is written. The bank reference
    is recorded once per customer.
    """
    amount = validate_amount(amount)
    reference = (reference or "").strip()
    if not reference or len(reference) > 100:
        raise ServiceError(
            "invalid_request",
            _("A guarantee deposit needs the bank transfer's reference (at most 100 characters)."),
            details={"reference": [_("Required.")]},
        )
    if customer.mode != Customer.Mode.POSTPAID:
        raise ServiceError(
            "invalid_request",
            _("%(customer)s is prepaid; record a top-up instead.") % {"customer": customer.slug},
            details={"customer": [_("Not postpaid.")]},
        )
    if customer.status == Customer.Status.TERMINATED:
        raise ServiceError("already_terminated", _("%(customer)s is terminated.") % {"customer": customer.slug})
    now = now or timezone.now()
    ledger_reference = f"guarantee:{customer.pk}:{reference}"
    with transaction.atomic():
        guarantee = _guarantee_locked(customer, now)
        if LedgerEntry.objects.filter(reference=ledger_reference).exists():
            raise ServiceError(
                "invalid_request",
                _("A guarantee deposit with reference '%(reference)s' is already recorded for %(customer)s.")
                % {"reference": reference, "customer": customer.slug},
                details={"reference": [_("Already recorded.")]},
            )
        minimum = settings.POSTPAID_GUARANTEE_MIN
        if guarantee.held + amount < minimum:
            raise ServiceError(
                "guarantee_below_minimum",
                _("The guarantee would be %(total)s; at least %(minimum)s must be held.")
                % {"total": format_rupiah(guarantee.held + amount), "minimum": format_rupiah(minimum)},
                details={
                    "amount": [_("At least %(amount)s.") % {"amount": format_rupiah(max(0, minimum - guarantee.held))}]
                },
            )
        LedgerEntry.objects.create(
            customer=customer,
            book=LedgerEntry.Book.GUARANTEE,
            kind=LedgerEntry.Kind.GUARANTEE,
            amount=amount,
            reference=ledger_reference,
            memo=f"Guarantee deposit {reference}",
            created_at=now,
            created_by=created_by,
        )
        guarantee.held += amount
        fields = ["held"]
        if guarantee.activated_at is None:
            guarantee.activated_at = now
            fields.append("activated_at")
        guarantee.save(update_fields=fields)
    return guarantee


def cap_set(*, customer: Customer, percent: object, reason: str, changed_by: User | None) -> Guarantee:
    """R-POST-2: staff change one customer's cap multiple (in percent of the
    guarantee: 300 = 3 ×), recording who and why."""
    if isinstance(percent, bool) or not isinstance(percent, int) or not 100 <= percent <= CAP_PERCENT_MAX:
        raise ServiceError(
            "invalid_request",
            _("The cap must be a whole percentage from 100 to %(max)s.") % {"max": CAP_PERCENT_MAX},
            details={"percent": [_("From 100 to %(max)s.") % {"max": CAP_PERCENT_MAX}]},
        )
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("invalid_request", _("Say why the cap changes."), details={"reason": [_("Required.")]})
    if customer.mode != Customer.Mode.POSTPAID:
        raise ServiceError(
            "invalid_request", _("%(customer)s is prepaid; it has no cap.") % {"customer": customer.slug}
        )
    now = timezone.now()
    with transaction.atomic():
        guarantee = _guarantee_locked(customer, now)
        if guarantee.cap_percent != percent:
            CapChange.objects.create(
                guarantee=guarantee,
                old_percent=guarantee.cap_percent,
                new_percent=percent,
                reason=reason[:300],
                changed_by=changed_by,
                created_at=now,
            )
            guarantee.cap_percent = percent
            guarantee.save(update_fields=["cap_percent"])
    return guarantee


# --- The month's usage and the cap (R-POST-2) ------------------------------------


@dataclass(frozen=True)
class Counted:
    """What a postpaid send is priced at while the month runs."""

    tier: int
    unit_price: int


def usage_lock(*, customer: Customer, now: datetime) -> MonthlyUsage:
    """The month's counter row for ``now``, created if needed and locked
    (call inside the charging transaction)."""
    month = month_of(now)
    MonthlyUsage.objects.bulk_create([MonthlyUsage(customer=customer, month=month)], ignore_conflicts=True)
    return MonthlyUsage.objects.select_for_update().get(customer=customer, month=month)


def usage_add(
    *,
    usage: MonthlyUsage,
    customer: Customer,
    channel: str,
    operator: str,
    units: int,
    now: datetime,
    table: PriceTable,
) -> Counted:
    """Add one send to the locked month counter, or refuse it.

    Refused with ``guarantee_required`` when no guarantee was ever held at
    the minimum or none is left (R-POST-1), and with ``quota_exceeded`` when
    the month, this send included and valued at the tier it reaches, would
    be worth more than the cap (R-POST-2). A send that reaches the cap
    exactly is allowed. The owner and billing contact are told once a month
    when usage passes ``POSTPAID_CAP_WARN_PERCENT`` of the cap.
    """
    month = usage.month
    guarantee = Guarantee.objects.filter(customer=customer).only("held", "cap_percent", "activated_at").first()
    if guarantee is None or guarantee.activated_at is None or guarantee.held <= 0:
        raise ServiceError(
            "guarantee_required",
            _("Postpaid sending needs a guarantee deposit; none is held."),
            details={"guarantee": guarantee.held if guarantee else 0},
        )
    key = route_key(channel, operator)
    by_route = dict(usage.units_by_route)
    by_route[key] = int(by_route.get(key, 0)) + units
    total_units = usage.units + units
    tier = table.postpaid_tier(total_units)
    value = month_value(table, by_route, tier)
    cap = guarantee.cap
    if value > cap:
        used = month_value(table, usage.units_by_route, table.postpaid_tier(usage.units)) if usage.units else 0
        raise ServiceError(
            "quota_exceeded",
            _("This month's usage would pass its cap of %(cap)s.") % {"cap": format_rupiah(cap)},
            details={"cap": cap, "used": used, "price": value - used},
        )
    usage.units = total_units
    usage.units_by_route = by_route
    fields = ["units", "units_by_route"]
    if usage.warned_80_at is None and value * 100 >= cap * settings.POSTPAID_CAP_WARN_PERCENT:
        usage.warned_80_at = now
        fields.append("warned_80_at")
        customer_id, percent = customer.pk, settings.POSTPAID_CAP_WARN_PERCENT
        transaction.on_commit(lambda: notifications.cap_warning(customer_id, month.isoformat(), value, cap, percent))
    usage.save(update_fields=fields)
    return Counted(tier=tier, unit_price=table.unit_price(tier, channel, operator))


def usage_uncount(*, customer_id: int, channel: str, operator: str, units: int, charged_at: datetime) -> None:
    """Take a reversed send back out of its month's counter."""
    usage = MonthlyUsage.objects.select_for_update().filter(customer_id=customer_id, month=month_of(charged_at)).first()
    if usage is None:
        return
    key = route_key(channel, operator)
    by_route = dict(usage.units_by_route)
    by_route[key] = max(0, int(by_route.get(key, 0)) - units)
    usage.units_by_route = by_route
    usage.units = max(0, usage.units - units)
    usage.save(update_fields=["units", "units_by_route"])
