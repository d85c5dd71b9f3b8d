"""R-PRE-3 under load: 64 concurrent charges against a balance that pays for
exactly N of them (PostgreSQL row locks)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from billing import selectors, services
from billing.models import Charge, LedgerEntry
from otpportal.errors import ServiceError
from tests.factories import CustomerFactory
from tests.helpers import race, refusals

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_price_list"),
]


def _fire(customer_id: int, count: int, reference_prefix: str, units: int = 1) -> tuple[int, int, list[str]]:
    from accounts.models import Customer

    def one(i: int) -> None:
        services.charge(
            customer=Customer.objects.get(pk=customer_id),
            channel="sms",
            operator="telkomsel",
            units=units,
            reference=f"{reference_prefix}-{i}",
            phone="+6281234567890",
        )

    _charged, raised = race(count, one)
    codes = refusals(raised)
    return count - len(raised), codes.count("insufficient_balance"), [c for c in codes if c != "insufficient_balance"]


def test_64_concurrent_charges_exactly_n_succeed_and_the_balance_ends_at_zero() -> None:
    assert connection.vendor == "postgresql"
    customer = CustomerFactory()
    n = 23
    services.lot_create(customer=customer, amount=650 * n, reference="bank-1")  # tier 1: 650 per SMS
    ok, refused, errors = _fire(customer.pk, 64, "c")
    assert errors == []
    assert (ok, refused) == (n, 64 - n)
    assert selectors.balance(customer=customer) == 0
    assert Charge.objects.filter(customer=customer).count() == n
    assert services.reconcile() == []


def test_concurrent_charges_across_several_lots_never_overdraw() -> None:
    customer = CustomerFactory()
    for i, amount in enumerate([1_000, 1_950, 3_000]):  # 5950 = 9 × 650 + 100
        services.lot_create(customer=customer, amount=amount, reference=f"bank-{i}")
    ok, refused, errors = _fire(customer.pk, 64, "s")
    assert errors == []
    assert ok == 9 and refused == 55
    assert selectors.balance(customer=customer) == 100
    assert services.reconcile() == []


def test_the_same_reference_fired_concurrently_charges_once() -> None:
    """Review 8.5: the service itself answers every racer with the winning
    charge; no caller sees an IntegrityError (no retry here)."""
    customer = CustomerFactory()
    services.lot_create(customer=customer, amount=100_000, reference="bank-1")
    barrier = threading.Barrier(16)
    results: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()

    def one(_: int) -> None:
        from accounts.models import Customer

        try:
            c = Customer.objects.get(pk=customer.pk)
            barrier.wait(timeout=30)
            charge = services.charge(customer=c, channel="sms", operator="telkomsel", units=1, reference="msg_same")
            with lock:
                results.append(charge.pk)
        except Exception as exc:  # noqa: BLE001 - an IntegrityError here is the defect
            with lock:
                errors.append(repr(exc))
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(one, range(16)))
    assert errors == []
    assert len(results) == 16 and len(set(results)) == 1
    assert selectors.balance(customer=customer) == 100_000 - 650
    assert LedgerEntry.objects.filter(kind="charge").count() == 1


def test_the_same_reference_for_two_customers_is_refused_not_a_500() -> None:
    """Review 8.5: racing on one reference from two customers (no shared
    lock): one wins, the other gets a clean refusal."""
    a, b = CustomerFactory(), CustomerFactory()
    services.lot_create(customer=a, amount=100_000, reference="bank-a")
    services.lot_create(customer=b, amount=100_000, reference="bank-b")
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        from accounts.models import Customer

        try:
            c = Customer.objects.get(pk=(a if i % 2 else b).pk)
            barrier.wait(timeout=30)
            services.charge(customer=c, channel="sms", operator="telkomsel", units=1, reference="msg_shared")
            outcome = "ok"
        except ServiceError as exc:
            outcome = exc.code
        except Exception as exc:  # noqa: BLE001
            outcome = repr(exc)
        finally:
            connections.close_all()
        with lock:
            outcomes.append(outcome)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, range(8)))
    assert sorted(set(outcomes)) == ["invalid_request", "ok"]
    assert outcomes.count("ok") == 4
    assert LedgerEntry.objects.filter(kind="charge").count() == 1


def test_concurrent_reversals_give_the_money_back_once() -> None:
    customer = CustomerFactory()
    services.lot_create(customer=customer, amount=10_000, reference="bank-1")
    charge = services.charge(customer=customer, channel="sms", operator="telkomsel", units=1, reference="m")
    barrier = threading.Barrier(8)

    def one(_: int) -> None:
        try:
            barrier.wait(timeout=30)
            services.reverse(charge=charge, reason="refused")
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, range(8)))
    assert selectors.balance(customer=customer) == 10_000
    assert LedgerEntry.objects.filter(kind="reversal").count() == 1
    assert services.reconcile() == []
