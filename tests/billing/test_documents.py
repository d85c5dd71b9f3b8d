"""The printed documents (R-POST-4, R-POST-8): invoice, credit note,
prepaid statement and the posting batch, read back with pypdf."""

from __future__ import annotations

import io
import re
from datetime import date, datetime

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.test import override_settings
from pypdf import PdfReader
from weasyprint.urls import FatalURLFetchingError

from accounts.models import Customer
from billing.documents import (
    LABELS_PER_SHEET,
    html_to_pdf,
    invoice_pdf,
    labels_pdf,
    posting_batch_pdf,
    statement_pdf,
    terbilang,
)
from billing.models import Invoice, PendingFee, Statement
from billing.services.charging import charge
from billing.services.deposits import lot_create
from billing.services.invoicing import invoice_issue, invoice_void
from billing.services.statements import statements_issue
from billing.templatetags.money import format_rupiah
from tests.billing.postpaid_builders import NOVEMBER, WIB, close_november, postpaid_customer, send
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

# 5 SMS to Telkomsel, 2 × 2 SMS to XL, 3 WhatsApp: 12 units, tier 1 (R-POST-3).
SENDS = [("sms", "telkomsel", 1)] * 5 + [("sms", "xl", 2)] * 2 + [("wa", "", 1)] * 3


def pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def text_of(data: bytes) -> str:
    return "\n".join(pages(data))


def flat(text: str) -> str:
    """Whitespace collapsed, for phrases that may wrap."""
    return " ".join(text.split())


def sender_id_fee(customer: Customer, amount: int = 250_000, n: int = 1) -> PendingFee:
    return PendingFee.objects.create(
        customer=customer,
        reference=f"sid-fee-{customer.pk}-{n}",
        description=f"Registrasi sender ID TOKO{n} (Telkomsel)",
        amount=amount,
        month=NOVEMBER,
    )


@pytest.fixture
def invoice() -> Invoice:
    customer = postpaid_customer()
    send(customer, SENDS)
    sender_id_fee(customer)
    return close_november(customer)


def test_invoice_pdf_shows_number_parties_lines_and_vat_totals_r_post_8(invoice: Invoice) -> None:
    # Lines: 5 × 650 + 4 × 690 + 3 × 350 + fee 250.000 = 257.060; DPP = 11/12 of it
    # (235.638), PPN 12 % of the DPP (28.277), total 285.337 (R-POST-8).
    assert (invoice.subtotal, invoice.dpp, invoice.ppn, invoice.total) == (257_060, 235_638, 28_277, 285_337)
    text = text_of(invoice_pdf(invoice))
    one_line = flat(text)

    assert "INVOICE" in text
    assert invoice.number == "INV/2026/000001"
    assert "Nomor INV/2026/000001" in text
    # The seller and the customer, from bill_to (legal name, NPWP, address).
    assert "PT. Adsmedia Digital Indonesia" in text and "NPWP: 00.000.000.0-000.000" in text
    assert "PT Maju Jaya Abadi" in text
    assert "NPWP: 01.234.567.8-901.000" in text
    assert "Jl. Jenderal Sudirman Kav. 52\nJakarta Selatan 12190" in text
    # Dates in Indonesian: invoice date, billing month, due date 14 days later (R-POST-5).
    assert "Tanggal 1 Desember 2026" in text
    assert "Periode tagihan November 2026" in text
    assert "Jatuh tempo 15 Desember 2026" in text
    # Every line: description, quantity, unit price, amount; usage lines show the tier.
    for description, quantity, unit_price, amount in [
        ("SMS OTP Telkomsel", "5", "Rp 650", "Rp 3.250"),
        ("SMS OTP XL-Axiata", "4", "Rp 690", "Rp 2.760"),
        ("WhatsApp OTP", "3", "Rp 350", "Rp 1.050"),
    ]:
        assert re.search(rf"{description}\nTingkat 1\n{quantity} {unit_price} {amount}\n", text), description
    assert "4 Registrasi sender ID TOKO1 (Telkomsel) 1 Rp 250.000 Rp 250.000" in text  # a fee: no tier
    for line in invoice.lines.all():
        assert format_rupiah(line.amount) in text
    # Totals.
    assert "Subtotal Rp 257.060" in text
    assert "DPP (11/12 × subtotal) Rp 235.638" in text
    assert "PPN 12% Rp 28.277" in text
    assert "Total Rp 285.337" in text
    # The total in words (terbilang).
    assert "Dua ratus delapan puluh lima ribu tiga ratus tiga puluh tujuh rupiah" in one_line
    # Bank transfer instructions with the due date and the number as the transfer's message.
    assert "Bank BCA 123-456-7890 a.n. PT. Adsmedia Digital Indonesia" in text
    assert (
        "Mohon transfer paling lambat 15 Desember 2026 dan cantumkan nomor invoice sebagai berita: INV/2026/000001."
        in one_line
    )
    assert "Halaman 1 dari 1" in text
    # Rupiah amounts never break between "Rp" and the digits.
    assert not re.search(r"Rp\s*\n", text)


def test_invoice_pdf_numbers_every_page_x_of_y() -> None:
    customer = postpaid_customer()
    send(customer, SENDS)
    for n in range(1, 46):
        sender_id_fee(customer, amount=100_000 + n, n=n)
    invoice = close_november(customer)

    texts = pages(invoice_pdf(invoice))

    assert len(texts) >= 2
    for number, text in enumerate(texts, start=1):
        assert f"Halaman {number} dari {len(texts)}" in text
        assert f"Invoice {invoice.number}" in text  # the footer names the document on every page
    assert "Total Rp" in "\n".join(texts)


def test_usage_lines_are_priced_at_the_tier_the_month_reached_r_post_3() -> None:
    customer = postpaid_customer()
    send(customer, [("sms", "telkomsel", 600), ("sms", "xl", 400)])  # 1.000 units: tier 2

    text = text_of(invoice_pdf(close_november(customer)))

    assert "Total 1.000 unit: Tingkat 2" in text
    assert "SMS OTP Telkomsel\nTingkat 2\n600 Rp 630 Rp 378.000" in text
    assert "SMS OTP XL-Axiata\nTingkat 2\n400 Rp 670 Rp 268.000" in text


def test_a_final_invoice_says_until_when_the_month_was_used_r_post_7() -> None:
    customer = postpaid_customer()
    send(customer, SENDS)
    ended = datetime(2026, 11, 20, 12, 0, tzinfo=WIB)
    with time_machine.travel(ended, tick=False):
        invoice = invoice_issue(
            customer=customer, period=NOVEMBER, now=ended, period_end=ended, reason="contract ended"
        )

    text = text_of(invoice_pdf(invoice))

    assert "November 2026, sampai 20 November 2026 12:00 WIB" in flat(text)
    assert "Total Rp 7.837" in text


def test_credit_note_pdf_cancels_the_invoice_with_negative_amounts(invoice: Invoice) -> None:
    with time_machine.travel(datetime(2026, 12, 2, 10, 0, tzinfo=WIB), tick=False):
        note = invoice_void(invoice=invoice, reason="Salah alamat penagihan", actor=None)

    text = text_of(invoice_pdf(note))
    one_line = flat(text)

    assert "NOTA KREDIT" in text
    assert "Nomor CN/2026/000001" in text
    assert "Membatalkan invoice INV/2026/000001" in text
    assert "PT Maju Jaya Abadi" in text and "NPWP: 01.234.567.8-901.000" in text
    assert "-5 Rp 650 -Rp 3.250" in text
    assert "-1 Rp 250.000 -Rp 250.000" in text
    assert "Subtotal -Rp 257.060" in text
    assert "DPP (11/12 × subtotal) -Rp 235.638" in text
    assert "PPN 12% -Rp 28.277" in text
    assert "Total -Rp 285.337" in text
    assert "Minus dua ratus delapan puluh lima ribu tiga ratus tiga puluh tujuh rupiah" in one_line
    assert "Mohon transfer" not in one_line and "Jatuh tempo" not in text
    assert f"Nota Kredit {note.number}" in text and "Halaman 1 dari 1" in text


@override_settings(VAT_ENABLED=False)
def test_invoice_without_vat_has_no_dpp_or_ppn_rows_r_post_8() -> None:
    customer = postpaid_customer()
    send(customer, SENDS)
    invoice = close_november(customer)
    assert (invoice.dpp, invoice.ppn, invoice.total) == (0, 0, 7_060)

    text = text_of(invoice_pdf(invoice))

    assert "DPP" not in text and "PPN" not in text
    assert "Subtotal Rp 7.060" in text and "Total Rp 7.060" in text
    assert "Tujuh ribu enam puluh rupiah" in flat(text)


def test_statement_pdf_is_a_deposit_report_not_an_invoice() -> None:
    customer = CustomerFactory(
        slug="toko-prabayar",
        name="Toko Prabayar",
        legal_name="CV Toko Prabayar",
        npwp="09.876.543.2-101.000",
        postal_address="Jl. Malioboro 10\nYogyakarta",
    )
    lot_create(customer=customer, amount=1_000_000, reference="TRF-P1", now=datetime(2026, 11, 3, 9, 0, tzinfo=WIB))
    for i in range(3):  # tier 2 (Rp 1.000.000 deposit): 630 per SMS to Telkomsel
        charge(
            customer=customer,
            channel="sms",
            operator="telkomsel",
            units=1,
            reference=f"pre-{i}",
            phone="+6281200000001",
            now=datetime(2026, 11, 5, 9, i, tzinfo=WIB),
        )
    with time_machine.travel(datetime(2026, 12, 1, 1, 0, tzinfo=WIB), tick=False):
        assert statements_issue(month=date(2026, 11, 1)) == 1
    statement = Statement.objects.get(customer=customer)

    text = text_of(statement_pdf(statement))
    one_line = flat(text)

    assert "LAPORAN BULANAN DEPOSIT" in text
    assert "bukan invoice" in one_line
    assert "Periode November 2026" in text
    assert "CV Toko Prabayar" in text and "NPWP: 09.876.543.2-101.000" in text and "Yogyakarta" in text
    assert "PT. Adsmedia Digital Indonesia" in text
    assert "Saldo awal Rp 0" in text
    assert "Top-up Rp 1.000.000" in text
    assert "Pemakaian -Rp 1.890" in text
    assert "Deposit hangus Rp 0" in text
    assert "Saldo akhir Rp 998.110" in text
    assert "SMS OTP Telkomsel 3 3 Rp 1.890" in text
    assert "DPP" not in text and "Total" not in text
    assert "Halaman 1 dari 1" in text


def test_labels_fill_a_2_by_7_sheet_then_a_new_page() -> None:
    invoices = [
        Invoice(
            number=f"INV/2026/{n:06d}",
            bill_to={"name": f"Pelanggan {n}", "legal_name": f"PT Pelanggan {n}", "address": f"Jl. Nomor {n}\nBandung"},
        )
        for n in range(1, LABELS_PER_SHEET + 2)
    ]

    texts = pages(labels_pdf(invoices))

    assert len(texts) == 2
    assert "PT Pelanggan 1\nJl. Nomor 1\nBandung\nInvoice INV/2026/000001" in texts[0]
    assert "Invoice INV/2026/000014" in texts[0] and "INV/2026/000015" not in texts[0]
    assert "PT Pelanggan 15" in texts[1]


def test_posting_batch_is_the_labels_then_each_invoice_r_post_4(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    first = postpaid_customer()
    second = postpaid_customer(
        slug="sinar-terang", legal_name="PT Sinar Terang", postal_address="Jl. Asia Afrika 8\nBandung"
    )
    send(first, SENDS)
    send(second, SENDS[:3])
    for n in range(1, 46):  # the second invoice runs to two pages or more
        sender_id_fee(second, amount=50_000 + n, n=n)
    with_stored = close_november(first)
    rendered = Invoice.objects.get(customer=second)
    # The first invoice's stored copy is what gets printed, not a new rendering.
    with_stored.pdf.save("stored.pdf", ContentFile(html_to_pdf("<p>STORED COPY OF THE ISSUED INVOICE</p>")))
    rendered_pages = len(pages(invoice_pdf(rendered)))
    assert rendered_pages >= 2

    texts = pages(posting_batch_pdf([with_stored, rendered]))

    assert len(texts) == 1 + 1 + rendered_pages  # one label sheet, the stored copy, the rendered invoice
    assert "PT Maju Jaya Abadi" in texts[0] and f"Invoice {with_stored.number}" in texts[0]
    assert "PT Sinar Terang\nJl. Asia Afrika 8\nBandung" in texts[0] and f"Invoice {rendered.number}" in texts[0]
    assert "STORED COPY OF THE ISSUED INVOICE" in texts[1]
    assert f"Nomor {rendered.number}" in texts[2] and f"Halaman {rendered_pages} dari {rendered_pages}" in texts[-1]


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/logo.png", "https://example.com/logo.png", "file:///etc/hostname"])
def test_rendering_never_fetches_outside_the_app(url: str) -> None:
    with pytest.raises(FatalURLFetchingError):
        html_to_pdf(f'<p>x</p><img src="{url}">')


def test_terbilang_writes_rupiah_in_indonesian_words() -> None:
    assert terbilang(1_250_000) == "Satu juta dua ratus lima puluh ribu rupiah"
    assert terbilang(11) == "Sebelas rupiah"
    assert terbilang(0) == "Nol rupiah"
    assert terbilang(-5_000) == "Minus lima ribu rupiah"
