"""Issue 11: a prepaid charge and the rows it pays for written by one PostgreSQL statement
(``billing.services.charge_in_one``), against the ORM path (``charging.charge``) it
stands for on the send path.

- The same lots drawn, the same charge and ledger entries, the same low-balance alert,
  for draws within a lot, across lots of different tiers, and to the last rupiah.
- Refusals word for word, and nothing written: no charge, no entry, no caller's row.
- The caller's rows written with the charge, the charged amount in their columns.
- R-PRE-3 under load: 64 concurrent sends against a balance that pays for N of them.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.models import Customer
from billing import selectors, services
from billing.models import BillingAccount, Charge, DepositLot, LedgerEntry
from messaging.models import Message, MessageStatusChange, Verification
from otpportal.errors import ServiceError
from tests.factories import CustomerFactory
from tests.helpers import race, refusals

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("shipped_price_list")]
WIB = ZoneInfo("Asia/Jakarta")
PHONE = "+6281234567890"


def _rows(customer: Customer, now: datetime, verification: bool = False) -> tuple[list, Message]:
    message = Message(
        customer=customer,
        to=PHONE,
        operator="telkomsel",
        channel="sms",
        body="***",
        charged=True,
        created_at=now,
        updated_at=now,
    )
    history = MessageStatusChange(message=message, old="", new="queued", reason="accepted", actor="api", created_at=now)
    rows = [services.ChargedRow(message, {"price": "amount"}), services.ChargedRow(history, {})]
    if verification:
        found = Verification(customer=customer, to=PHONE, channel="sms", expires_at=now, created_at=now)
        message.verification = found
        rows.insert(0, services.ChargedRow(found, {}))
    return rows, message


def in_one(customer: Customer, units: int = 1, channel: str = "sms", operator: str = "telkomsel") -> Message:
    now = datetime.now(tz=WIB)
    rows, message = _rows(customer, now)
    message.channel, message.operator = channel, operator
    services.charge_prepaid_with(
        customer=customer,
        channel=channel,
        operator=operator,
        units=units,
        reference=message.id,
        phone=PHONE,
        now=now,
        rows=rows,
    )
    return message


def by_orm(customer: Customer, reference: str, units: int = 1) -> Charge:
    return services.charge(
        customer=customer, channel="sms", operator="telkomsel", units=units, reference=reference, phone=PHONE
    )


def _state(customer: Customer) -> dict[str, object]:
    """What a charge leaves behind, without its own ids and references."""
    lots = [
        (lot.amount, lot.remaining, lot.tier) for lot in DepositLot.objects.filter(customer=customer).order_by("id")
    ]
    charges = [
        (c.mode, c.channel, c.operator, c.phone, c.units, c.tier, c.unit_price, c.amount, c.price_list_id)
        for c in Charge.objects.filter(customer=customer).order_by("id")
    ]
    lot_order = {lot.pk: i for i, lot in enumerate(DepositLot.objects.filter(customer=customer).order_by("id"))}
    entries = [
        (e.book, e.kind, e.amount, lot_order.get(e.lot_id), e.memo, e.reference.split(":")[-1] == str(e.lot_id))
        for e in LedgerEntry.objects.filter(customer=customer, kind="charge").order_by("charge_id", "lot_id")
    ]
    account = BillingAccount.objects.filter(customer=customer).values_list("low_balance_notified", flat=True).first()
    return {"lots": lots, "charges": charges, "entries": entries, "alerted": account}


def _two_customers(*amounts: int) -> tuple[Customer, Customer]:
    pair = (CustomerFactory(), CustomerFactory())
    for customer in pair:
        for day, amount in enumerate(amounts, start=1):
            with time_machine.travel(datetime(2026, 11, day, 10, tzinfo=WIB)):
                services.lot_create(customer=customer, amount=amount, reference=f"bank-{day}")
    return pair


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("amounts", "sends"),
    [
        pytest.param((100_000,), [1, 1, 3], id="within one lot"),
        pytest.param((1_000, 2_000_000), [2, 1, 1], id="across two lots of different tiers (R-PRE-2)"),
        pytest.param((650, 650, 1_300), [1, 1, 2], id="each lot to the last rupiah"),
        pytest.param((1_000, 300, 5_000_000), [3], id="one send across three lots"),
    ],
)
def test_the_statement_leaves_what_the_orm_path_leaves(amounts: tuple[int, ...], sends: list[int]) -> None:
    orm, statement = _two_customers(*amounts)
    for number, units in enumerate(sends):
        expected = by_orm(orm, f"orm-{orm.pk}-{number}", units=units)
        message = in_one(statement, units=units)
        assert message.price == expected.amount
    assert _state(statement) == _state(orm)
    assert selectors.balance(customer=statement) == selectors.balance(customer=orm)
    assert services.reconcile() == []


@pytest.mark.django_db
def test_the_callers_rows_are_written_with_the_charge() -> None:
    customer = CustomerFactory()
    services.lot_create(customer=customer, amount=100_000, reference="bank-1")
    now = datetime.now(tz=WIB)
    rows, message = _rows(customer, now, verification=True)
    amount = services.charge_prepaid_with(
        customer=customer,
        channel="sms",
        operator="telkomsel",
        units=2,
        reference=message.id,
        phone=PHONE,
        now=now,
        rows=rows,
    )
    assert amount == 1_300
    stored = Message.objects.get(pk=message.id)
    assert (stored.price, stored.charged, stored.verification_id) == (1_300, True, message.verification.id)
    assert not message._state.adding
    assert Verification.objects.filter(pk=message.verification.id, customer=customer).exists()
    assert list(stored.history.values_list("old", "new", "reason")) == [("", "queued", "accepted")]
    charge = Charge.objects.get(reference=message.id)
    assert (charge.mode, charge.units, charge.amount, charge.phone) == ("prepaid", 2, 1_300, PHONE)
    entry = LedgerEntry.objects.get(charge=charge)
    assert entry.reference == f"charge:{message.id}:{entry.lot_id}"
    assert entry.memo == "sms telkomsel ×2"


@pytest.mark.django_db
@pytest.mark.parametrize("lots", [(), (1_000,)], ids=["no lots", "not enough"])
def test_a_refusal_is_the_orm_paths_and_writes_nothing(lots: tuple[int, ...]) -> None:
    orm, statement = _two_customers(*lots)
    with pytest.raises(ServiceError) as by_orm_refusal:
        by_orm(orm, "orm-refused", units=2)
    with pytest.raises(ServiceError) as refusal:
        in_one(statement, units=2)
    assert refusal.value.code == by_orm_refusal.value.code == "insufficient_balance"
    assert str(refusal.value) == str(by_orm_refusal.value)
    assert refusal.value.details == by_orm_refusal.value.details
    assert not Charge.objects.exists()
    assert not LedgerEntry.objects.filter(kind="charge").exists()
    assert not Message.objects.exists() and not MessageStatusChange.objects.exists()
    assert [lot.remaining for lot in DepositLot.objects.filter(customer=statement)] == list(lots)


@pytest.mark.django_db
def test_bad_arguments_are_refused_as_by_the_orm_path() -> None:
    customer = CustomerFactory()
    services.lot_create(customer=customer, amount=10_000, reference="bank-1")
    with pytest.raises(ServiceError) as refusal:
        in_one(customer, operator="")  # SMS needs an operator (R-OP-3)
    assert refusal.value.code == "invalid_phone_number"
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_the_low_balance_alert_is_sent_once_per_crossing(
    eager_celery,
    mailoutbox,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    customer = CustomerFactory(billing_email="finance@toko.test")
    services.lot_create(customer=customer, amount=2_000, reference="a")
    services.low_balance_threshold_set(customer=customer, threshold=1_000)
    with django_capture_on_commit_callbacks(execute=True):
        in_one(customer)  # 2000 -> 1350: above
    assert len(mailoutbox) == 0
    with django_capture_on_commit_callbacks(execute=True):
        in_one(customer)  # 1350 -> 700: crosses
    assert len(mailoutbox) == 1
    assert BillingAccount.objects.get(customer=customer).low_balance_notified
    with django_capture_on_commit_callbacks(execute=True):
        services.lot_create(customer=customer, amount=1_000, reference="b")  # 1700: back above
        in_one(customer)  # 1050: above, the mark cleared
        assert not BillingAccount.objects.get(customer=customer).low_balance_notified
        in_one(customer)  # 400: crosses again
    assert len(mailoutbox) == 2
    assert "finance@toko.test" in mailoutbox[1].to


def _fire(customer_id: int, count: int) -> tuple[int, int, list[str]]:
    """``count`` sends at once: how many were charged, how many refused, anything else."""
    _sent, raised = race(count, lambda _: in_one(Customer.objects.get(pk=customer_id)))
    codes = refusals(raised)
    return count - len(raised), codes.count("insufficient_balance"), [c for c in codes if c != "insufficient_balance"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "amounts", [pytest.param((650 * 23,), id="one lot"), pytest.param((1_000, 1_950, 3_000), id="three lots")]
)
def test_64_concurrent_sends_never_overdraw_and_each_charge_has_its_message(amounts: tuple[int, ...]) -> None:
    """R-PRE-3: 5,950 or 14,950 rupiah pay for exactly 9 or 23 SMS at 650."""
    customer = CustomerFactory()
    for day, amount in enumerate(amounts, start=1):
        services.lot_create(customer=customer, amount=amount, reference=f"bank-{day}")
    n = sum(amounts) // 650
    ok, refused, errors = _fire(customer.pk, 64)
    assert errors == []
    assert (ok, refused) == (n, 64 - n)
    assert selectors.balance(customer=customer) == sum(amounts) - 650 * n
    charges = set(Charge.objects.filter(customer=customer).values_list("reference", flat=True))
    messages = set(Message.objects.filter(customer=customer, charged=True, price=650).values_list("id", flat=True))
    assert len(charges) == n and charges == messages
    assert MessageStatusChange.objects.filter(message__customer=customer).count() == n
    assert services.reconcile() == []


def test_the_statement_stays_within_psycopgs_cache_of_parsed_queries() -> None:
    """The send path's statement (a verification, its message, the first status) is parsed
    by psycopg once per process, not on every send: at most 4,096 characters and 50
    parameters, one per row (its JSON) and five for the send."""
    from psycopg import _queries

    from billing.services.charge_in_one import _statement

    sql, inserts = _statement(((Verification, ()), (Message, (("price", "amount"),)), (MessageStatusChange, ())))
    assert len(sql) <= _queries.MAX_CACHED_STATEMENT_LENGTH
    assert sql.count("%s") == 5 + len(inserts) <= _queries.MAX_CACHED_STATEMENT_PARAMS


@pytest.mark.django_db
def test_the_statement_is_bound_on_the_server_and_prepared(django_assert_num_queries) -> None:
    """PostgreSQL parses and plans the send's statement once per connection, not per send:
    it is prepared the first time and run from its saved plan afterwards; Django still counts
    it as one query."""
    from django.db import connection

    customer = CustomerFactory(mode=Customer.Mode.PREPAID)
    services.lot_create(customer=customer, amount=100_000, reference="t1")

    def prepared() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%jsonb_populate_record%'")
            return cursor.fetchone()[0]

    assert prepared() == 0
    with django_assert_num_queries(1):
        in_one(customer)
    assert prepared() == 1
    for _ in range(3):
        in_one(customer)
    assert prepared() == 1  # the same statement, prepared once
    assert Charge.objects.filter(customer=customer).count() == 4


@pytest.mark.django_db
def test_a_prepared_cursor_raises_djangos_errors() -> None:
    from django.db import DatabaseError

    from otpportal.rowsql import prepared_cursor

    with prepared_cursor() as cursor, pytest.raises(DatabaseError) as raised:
        cursor.execute("SELECT no_such_column FROM billing_charge WHERE id = %s", [1])
    assert type(raised.value).__module__ == "django.db.utils"  # wrapped: the outage check and 503s see it
