"""The CSV of every billed message sent with an invoice (R-POST-4): its rows
add up to the invoice's usage lines to the rupiah (R-POST-3 prices)."""

from __future__ import annotations

import csv
import io
import types
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from billing.exports import (
    CHUNK_BYTES,
    COLUMNS,
    _copy_chunks,
    _python_chunks,
    invoice_csv_chunks,
    invoice_csv_filename,
    unit_prices,
)
from billing.models import Charge, Invoice, InvoiceLine, PendingFee, PriceList
from billing.pricing import table_for
from billing.services.charging import reverse
from billing.services.invoicing import invoice_void
from billing.services.pricelists import price_list_import
from tests.billing.postpaid_builders import CLOSE_AT, NOVEMBER, WIB, close_november, postpaid_customer, send

SENDS = [("sms", "telkomsel", 1)] * 5 + [("sms", "xl", 2)] * 2 + [("wa", "", 1)] * 3


def rows_of(chunks: Iterable[bytes]) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(b"".join(chunks).decode("utf-8"))))


def usage_lines(invoice: Invoice) -> list[InvoiceLine]:
    return list(invoice.lines.filter(kind=InvoiceLine.Kind.USAGE))


def by_line(rows: list[dict[str, str]]) -> Counter[tuple[str, str, int, int]]:
    """(channel, operator, units, unit price) per group of rows, like the usage lines."""
    units: Counter[tuple[str, str, int]] = Counter()
    for row in rows:
        units[(row["kanal"], row["operator"], int(row["harga_satuan"]))] += int(row["unit"])
    return Counter((channel, operator, total, price) for (channel, operator, price), total in units.items())


def lines_counter(invoice: Invoice) -> Counter[tuple[str, str, int, int]]:
    return Counter((line.channel, line.operator, line.units, line.unit_price) for line in usage_lines(invoice))


@pytest.mark.django_db
def test_csv_filename_is_the_invoice_number_without_slashes() -> None:
    assert invoice_csv_filename(Invoice(number="INV/2026/000123")) == "INV-2026-000123.csv"


@pytest.mark.django_db
def test_csv_lists_every_billed_message_at_the_invoice_prices_r_post_4() -> None:
    customer = postpaid_customer()
    send(customer, SENDS, start=datetime(2026, 11, 1, 0, 0, tzinfo=WIB))  # the month's first second counts
    PendingFee.objects.create(
        customer=customer, reference="sid-1", description="Registrasi sender ID", amount=250_000, month=NOVEMBER
    )
    # Refused by the provider before the month closed: reversed, not billed.
    send(customer, [("sms", "indosat", 1)], start=datetime(2026, 11, 20, 9, 0, tzinfo=WIB), prefix="refused")
    reverse(
        charge=Charge.objects.get(reference="maju-jaya-refused-0"),
        reason="provider refused",
        now=datetime(2026, 11, 20, 9, 1, tzinfo=WIB),
    )
    send(customer, [("wa", "", 1)], start=datetime(2026, 12, 1, 0, 5, tzinfo=WIB), prefix="december")
    other = postpaid_customer(slug="lain", legal_name="PT Lain")
    send(other, [("sms", "telkomsel", 1)])
    invoice = close_november(customer)

    rows = rows_of(invoice_csv_chunks(invoice))

    assert list(rows[0]) == list(COLUMNS)
    assert rows[0] == {
        "waktu_wib": "2026-11-01 00:00:00",
        "nomor": "+628120000000",
        "kanal": "sms",
        "operator": "telkomsel",
        "unit": "1",
        "harga_satuan": "650",
        "jumlah": "650",
        "referensi": "maju-jaya-msg-0",
    }
    assert rows[5]["waktu_wib"] == "2026-11-01 00:05:00" and rows[5]["unit"] == "2" and rows[5]["jumlah"] == "1380"
    assert rows[-1] == {**rows[-1], "kanal": "wa", "operator": "", "harga_satuan": "350", "jumlah": "350"}
    assert [row["referensi"] for row in rows] == [f"maju-jaya-msg-{i}" for i in range(len(SENDS))]
    assert len(rows) == len(SENDS)  # neither the reversed, December's nor the other customer's messages
    assert by_line(rows) == lines_counter(invoice)
    usage_total = sum(line.amount for line in usage_lines(invoice))
    assert sum(int(row["jumlah"]) for row in rows) == usage_total == invoice.subtotal - 250_000 == 7_060


@pytest.mark.django_db
def test_a_charge_reversed_after_the_invoice_was_issued_stays_in_its_csv() -> None:
    """The CSV lists what the invoice billed: a reversal recorded after the
    invoice (a late provider refusal) does not take the row out of it."""
    customer = postpaid_customer()
    send(customer, SENDS)
    invoice = close_november(customer)
    reverse(charge=Charge.objects.get(reference="maju-jaya-msg-0"), reason="late", now=CLOSE_AT + timedelta(hours=2))

    rows = rows_of(invoice_csv_chunks(invoice))

    assert len(rows) == len(SENDS)
    assert sum(int(row["jumlah"]) for row in rows) == invoice.subtotal == 7_060


@pytest.mark.django_db
def test_a_csv_that_no_longer_matches_its_invoice_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    customer = postpaid_customer()
    send(customer, SENDS)
    invoice = close_november(customer)
    # Backdated into the closed month after the invoice was issued (never done by the services).
    send(customer, [("sms", "telkomsel", 1)], start=datetime(2026, 11, 30, 23, 0, tzinfo=WIB), prefix="backdated")

    with caplog.at_level("ERROR", logger="billing.exports"):
        rows = rows_of(invoice_csv_chunks(invoice))

    assert len(rows) == len(SENDS) + 1
    assert f"CSV of {invoice.number} does not match its usage lines" in caplog.text


@pytest.mark.django_db
def test_csv_streams_in_chunks() -> None:
    customer = postpaid_customer()
    send(customer, SENDS * 4)
    invoice = close_november(customer)

    stream = invoice_csv_chunks(invoice, chunk_bytes=512)

    assert isinstance(stream, types.GeneratorType)
    chunks = list(stream)
    assert len(chunks) >= 3
    assert all(len(chunk) >= 512 for chunk in chunks[:-1])
    assert len(rows_of(chunks)) == len(SENDS) * 4


@pytest.mark.django_db
def test_a_credit_note_has_no_usage_csv() -> None:
    customer = postpaid_customer()
    send(customer, SENDS)
    with time_machine.travel(CLOSE_AT + timedelta(days=1), tick=False):
        note = invoice_void(invoice=close_november(customer), reason="Salah tagih", actor=None)

    with pytest.raises(ValueError, match="credit note"):
        invoice_csv_chunks(note)


ROUTES = [
    ("sms", "telkomsel"),
    ("sms", "xl"),
    ("sms", "indosat"),
    ("sms", "three"),
    ("sms", "smartfren"),
    ("wa", ""),
    ("wa_official", ""),
]
BULK = 3_000


def _later_price_list() -> PriceList:
    """A list in force from 16 November with every price Rp 7 higher: the
    month's charges are priced under two lists (R-PL-1)."""
    shipped = Path(__file__).resolve().parents[2] / "billing" / "data" / "price-list-2023-11-01.csv"
    rows = list(csv.DictReader(io.StringIO(shipped.read_text())))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "effective_from": "2026-11-16", "unit_price": str(int(row["unit_price"]) + 7)})
    with time_machine.travel(datetime(2026, 11, 1, 8, 0, tzinfo=WIB), tick=False):
        return price_list_import(data=out.getvalue(), name="November update")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("shipped_price_list")
def test_csv_of_thousands_of_charges_adds_up_to_the_usage_lines_exactly_r_post_3() -> None:
    customer = postpaid_customer()
    other = postpaid_customer(slug="lain", legal_name="PT Lain")
    first_list = PriceList.objects.get(effective_from=date(2023, 11, 1))
    second_list = _later_price_list()
    switch = datetime(2026, 11, 16, 0, 0, tzinfo=WIB)
    start = datetime(2026, 11, 1, 0, 0, tzinfo=WIB)
    charges = []
    for i in range(BULK):
        created_at = start + timedelta(minutes=14 * i, seconds=i % 60)
        channel, operator = ROUTES[i % len(ROUTES)]
        price_list = first_list if created_at < switch else second_list
        units = 1 + i % 3
        charges.append(
            Charge(
                customer=customer,
                reference=f"bulk-{i}",
                mode=Charge.Mode.POSTPAID,
                channel=channel,
                operator=operator,
                phone="" if i % 50 == 0 else f"+6281{i:09d}",
                units=units,
                tier=1,
                unit_price=999,  # what the send was counted at; the invoice reprices the month
                amount=999 * units,
                price_list=price_list,
                created_at=created_at,
                # a few refused before the month closed: not billed
                reversed_at=created_at + timedelta(minutes=1) if i % 600 == 7 else None,
            )
        )
    december = datetime(2026, 12, 1, 0, 0, tzinfo=WIB)
    charges += [
        Charge(
            customer=owner,
            reference=f"extra-{owner.pk}-{i}",
            mode=Charge.Mode.POSTPAID,
            channel="sms",
            operator="telkomsel",
            phone="+6281100000000",
            units=1,
            tier=1,
            unit_price=650,
            amount=650,
            price_list=second_list,
            created_at=at,
        )
        for i, (owner, at) in enumerate(
            [(customer, december), (customer, december + timedelta(hours=1)), (other, start), (other, switch)]
        )
    ]
    Charge.objects.bulk_create(charges, batch_size=1000)
    billed = [c for c in charges[:BULK] if c.reversed_at is None]
    invoice = close_november(customer)
    assert invoice.tier == 3  # ≈6.000 units: tier 3 (5.000–9.999)
    assert len(usage_lines(invoice)) == len(ROUTES) * 2  # one line per route and price list

    chunks = list(invoice_csv_chunks(invoice))
    rows = rows_of(chunks)

    assert len(chunks) > 1 and all(len(chunk) >= CHUNK_BYTES for chunk in chunks[:-1])
    assert len(rows) == len(billed) == BULK - 5
    assert [row["referensi"] for row in rows] == [c.reference for c in billed]  # in time order
    assert by_line(rows) == lines_counter(invoice)
    assert sum(int(row["jumlah"]) for row in rows) == sum(line.amount for line in usage_lines(invoice))
    assert sum(int(row["jumlah"]) for row in rows) == invoice.subtotal
    for row in rows[:: len(rows) // 40]:
        charge = next(c for c in billed if c.reference == row["referensi"])
        price = table_for(charge.price_list_id).unit_price(3, charge.channel, charge.operator)
        assert row["waktu_wib"] == charge.created_at.astimezone(WIB).strftime("%Y-%m-%d %H:%M:%S")
        assert (row["nomor"], row["kanal"], row["operator"]) == (charge.phone, charge.channel, charge.operator)
        assert (int(row["harga_satuan"]), int(row["jumlah"])) == (price, price * charge.units)
    # The fallback for other databases writes the very same bytes as COPY.
    prices = unit_prices(invoice)
    assert b"".join(_python_chunks(invoice, prices, CHUNK_BYTES)) == b"".join(
        _copy_chunks(invoice, prices, CHUNK_BYTES)
    )
