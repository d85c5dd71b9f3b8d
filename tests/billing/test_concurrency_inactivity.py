"""R-PRE-6 forfeiture against sends and top-ups that commit while the daily
run is deciding (Review 8.1, PostgreSQL row locks): the deadline is read
again under the lots' lock, in the transaction that forfeits."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, connections, transaction
from django.utils import timezone

from billing import selectors, services
from billing.models import LedgerEntry
from billing.pricing import jakarta_date
from billing.services import daily
from tests.factories import CustomerFactory
from tests.helpers import wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_price_list"),
]
WIB = ZoneInfo("Asia/Jakarta")
LOT_DAY = datetime(2026, 1, 10, 10, 0, tzinfo=WIB)
DEADLINE_RUN = datetime(2026, 7, 10, 0, 10, tzinfo=WIB)  # 6 months after the only top-up, no send


def forfeitures() -> int:
    return LedgerEntry.objects.filter(kind=LedgerEntry.Kind.FORFEITURE).count()


def test_review_8_1_a_send_committed_after_the_deadline_was_computed_saves_the_balance() -> None:
    customer = CustomerFactory()
    with time_machine.travel(LOT_DAY):
        services.lot_create(customer=customer, amount=100_000, reference="bca-1")
    with time_machine.travel(DEADLINE_RUN):
        now = timezone.now()
        today = jakarta_date(now)
        [due] = daily.inactivity_deadlines()
        assert due.deadline == today  # computed: forfeit today
        services.charge(customer=customer, channel="sms", operator="telkomsel", units=1, reference="just-in-time")
        assert daily._inactivity_forfeit(due, today=today, now=now) == 0
    assert forfeitures() == 0
    assert selectors.balance(customer=customer, now=DEADLINE_RUN) == 100_000 - 650
    assert services.reconcile() == []


def test_review_8_1_a_top_up_committed_after_the_deadline_was_computed_saves_the_balance() -> None:
    customer = CustomerFactory()
    with time_machine.travel(LOT_DAY):
        services.lot_create(customer=customer, amount=100_000, reference="bca-1")
    with time_machine.travel(DEADLINE_RUN):
        now = timezone.now()
        [due] = daily.inactivity_deadlines()
        services.lot_create(customer=customer, amount=50_000, reference="bca-2")
        assert daily._inactivity_forfeit(due, today=jakarta_date(now), now=now) == 0
    assert forfeitures() == 0
    assert selectors.balance(customer=customer, now=DEADLINE_RUN) == 150_000


def _backends_waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def test_review_8_1_a_send_holding_the_lots_while_the_run_waits_for_them_saves_the_balance() -> None:
    """The run computes the deadline (the send is not committed yet), then
    waits for the lots the send holds; the send commits; the run must see it."""
    customer = CustomerFactory()
    with time_machine.travel(LOT_DAY):
        services.lot_create(customer=customer, amount=100_000, reference="bca-1")
    holding = threading.Event()
    release = threading.Event()

    def send() -> None:
        try:
            with transaction.atomic():
                services.charge(customer=customer, channel="sms", operator="telkomsel", units=1, reference="at-00:10")
                holding.set()
                assert release.wait(timeout=30)
        finally:
            connections.close_all()

    def run() -> dict[str, int]:
        try:
            return services.daily_run()
        finally:
            connections.close_all()

    with time_machine.travel(DEADLINE_RUN), ThreadPoolExecutor(max_workers=2) as pool:
        sending = pool.submit(send)
        assert holding.wait(timeout=30)
        running = pool.submit(run)
        try:
            wait_for(lambda: _backends_waiting_for_a_lock() >= 1)  # the run is blocked on the lots
        finally:
            release.set()
        sending.result(timeout=30)
        summary = running.result(timeout=30)
    assert summary["inactivity_forfeitures"] == 0
    assert forfeitures() == 0
    assert selectors.balance(customer=customer, now=DEADLINE_RUN) == 100_000 - 650
    assert services.reconcile() == []
