"""The ledger is append-only in PostgreSQL itself (Review 8.6): a trigger
refuses UPDATE and DELETE of ledger rows whatever the path (queryset,
raw SQL); only ``on_delete=SET_NULL`` of the recording user gets through."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection

from accounts.models import Customer, User
from billing import services
from billing.models import LedgerEntry
from tests.factories import CustomerFactory, UserFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_price_list"),
]


@pytest.fixture
def customer() -> Customer:
    return CustomerFactory()


@pytest.fixture
def entry(customer: Customer) -> LedgerEntry:
    services.lot_create(customer=customer, amount=10_000, reference="bca-1")
    return LedgerEntry.objects.get(customer=customer)


def raw(sql: str, *params: object) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def unchanged(entry: LedgerEntry) -> bool:
    row = LedgerEntry.objects.get(pk=entry.pk)
    return (row.amount, row.kind, row.reference) == (entry.amount, entry.kind, entry.reference)


def test_review_8_6_raw_sql_update_of_a_ledger_row_fails(entry: LedgerEntry) -> None:
    assert connection.vendor == "postgresql"
    with pytest.raises(IntegrityError, match="append-only"):
        raw("UPDATE billing_ledgerentry SET amount = 1 WHERE id = %s", entry.pk)
    assert unchanged(entry)


def test_review_8_6_raw_sql_delete_of_a_ledger_row_fails(entry: LedgerEntry) -> None:
    with pytest.raises(IntegrityError, match="append-only"):
        raw("DELETE FROM billing_ledgerentry WHERE id = %s", entry.pk)
    assert unchanged(entry)


def test_review_8_6_queryset_update_and_delete_fail_too(entry: LedgerEntry) -> None:
    with pytest.raises(IntegrityError, match="append-only"):
        LedgerEntry.objects.filter(pk=entry.pk).update(memo="rewritten")
    with pytest.raises(IntegrityError, match="append-only"):
        LedgerEntry.objects.filter(pk=entry.pk).delete()
    assert unchanged(entry) and LedgerEntry.objects.get(pk=entry.pk).memo == entry.memo


def test_review_8_6_deleting_the_staff_user_who_recorded_an_entry_only_clears_created_by(customer: Customer) -> None:
    clerk: User = UserFactory(is_staff=True)
    services.lot_create(customer=customer, amount=10_000, reference="bca-1", created_by=clerk)
    entry = LedgerEntry.objects.get(customer=customer)
    assert entry.created_by_id == clerk.pk
    clerk.delete()  # on_delete=SET_NULL: the one UPDATE the trigger lets through
    row = LedgerEntry.objects.get(pk=entry.pk)
    assert row.created_by_id is None and row.amount == 10_000
    with pytest.raises(IntegrityError, match="append-only"):  # but not with any other change
        raw("UPDATE billing_ledgerentry SET created_by_id = NULL, amount = 1 WHERE id = %s", entry.pk)
