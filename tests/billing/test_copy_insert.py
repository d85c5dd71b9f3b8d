"""Issue 11: month-end writes invoices, lines and history by COPY on PostgreSQL
(``otpportal.rowsql.copy_insert``); the rows must be the ones ``bulk_create``
would write, and a duplicate must still be Django's IntegrityError (the
month-end's fallback for a concurrent run depends on it)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction

from billing.models import Invoice, InvoiceLine
from otpportal.rowsql import copy_insert
from tests.billing.postpaid_builders import postpaid_customer

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 0, 30, tzinfo=ZoneInfo("Asia/Jakarta"))


def _invoice(customer, number: str) -> Invoice:  # type: ignore[no-untyped-def]
    return Invoice(
        number=number,
        kind=Invoice.Kind.INVOICE,
        customer=customer,
        period=date(2026, 11, 1),
        period_end=NOW,
        issue_date=date(2026, 12, 1),
        due_date=date(2026, 12, 15),
        tier=2,
        units=1500,
        subtotal=1_000_000,
        dpp=916_667,
        ppn=110_000,
        total=1_110_000,
        bill_to={"name": "Maju Jaya", "npwp": "01.234.567.8-901.000"},
        created_at=NOW,
    )


def _fields(invoice: Invoice) -> dict:  # type: ignore[type-arg]
    return {f.attname: getattr(invoice, f.attname) for f in Invoice._meta.concrete_fields if not f.primary_key}


def test_rows_written_by_copy_read_back_as_written() -> None:
    customer = postpaid_customer()
    invoice = _invoice(customer, "INV/2026/000001")
    copy_insert(Invoice, [invoice], with_ids=True)
    assert invoice.pk is not None and not invoice._state.adding
    lines = [
        InvoiceLine(
            invoice=invoice,
            position=1,
            kind="usage",
            channel="sms",
            operator="telkomsel",
            description="SMS OTP Telkomsel",
            units=1000,
            unit_price=630,
            amount=630_000,
        ),
        InvoiceLine(
            invoice=invoice,
            position=2,
            kind="fee",
            description="Biaya sender ID",
            units=1,
            unit_price=370_000,
            amount=370_000,
        ),
    ]
    assert copy_insert(InvoiceLine, lines) == 2

    stored = Invoice.objects.get(pk=invoice.pk)
    assert stored.bill_to == {"name": "Maju Jaya", "npwp": "01.234.567.8-901.000"}
    assert stored.created_at == NOW and stored.period == date(2026, 11, 1) and stored.status == invoice.status
    assert list(stored.lines.values_list("position", "kind", "channel", "operator", "units", "amount")) == [
        (1, "usage", "sms", "telkomsel", 1000, 630_000),
        (2, "fee", "", "", 1, 370_000),
    ]
    # The ids came from the table's sequence: the next ORM insert gets a later one.
    other = Invoice.objects.create(**{**_fields(_invoice(postpaid_customer("lain"), "INV/2026/000002"))})
    assert other.pk > invoice.pk


def test_a_duplicate_is_an_integrity_error_and_nothing_of_the_batch_is_kept() -> None:
    customer = postpaid_customer()
    copy_insert(Invoice, [_invoice(customer, "INV/2026/000001")], with_ids=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        copy_insert(
            Invoice, [_invoice(customer, "INV/2026/000002"), _invoice(customer, "INV/2026/000001")], with_ids=True
        )
    assert list(Invoice.objects.values_list("number", flat=True)) == ["INV/2026/000001"]
