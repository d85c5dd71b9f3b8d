"""Fees other apps bill through billing (architecture: senderids → billing):
sender-ID registration and reactivation fees (R-SID-6, R-SID-8) and the
monthly sender-ID shortfall (R-SID-5).

Prepaid: drawn from the deposit at once, in the lots' draw order, as
ledger entries of kind ``fee`` or ``shortfall``. Postpaid: a line on the
month's invoice (``PendingFee``). Either way once per ``reference``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Customer
from billing.models import LedgerEntry, PendingFee
from billing.services.charging import _after_balance_change, _usable_lots, draw_lots
from billing.templatetags.money import format_rupiah
from billing.usage import month_of
from otpportal.errors import ServiceError


@dataclass(frozen=True)
class FeeCharged:
    """What a fee became: drawn from the deposit (``drawn``) or put on the
    month's invoice (``invoiced``); ``amount`` is what was billed."""

    reference: str
    amount: int
    drawn: int = 0
    invoiced: int = 0
    already: bool = False


FEE_KINDS = {
    "fee": (LedgerEntry.Kind.FEE, PendingFee.Kind.FEE),
    "shortfall": (LedgerEntry.Kind.SHORTFALL, PendingFee.Kind.SHORTFALL),
}


def fee_charge(
    *,
    customer: Customer,
    amount: int,
    reference: str,
    description: str,
    kind: str = "fee",
    month: date | None = None,
    allow_partial: bool = False,
    now: datetime | None = None,
) -> FeeCharged:
    """Bill a fee once. A prepaid balance that cannot cover it is refused
    (``insufficient_balance``, nothing written) unless ``allow_partial``
    (the month-end shortfall takes what is there). ``month`` names the
    invoice month for a postpaid fee (default: the month of ``now``)."""
    if kind not in FEE_KINDS:
        raise ValueError(f"unknown fee kind {kind!r}")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ServiceError("invalid_request", _("A fee must be a positive whole number of rupiah."))
    if not reference or len(reference) > 120:
        raise ServiceError("invalid_request", _("A fee needs a reference of at most 120 characters."))
    now = now or timezone.now()
    ledger_kind, pending_kind = FEE_KINDS[kind]
    try:
        with transaction.atomic():
            if customer.mode == Customer.Mode.POSTPAID:
                if PendingFee.objects.filter(reference=reference).exists():
                    return FeeCharged(reference, amount, already=True)
                PendingFee.objects.create(
                    customer=customer,
                    kind=pending_kind,
                    reference=reference,
                    description=description[:200],
                    amount=amount,
                    month=(month or month_of(now)).replace(day=1),
                    created_at=now,
                )
                return FeeCharged(reference, amount, invoiced=amount)
            lots = list(_usable_lots(customer, now).select_for_update())
            if LedgerEntry.objects.filter(reference__startswith=f"{reference}:", kind=ledger_kind).exists():
                return FeeCharged(reference, amount, already=True)
            balance = sum(lot.remaining for lot in lots)
            if balance < amount and not allow_partial:
                raise ServiceError(
                    "insufficient_balance",
                    _("Your balance of %(balance)s cannot cover the fee of %(price)s.")
                    % {"balance": format_rupiah(balance), "price": format_rupiah(amount)},
                    details={"balance": balance, "price": amount},
                )
            take = min(balance, amount)
            if take:
                draw_lots(lots, take, kind=ledger_kind, reference=reference, memo=description, now=now)
                _after_balance_change(customer, before=balance, after=balance - take)
            else:  # nothing to take: a zero entry records that the fee was billed (a rerun takes nothing)
                LedgerEntry.objects.create(
                    customer=customer,
                    kind=ledger_kind,
                    amount=0,
                    reference=f"{reference}:empty",
                    memo=f"{description} (balance empty)"[:200],
                    created_at=now,
                )
            return FeeCharged(reference, amount, drawn=take)
    except IntegrityError:  # a concurrent call billed the same reference
        return FeeCharged(reference, amount, already=True)
