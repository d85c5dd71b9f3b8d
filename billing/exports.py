"""The CSV of every message an invoice bills (R-POST-4), streamed.

One row per billed charge of the invoice's month, ordered by time:
``waktu_wib, nomor, kanal, operator, unit, harga_satuan, jumlah, referensi``.
The unit price of a row is the invoice's: the price list the charge was sent
under, at the tier the month reached (R-POST-3), computed exactly as
``billing.services.invoicing._lines`` does, so the rows add up to the
invoice's usage lines to the rupiah. Fees are invoice lines without
messages: they are not in the CSV.

"Billed" means what the invoice counted when it was issued: postpaid, in
[month start, ``period_end``), and not reversed before the invoice was
created (a charge reversed after the invoice was issued is still on it).

One ORM query selects the billed charges and prices them with a ``CASE``
over (channel, operator, price list) whose values are bound parameters. On
PostgreSQL its SQL is wrapped in ``COPY (SELECT …) TO STDOUT`` and streamed
through psycopg 3; elsewhere (SQLite for ``make run``) it is read with a
chunked iterator and written with ``csv``, byte for byte the same file.
Either way the file is never held in memory whole: chunks of about
``chunk_bytes`` are yielded as they are read.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import BigIntegerField, Case, Q, QuerySet, Sum, Value, When
from psycopg import sql

from billing.documents import document_filename
from billing.models import Charge, Invoice, InvoiceLine
from billing.pricing import table_for
from billing.usage import month_bounds

logger = logging.getLogger(__name__)

WIB = ZoneInfo("Asia/Jakarta")
COLUMNS = ("waktu_wib", "nomor", "kanal", "operator", "unit", "harga_satuan", "jumlah", "referensi")
CHUNK_BYTES = 64 * 1024
ITERATOR_ROWS = 2000

Price = tuple[str, str, int]  # channel, operator, price_list_id


def invoice_csv_filename(invoice: Invoice) -> str:
    """``INV/2026/000123`` → ``INV-2026-000123.csv`` (named like the PDF)."""
    return document_filename(invoice.number, "csv")


def billed_charges(invoice: Invoice) -> QuerySet[Charge]:
    """The charges an invoice billed (see the module's docstring)."""
    start, _ = month_bounds(invoice.period)
    return Charge.objects.filter(
        customer_id=invoice.customer_id,
        mode=Charge.Mode.POSTPAID,
        created_at__gte=start,
        created_at__lt=invoice.period_end,
    ).filter(Q(reversed_at__isnull=True) | Q(reversed_at__gt=invoice.created_at))


def unit_prices(invoice: Invoice) -> dict[Price, int]:
    """The unit price of every (channel, operator, price list) the invoice
    billed, at the month's tier, exactly as the invoice's usage lines were
    priced. Logs an error if the charges no longer add up to those lines."""
    tier = invoice.tier or 1
    prices: dict[Price, int] = {}
    found: Counter[tuple[str, str, int, int]] = Counter()
    for channel, operator, price_list_id, units in (
        billed_charges(invoice)
        .values("channel", "operator", "price_list_id")
        .annotate(units=Sum("units"))
        .order_by()
        .values_list("channel", "operator", "price_list_id", "units")
    ):
        unit_price = table_for(price_list_id).unit_price(tier, channel, operator)
        prices[(channel, operator, price_list_id)] = unit_price
        found[(channel, operator, int(units), unit_price)] += 1
    invoiced = Counter(
        invoice.lines.filter(kind=InvoiceLine.Kind.USAGE).values_list("channel", "operator", "units", "unit_price")
    )
    if found != invoiced:
        logger.error("CSV of %s does not match its usage lines: charges %s, lines %s", invoice.number, found, invoiced)
    return prices


def priced_charges(invoice: Invoice, prices: dict[Price, int]) -> QuerySet[Charge]:
    """The billed charges with their invoice unit price as ``harga_satuan``:
    a ``CASE`` over (channel, operator, price list), every value a bound
    parameter. Both ways of writing the CSV read this one query."""
    price = Case(
        *(
            When(channel=channel, operator=operator, price_list_id=price_list_id, then=Value(unit_price))
            for (channel, operator, price_list_id), unit_price in prices.items()
        ),
        output_field=BigIntegerField(),
    )
    return billed_charges(invoice).annotate(harga_satuan=price)


def invoice_csv_chunks(invoice: Invoice, *, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The invoice's CSV (UTF-8, ``\\n`` line ends, a header row) in chunks
    of about ``chunk_bytes``.

    On PostgreSQL this holds a ``COPY`` open on the connection until the
    generator is exhausted or closed: consume it (or close it) before running
    other queries on the same connection.
    """
    if invoice.kind != Invoice.Kind.INVOICE:
        raise ValueError(f"{invoice.number} is a credit note; only an invoice has a usage CSV.")
    prices = unit_prices(invoice)
    if connection.vendor == "postgresql" and prices:
        return _copy_chunks(invoice, prices, chunk_bytes)
    return _python_chunks(invoice, prices, chunk_bytes)


_COPY = """COPY (
    SELECT to_char(q.created_at AT TIME ZONE %s, 'YYYY-MM-DD HH24:MI:SS') AS waktu_wib,
           NULLIF(q.phone, '') AS nomor,
           q.channel AS kanal,
           NULLIF(q.operator, '') AS operator,
           q.units AS unit,
           q.harga_satuan AS harga_satuan,
           q.units::bigint * q.harga_satuan AS jumlah,
           q.reference AS referensi
      FROM ({charges}) AS q
     ORDER BY q.created_at, q.id
) TO STDOUT WITH (FORMAT csv, HEADER)"""


def _copy_chunks(invoice: Invoice, prices: dict[Price, int], chunk_bytes: int) -> Iterator[bytes]:
    """PostgreSQL: ``COPY (SELECT …) TO STDOUT`` around the ORM's query of
    the priced charges (its SQL and parameters, bound by psycopg)."""
    charges = (
        priced_charges(invoice, prices)
        .order_by()
        .values("id", "created_at", "phone", "channel", "operator", "units", "harga_satuan", "reference")
    )
    charges_sql, charges_params = charges.query.sql_with_params()
    query = sql.SQL(_COPY).format(charges=sql.SQL(charges_sql))  # type: ignore[arg-type]
    params = [str(WIB), *charges_params]
    buffer = bytearray()
    with connection.cursor() as cursor:
        pg = cursor.connection  # the psycopg 3 connection under Django's wrapper
        with pg.cursor() as raw, raw.copy(query, params) as copy:
            for block in copy:  # one block per row: regroup them into chunks
                buffer += block
                if len(buffer) >= chunk_bytes:
                    yield bytes(buffer)
                    buffer.clear()
    if buffer:
        yield bytes(buffer)


def _python_chunks(invoice: Invoice, prices: dict[Price, int], chunk_bytes: int) -> Iterator[bytes]:
    """Other databases (SQLite for ``make run``): the same bytes as ``COPY``
    writes, from a chunked iterator over the same query."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    rows = (
        priced_charges(invoice, prices)
        .order_by("created_at", "id")
        .values_list("created_at", "phone", "channel", "operator", "units", "harga_satuan", "reference")
    )
    for created_at, phone, channel, operator, units, unit_price, reference in rows.iterator(chunk_size=ITERATOR_ROWS):
        writer.writerow([_wib(created_at), phone, channel, operator, units, unit_price, units * unit_price, reference])
        if text.tell() >= chunk_bytes:
            yield text.getvalue().encode()
            text.seek(0)
            text.truncate()
    if text.tell():
        yield text.getvalue().encode()


def _wib(moment: datetime) -> str:
    return moment.astimezone(WIB).strftime("%Y-%m-%d %H:%M:%S")
