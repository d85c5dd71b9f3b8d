"""R-POST-3, R-POST-4, R-POST-8: one month, three views of the money — the
usage rows billing keeps (charges), the invoice PDF the customer reads and
the CSV of every billed message — agree with each other to the rupiah."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime

import pytest
from pypdf import PdfReader

from billing import exports, services
from billing.documents import invoice_pdf
from billing.models import Charge, Invoice
from billing.templatetags.money import format_rupiah
from tests.billing.postpaid_builders import WIB, close_november, postpaid_customer, send

pytestmark = pytest.mark.django_db

REVERSED_AT = datetime(2026, 11, 28, 10, 0, tzinfo=WIB)


def test_charges_pdf_and_csv_agree_to_the_rupiah() -> None:
    customer = postpaid_customer()
    sends = [("sms", "telkomsel", 2)] * 400 + [("sms", "three", 1)] * 350 + [("wa_official", "", 1)] * 300
    send(customer, sends)
    # Reversed in November, before the month closed (a fixed time: the real clock may be past CLOSE_AT).
    services.reverse(
        charge=Charge.objects.filter(customer=customer).first(), reason="refused by the SMSC", now=REVERSED_AT
    )
    invoice = close_november(customer)
    billed = Charge.objects.filter(customer=customer, reversed_at__isnull=True)
    assert invoice.units == sum(c.units for c in billed) == 2 * 399 + 350 + 300  # 1.448 units: tier 2

    rows = list(csv.DictReader(io.StringIO(b"".join(exports.invoice_csv_chunks(invoice)).decode())))
    assert len(rows) == billed.count() == 1_049
    assert {r["referensi"] for r in rows} == set(billed.values_list("reference", flat=True))
    assert sum(int(r["jumlah"]) for r in rows) == invoice.subtotal
    for r in rows:
        assert int(r["jumlah"]) == int(r["unit"]) * int(r["harga_satuan"])
    by_route: dict[tuple[str, str], int] = {}
    for r in rows:
        by_route[(r["kanal"], r["operator"])] = by_route.get((r["kanal"], r["operator"]), 0) + int(r["jumlah"])
    assert by_route == {(line.channel, line.operator): line.amount for line in invoice.lines.all()}

    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(invoice_pdf(invoice))).pages)
    for line in invoice.lines.all():
        assert re.search(rf"{line.units} {format_rupiah(line.unit_price)} {format_rupiah(line.amount)}", text), line
    for label, amount in [("Subtotal", invoice.subtotal), ("PPN 12%", invoice.ppn), ("Total", invoice.total)]:
        assert f"{label} {format_rupiah(amount)}" in text
    assert invoice.total == invoice.subtotal + invoice.ppn
    assert Invoice.objects.filter(customer=customer).count() == 1
