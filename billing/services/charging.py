"""Quote, charge and reverse: what other apps call to bill a send.

Concurrency (architecture "Money"): a prepaid charge locks the customer's
usable lots with ``SELECT … FOR UPDATE`` in one fixed order (expiry, id), so
concurrent sends queue on the same rows and the balance never goes below
zero (R-PRE-3); a postpaid charge locks the customer's month counter row
(R-POST-2). Every charge carries a unique reference; a second call with the
same reference returns the first charge and draws nothing, also when both
calls race (the reference is looked up again once the locks are held, and a
unique-violation left over is answered with the winner).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Customer
from billing import notifications
from billing.models import BillingAccount, Channel, Charge, DepositLot, LedgerEntry, MonthlyUsage
from billing.pricing import jakarta_date, table_in_force
from billing.services.postpaid import usage_add, usage_lock, usage_uncount
from billing.templatetags.money import format_rupiah
from billing.usage import month_of
from otpportal.errors import ServiceError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Quote:
    tier: int
    unit_price: int
    units: int
    price: int


def _validate(channel: str, operator: str, units: int) -> None:
    if channel not in Channel.values:
        raise ServiceError(
            "invalid_request",
            _("Unknown channel '%(channel)s'.") % {"channel": channel},
            details={"channel": [_("Unknown.")]},
        )
    if channel == Channel.SMS and not operator:
        raise ServiceError("invalid_phone_number", _("SMS needs a known destination operator (R-OP-3)."))
    if not isinstance(units, int) or units < 1:
        raise ServiceError("invalid_request", _("Units must be a positive whole number."))


def _usable_lots(customer: Customer, now: datetime):  # type: ignore[no-untyped-def]
    return DepositLot.objects.filter(
        customer=customer, remaining__gt=0, expires_at__gt=now, closed_at__isnull=True
    ).order_by("expires_at", "id")


def quote(*, customer: Customer, channel: str, operator: str, units: int, now: datetime | None = None) -> Quote:
    """What a send would cost now. Prepaid: at the tier of the lot it would
    draw first (R-PRE-2), tier 1 when there is none; postpaid: at the tier the
    month's usage has reached (R-POST-2)."""
    _validate(channel, operator, units)
    now = now or timezone.now()
    table = table_in_force(jakarta_date(now))
    if customer.mode == Customer.Mode.POSTPAID:
        usage = MonthlyUsage.objects.filter(customer=customer, month=month_of(now)).only("units").first()
        tier = table.postpaid_tier((usage.units if usage else 0) + units)
    else:
        first = _usable_lots(customer, now).only("tier").first()
        tier = first.tier if first else 1
    unit_price = table.unit_price(tier, channel, operator)
    return Quote(tier=tier, unit_price=unit_price, units=units, price=unit_price * units)


def charge(
    *,
    customer: Customer,
    channel: str,
    operator: str,
    units: int,
    reference: str,
    new_reference: bool = False,
    phone: str = "",
    now: datetime | None = None,
) -> Charge:
    """Bill one send, or refuse with ``insufficient_balance`` (R-PRE-3).

    Call it inside the transaction that writes the message row, so there is
    never a charge without a message or a message without a charge.

    ``new_reference``: the caller made the reference just now (a new
    message's id), so no earlier charge can hold it. The idempotency read
    and the savepoint that catches a lost race are skipped (issue 11: two
    round trips less on the send path); a duplicate would still be refused
    by the unique index, failing the caller's transaction as a whole.
    """
    _validate(channel, operator, units)
    if not reference or len(reference) > 100:
        raise ServiceError("invalid_request", _("A charge needs a reference of at most 100 characters."))
    now = now or timezone.now()
    send = _Send(customer, channel, operator, units, reference, phone, now, fresh=new_reference)
    if new_reference and transaction.get_connection().in_atomic_block:
        if customer.mode == Customer.Mode.POSTPAID:
            return _charge_postpaid(send)
        return _charge_prepaid(send)
    try:
        with transaction.atomic():
            if customer.mode == Customer.Mode.POSTPAID:
                return _charge_postpaid(send)
            return _charge_prepaid(send)
    except IntegrityError:
        # Review 8.5: a concurrent call with the same reference won the unique
        # index (it can only get here when the two did not share a lock, e.g.
        # another customer's reference). Answer with the winner, never a 500.
        existing = _existing(reference, customer)
        if existing is None:
            raise
        return existing


def _existing(reference: str, customer: Customer) -> Charge | None:
    """The charge already recorded under ``reference`` (idempotency)."""
    existing = Charge.objects.filter(reference=reference).first()
    if existing is not None and existing.customer_id != customer.pk:
        raise ServiceError("invalid_request", _("That reference belongs to another charge."))
    return existing


@dataclass(frozen=True)
class _Send:
    """The facts of one billed send, as the caller gave them."""

    customer: Customer
    channel: str
    operator: str
    units: int
    reference: str
    phone: str
    now: datetime
    fresh: bool = False  # a reference made just now: no earlier charge can hold it


def balance_empty() -> ServiceError:
    """R-PRE-3: the refusal of a send by a customer with no usable lot."""
    return ServiceError(
        "insufficient_balance", _("Your deposit balance is empty. Top up to send."), details={"balance": 0}
    )


def balance_short(balance: int, amount: int) -> ServiceError:
    """R-PRE-3: the refusal of a send the usable balance cannot cover."""
    return ServiceError(
        "insufficient_balance",
        _("Your balance of %(balance)s cannot cover %(price)s.")
        % {"balance": format_rupiah(balance), "price": format_rupiah(amount)},
        details={"balance": balance, "price": amount},
    )


def _charge_prepaid(send: _Send) -> Charge:
    customer, channel, operator, units, now = send.customer, send.channel, send.operator, send.units, send.now
    lots = list(_usable_lots(customer, now).select_for_update())
    winner = None if send.fresh else _existing(send.reference, customer)  # idempotency, under the locks (8.5)
    if winner is not None:
        return winner
    balance = sum(lot.remaining for lot in lots)
    if not lots:
        raise balance_empty()
    table = table_in_force(jakarta_date(now))
    tier = lots[0].tier  # R-PRE-2: priced at the tier of the lot drawn first
    unit_price = table.unit_price(tier, channel, operator)
    amount = unit_price * units
    if balance < amount:
        raise balance_short(balance, amount)
    charge_row = _charge_row(send, Charge.Mode.PREPAID, tier, unit_price, table.price_list_id)
    draw_lots(
        lots,
        amount,
        kind=LedgerEntry.Kind.CHARGE,
        reference=f"charge:{send.reference}",
        memo=f"{channel} {operator} ×{units}".strip(),
        now=now,
        charge=charge_row,
    )
    _after_balance_change(customer, before=balance, after=balance - amount)
    return charge_row


def draw_lots(
    lots: list[DepositLot],
    amount: int,
    *,
    kind: str,
    reference: str,
    memo: str,
    now: datetime,
    charge: Charge | None = None,
) -> list[LedgerEntry]:
    """Take ``amount`` from locked lots in draw order (R-PRE-2: the lot that
    expires first, then the next), one ledger entry per lot touched
    (reference ``<reference>:<lot id>``). The caller checked the balance."""
    entries = []
    left = amount
    for lot in lots:
        if left == 0:
            break
        take = min(lot.remaining, left)
        if take <= 0:
            continue
        left -= take
        DepositLot.objects.filter(pk=lot.pk).update(remaining=F("remaining") - take)
        entries.append(
            LedgerEntry(
                customer_id=lot.customer_id,
                kind=kind,
                amount=-take,
                lot=lot,
                charge=charge,
                reference=f"{reference}:{lot.pk}",
                memo=memo[:200],
                created_at=now,
            )
        )
    return LedgerEntry.objects.bulk_create(entries)


def _charge_postpaid(send: _Send) -> Charge:
    """Postpaid usage row, counted against the month's cap (R-POST-1,
    R-POST-2) and valued at the tier reached so far this month. The month is
    invoiced at the tier its total reaches (R-POST-3)."""
    table = table_in_force(jakarta_date(send.now))
    usage = usage_lock(customer=send.customer, now=send.now)
    winner = None if send.fresh else _existing(send.reference, send.customer)  # idempotency, under the lock (8.5)
    if winner is not None:
        return winner
    counted = usage_add(
        usage=usage,
        customer=send.customer,
        channel=send.channel,
        operator=send.operator,
        units=send.units,
        now=send.now,
        table=table,
    )
    return _charge_row(send, Charge.Mode.POSTPAID, counted.tier, counted.unit_price, table.price_list_id)


def _charge_row(send: _Send, mode: str, tier: int, unit_price: int, price_list_id: int) -> Charge:
    """The usage row both modes write; its reference is unique (idempotency)."""
    return Charge.objects.create(
        customer=send.customer,
        reference=send.reference,
        mode=mode,
        channel=send.channel,
        operator=send.operator,
        phone=send.phone,
        units=send.units,
        tier=tier,
        unit_price=unit_price,
        amount=unit_price * send.units,
        price_list_id=price_list_id,
        created_at=send.now,
    )


def reverse(*, charge: Charge, reason: str, now: datetime | None = None) -> Charge:
    """Give a charge back (R-PRE-4: the provider refused the message).

    The money returns to the lots it came from. If such a lot has expired or
    was forfeited meanwhile, the returned money is forfeited with it at once
    (R-PRE-5): a reversal never revives dead money. Idempotent.
    """
    now = now or timezone.now()
    with transaction.atomic():
        row = Charge.objects.select_for_update().get(pk=charge.pk)
        if row.reversed_at is not None:
            return row
        row.reversed_at = now
        row.reversal_reason = reason[:200]
        row.save(update_fields=["reversed_at", "reversal_reason"])
        if row.mode == Charge.Mode.POSTPAID:
            usage_uncount(
                customer_id=row.customer_id,
                channel=row.channel,
                operator=row.operator,
                units=row.units,
                charged_at=row.created_at,
            )
        if row.mode == Charge.Mode.PREPAID:
            drawn = list(
                LedgerEntry.objects.filter(charge=row, kind=LedgerEntry.Kind.CHARGE).order_by(
                    "lot__expires_at", "lot_id"
                )
            )
            lots = {
                lot.pk: lot
                for lot in DepositLot.objects.select_for_update()
                .filter(pk__in=[e.lot_id for e in drawn])
                .order_by("expires_at", "id")
            }
            before = sum(lot.remaining for lot in _usable_lots(row.customer, now))
            entries = []
            for entry in drawn:
                lot = lots[entry.lot_id]
                back = -entry.amount
                entries.append(
                    LedgerEntry(
                        customer_id=row.customer_id,
                        kind=LedgerEntry.Kind.REVERSAL,
                        amount=back,
                        lot=lot,
                        charge=row,
                        reference=f"reversal:{row.reference}:{lot.pk}",
                        memo=reason[:200],
                        created_at=now,
                    )
                )
                if lot.closed_at is None and lot.expires_at > now:
                    DepositLot.objects.filter(pk=lot.pk).update(remaining=F("remaining") + back)
                else:
                    entries.append(
                        LedgerEntry(
                            customer_id=row.customer_id,
                            kind=LedgerEntry.Kind.FORFEITURE,
                            amount=-back,
                            lot=lot,
                            charge=row,
                            reference=f"reversal-forfeit:{row.reference}:{lot.pk}",
                            memo="Reversed into a lot that had already expired (R-PRE-5).",
                            created_at=now,
                        )
                    )
            LedgerEntry.objects.bulk_create(entries)
            after = sum(lot.remaining for lot in _usable_lots(row.customer, now))
            _after_balance_change(row.customer, before=before, after=after)
        return row


def _after_balance_change(customer: Customer, *, before: int, after: int) -> None:
    """Low-balance alert once per crossing of the customer's threshold."""
    account = (
        BillingAccount.objects.filter(customer=customer)
        .only("id", "low_balance_threshold", "low_balance_notified")
        .first()
    )
    if account is None or account.low_balance_threshold <= 0:
        return
    threshold = account.low_balance_threshold
    if after < threshold <= before and not account.low_balance_notified:
        updated = BillingAccount.objects.filter(pk=account.pk, low_balance_notified=False).update(
            low_balance_notified=True
        )
        if updated:
            transaction.on_commit(lambda: notifications.low_balance(customer.pk, after, threshold))
    elif after >= threshold and account.low_balance_notified:
        BillingAccount.objects.filter(pk=account.pk).update(low_balance_notified=False)
