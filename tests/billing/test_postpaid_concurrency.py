"""Postpaid money under concurrency (PostgreSQL): the cap is never passed
(R-POST-2), invoice numbers stay gapless when issuers race or roll back
(R-POST-8), close_month racing itself invoices each customer once, and
payments racing on one invoice never pay more than it owes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction

from accounts.models import Customer
from billing import selectors, services
from billing.models import Charge, Invoice, MonthlyUsage, NumberSeries
from billing.services.invoicing import number_allocate
from tests import helpers
from tests.factories import CustomerFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_price_list"),
]
WIB = ZoneInfo("Asia/Jakarta")


def race(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released together; results, refusals' codes, reprs."""
    results, raised = helpers.race(count, work)
    return results + helpers.refusals(raised)


def test_64_concurrent_sends_at_the_cap_edge_never_pass_it(settings) -> None:  # type: ignore[no-untyped-def]
    settings.POSTPAID_GUARANTEE_MIN = 6_500
    customer = CustomerFactory(slug="edge", mode=Customer.Mode.POSTPAID)
    services.guarantee_deposit(customer=customer, amount=6_500, reference="G")  # cap 13.000 = 20 SMS at 650

    def send(i: int) -> str:
        c = Customer.objects.get(pk=customer.pk)
        services.charge(customer=c, channel="sms", operator="telkomsel", units=1, reference=f"m{i}")
        return "ok"

    results = race(64, send)
    assert sorted(set(results)) == ["ok", "quota_exceeded"], results
    assert results.count("ok") == 20
    usage = MonthlyUsage.objects.get(customer=customer)
    assert usage.units == 20 == Charge.objects.filter(customer=customer).count()
    assert selectors.postpaid_position(customer=customer).month.amount == 13_000


def test_gapless_numbers_when_issuers_race_and_some_roll_back() -> None:
    def allocate(i: int) -> str | None:
        try:
            with transaction.atomic():
                number = number_allocate(series="INV", year=2026)
                if i % 4 == 0:
                    raise RuntimeError("the issue failed after taking a number")
                return number
        except RuntimeError:
            return None

    results = race(32, allocate)
    numbers = sorted(r for r in results if r)
    assert len(numbers) == 24
    assert numbers == [f"INV/2026/{n:06d}" for n in range(1, 25)]
    assert NumberSeries.objects.get(series="INV", year=2026).last == 24


def test_close_month_racing_itself_invoices_each_customer_once_with_gapless_numbers() -> None:
    customers = []
    for n in range(6):
        c = CustomerFactory(slug=f"racer-{n}", mode=Customer.Mode.POSTPAID)
        services.guarantee_deposit(customer=c, amount=10_000_000, reference=f"G{n}")
        with time_machine.travel(datetime(2026, 10, 5, 9, 0, tzinfo=WIB)):
            services.charge(customer=c, channel="sms", operator="telkomsel", units=n + 1, reference=f"m{n}")
        customers.append(c)

    def close(_: int) -> int:
        with time_machine.travel(datetime(2026, 11, 1, 0, 5, tzinfo=WIB)):
            return services.month_close().issued

    issued = race(4, close)
    assert sum(issued) == 6, issued
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"INV/2026/{n:06d}" for n in range(1, 7)]
    assert Invoice.objects.values("customer").distinct().count() == 6


def test_payments_racing_on_one_invoice_never_pay_more_than_owed() -> None:
    c = CustomerFactory(slug="payer", mode=Customer.Mode.POSTPAID)
    services.guarantee_deposit(customer=c, amount=10_000_000, reference="G")
    with time_machine.travel(datetime(2026, 10, 5, 9, 0, tzinfo=WIB)):
        services.charge(customer=c, channel="sms", operator="telkomsel", units=1_000, reference="m")
    with time_machine.travel(datetime(2026, 11, 1, 0, 5, tzinfo=WIB)):
        services.month_close()
    invoice = Invoice.objects.get()
    part = invoice.total // 4 + 1  # four such payments would pay more than the total

    def pay(i: int) -> str:
        services.payment_record(invoice=Invoice(pk=invoice.pk), amount=part, reference=f"BCA-{i}")
        return "ok"

    results = race(8, pay)
    invoice.refresh_from_db()
    assert results.count("ok") == 3 and set(results) == {"ok", "payment_too_large"}
    assert invoice.paid_amount == 3 * part <= invoice.total
