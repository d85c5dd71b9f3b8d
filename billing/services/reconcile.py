"""Proof that the ledger and the balances agree (architecture "Money"): the
deposit book against the lots (R-PRE), the guarantee book against each
postpaid customer's guarantee held (R-POST-1)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from django.db import transaction
from django.db.models import Sum

from billing import notifications
from billing.models import DepositLot, Guarantee, LedgerEntry, Reconciliation

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mismatch:
    customer_id: int
    customer_slug: str
    ledger_total: int
    lots_total: int  # the balance the projection shows: lots, or the guarantee held
    bad_lots: tuple[int, ...]
    book: str = "deposit"


def reconcile() -> list[Mismatch]:
    """Every customer: sum(deposit book) == sum(lot.remaining), each lot's
    remaining == the sum of its own entries, and sum(guarantee book) ==
    the guarantee held. A few aggregate queries."""
    ledger_by_customer = dict(
        LedgerEntry.objects.filter(book=LedgerEntry.Book.DEPOSIT)
        .values("customer_id")
        .annotate(total=Sum("amount"))
        .values_list("customer_id", "total")
    )
    ledger_by_lot = dict(
        LedgerEntry.objects.filter(lot__isnull=False)
        .values("lot_id")
        .annotate(total=Sum("amount"))
        .values_list("lot_id", "total")
    )
    lots_by_customer: dict[int, int] = {}
    bad: dict[int, list[int]] = {}
    slugs: dict[int, str] = {}
    for lot_id, customer_id, slug, remaining in DepositLot.objects.values_list(
        "id", "customer_id", "customer__slug", "remaining"
    ):
        slugs[customer_id] = slug
        lots_by_customer[customer_id] = lots_by_customer.get(customer_id, 0) + remaining
        if ledger_by_lot.get(lot_id, 0) != remaining:
            bad.setdefault(customer_id, []).append(lot_id)
    mismatches = []
    for customer_id in sorted(set(ledger_by_customer) | set(lots_by_customer)):
        ledger_total = int(ledger_by_customer.get(customer_id) or 0)
        lots_total = lots_by_customer.get(customer_id, 0)
        if ledger_total != lots_total or customer_id in bad:
            if customer_id not in slugs:
                from accounts.models import Customer

                slugs[customer_id] = Customer.objects.get(pk=customer_id).slug
            mismatches.append(
                Mismatch(customer_id, slugs[customer_id], ledger_total, lots_total, tuple(bad.get(customer_id, [])))
            )
    return mismatches + _guarantee_mismatches()


def _guarantee_mismatches() -> list[Mismatch]:
    ledger = dict(
        LedgerEntry.objects.filter(book=LedgerEntry.Book.GUARANTEE)
        .values("customer_id")
        .annotate(total=Sum("amount"))
        .values_list("customer_id", "total")
    )
    held = {c: (slug, h) for c, slug, h in Guarantee.objects.values_list("customer_id", "customer__slug", "held")}
    mismatches = []
    for customer_id in sorted(set(ledger) | set(held)):
        ledger_total = int(ledger.get(customer_id) or 0)
        slug, balance = held.get(customer_id, (None, 0))
        if ledger_total != balance:
            if slug is None:
                from accounts.models import Customer

                slug = Customer.objects.get(pk=customer_id).slug
            mismatches.append(Mismatch(customer_id, slug, ledger_total, balance, (), book=LedgerEntry.Book.GUARANTEE))
    return mismatches


def ledger_reconcile() -> dict[str, int]:
    """The daily proof (beat, 00:30 WIB, after the daily run; Review 8.6):
    run ``reconcile``, keep its result (a ``Reconciliation`` row, which the
    back office shows) and, when any customer's ledger and lots disagree,
    email staff (``ADMINS``) listing each mismatch."""
    mismatches = reconcile()
    rows = [asdict(m) for m in mismatches]
    Reconciliation.objects.create(mismatch_count=len(mismatches), mismatches=rows)
    if mismatches:
        logger.error("reconcile: %d customer(s) do not reconcile: %s", len(mismatches), mismatches)
        transaction.on_commit(lambda: notifications.reconcile_mismatches(rows))
    return {"mismatches": len(mismatches)}
