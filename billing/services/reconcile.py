"""Proof that the ledger and the lot balances agree (architecture "Money")."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Sum

from billing.models import DepositLot, LedgerEntry


@dataclass(frozen=True)
class Mismatch:
    customer_id: int
    customer_slug: str
    ledger_total: int
    lots_total: int
    bad_lots: tuple[int, ...]


def reconcile() -> list[Mismatch]:
    """Every customer: sum(ledger) == sum(lot.remaining), and each lot's
    remaining == the sum of its own entries. Two aggregate queries."""
    ledger_by_customer = dict(
        LedgerEntry.objects.values("customer_id").annotate(total=Sum("amount")).values_list("customer_id", "total")
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
    return mismatches
