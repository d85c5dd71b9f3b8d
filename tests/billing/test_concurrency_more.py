"""More money paths under concurrency (PostgreSQL): approving one top-up
request twice at once, the same bank reference at once, and forfeiture
racing sends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from billing import selectors, services
from billing.models import DepositLot, LedgerEntry, TopUpRequest
from tests import helpers
from tests.factories import CustomerFactory, UserFactory
from tests.helpers import tiny_png

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_price_list"),
]
WIB = ZoneInfo("Asia/Jakarta")


def race(count: int, work: Callable[[int], object]) -> tuple[list[object], list[str]]:
    results, raised = helpers.race(count, work)
    return results, helpers.refusals(raised)


def test_one_top_up_request_approved_twice_at_once_makes_one_lot() -> None:
    customer = CustomerFactory()
    staff = UserFactory(is_staff=True)
    request = services.topup_request_create(
        customer=customer,
        requested_by=staff,
        amount=500_000,
        proof=SimpleUploadedFile("proof.png", tiny_png(), content_type="image/png"),  # a real image: proofs are read
    )
    results, errors = race(8, lambda _: services.topup_request_approve(request=request, reviewed_by=staff))
    assert len(results) == 1 and errors == ["invalid_request"] * 7
    assert DepositLot.objects.filter(customer=customer).count() == 1
    assert TopUpRequest.objects.get(pk=request.pk).status == "approved"
    assert selectors.balance(customer=customer) == 500_000


def test_the_same_bank_transfer_recorded_at_once_makes_one_lot() -> None:
    customer = CustomerFactory()
    results, errors = race(8, lambda _: services.lot_create(customer=customer, amount=100_000, reference="BCA-7"))
    assert len(results) == 1 and errors == ["invalid_request"] * 7
    assert selectors.balance(customer=customer) == 100_000
    assert services.reconcile() == []


def test_expiry_racing_sends_never_overdraws_or_double_counts(settings) -> None:  # type: ignore[no-untyped-def]
    settings.DEPOSIT_VALIDITY_DAYS = 1
    settings.INACTIVITY_FORFEIT_MONTHS = 24
    customer = CustomerFactory()
    with time_machine.travel(datetime(2026, 5, 1, 10, 0, tzinfo=WIB)):
        services.lot_create(customer=customer, amount=6_500, reference="a")  # expires 2026-05-02 00:00 WIB
        services.lot_create(customer=customer, amount=0 + 1_300, reference="b")  # same expiry
    with time_machine.travel(datetime(2026, 5, 2, 0, 0, 5, tzinfo=WIB)):

        def work(i: int) -> object:
            if i % 4 == 0:
                return services.daily_run()
            return services.charge(
                customer=customer, channel="sms", operator="telkomsel", units=1, reference=f"late-{i}"
            )

        results, errors = race(16, work)
    assert set(errors) <= {"insufficient_balance"}
    assert LedgerEntry.objects.filter(kind="charge").count() == 0  # expired: nothing drawn
    assert LedgerEntry.objects.filter(kind="forfeiture").count() == 2  # each lot forfeited once
    assert selectors.balance(customer=customer) == 0
    assert services.reconcile() == []


def test_inactivity_forfeiture_racing_sends_keeps_the_books_straight(settings) -> None:  # type: ignore[no-untyped-def]
    customer = CustomerFactory()
    with time_machine.travel(datetime(2026, 1, 10, 10, 0, tzinfo=WIB)):
        services.lot_create(customer=customer, amount=6_500, reference="a")
        services.lot_create(customer=customer, amount=600_000, reference="b")
    with time_machine.travel(datetime(2026, 7, 10, 0, 10, tzinfo=WIB)):  # the R-PRE-6 deadline

        def work(i: int) -> object:
            if i % 4 == 0:
                return services.daily_run()
            return services.charge(
                customer=customer, channel="sms", operator="telkomsel", units=1, reference=f"race-{i}"
            )

        results, errors = race(16, work)
    assert set(errors) <= {"insufficient_balance"}
    charged = -sum(LedgerEntry.objects.filter(kind="charge").values_list("amount", flat=True))
    forfeited = -sum(LedgerEntry.objects.filter(kind="forfeiture").values_list("amount", flat=True))
    left = selectors.balance(customer=customer)
    assert charged + forfeited + left == 606_500  # every rupiah went exactly one way
    assert DepositLot.objects.filter(remaining__lt=0).count() == 0
    assert services.reconcile() == []
