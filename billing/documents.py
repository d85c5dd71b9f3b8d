"""Printed documents: the invoice and credit note PDF (R-POST-4, R-POST-8),
the prepaid monthly statement, and the posting batch staff print for paper
copies (R-POST-4).

Each is a pure function (style.md #9): a context built from the row, a
template in ``billing/templates/billing/pdf/``, WeasyPrint, bytes. Nothing
is written here; the caller stores the bytes once the document is issued.

Language: the documents are Indonesian only, by design. They are Indonesian
tax documents for Indonesian businesses (NPWP, DPP, PPN, the amount in words,
"terbilang"), so their wording is plain Indonesian in the templates rather
than gettext msgids: no English version exists to choose, and a missing
catalogue entry can never put an English label on a tax document. They are
still rendered under ``translation.override("id")`` so anything Django
localises comes out Indonesian too.

Rendering never reaches the network: the templates use no remote resources,
fonts are the installed DejaVu (Debian ``fonts-dejavu-core``), and the URL
fetcher refuses anything but ``data:`` URLs and files inside this app, and
fails the render when asked for anything else.
"""

from __future__ import annotations

import io
import logging
from datetime import date
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from num2words import num2words

from billing.models import Invoice, InvoiceLine, Statement
from billing.usage import month_bounds

logger = logging.getLogger(__name__)

LOCALE = "id"
LABELS_PER_SHEET = 14  # 2 × 7 labels on A4 (labels.html)


# --- Rendering ------------------------------------------------------------------------


def html_to_pdf(html: str) -> bytes:
    """Render an HTML document to PDF bytes, with no network access (``billing.rendering``).

    Imported here, not at the top: WeasyPrint and pypdf weigh about 60 MB, and a web process
    that never renders a document (issue 11: a gunicorn worker within 150 MB) need not carry
    them."""
    from billing.rendering import html_to_pdf as render

    return render(html)


def _render(template: str, context: dict[str, Any]) -> bytes:
    with translation.override(LOCALE):
        return html_to_pdf(render_to_string(template, context))


# --- Values as the documents print them ---------------------------------------------------


def long_date(day: date) -> str:
    """A date as the documents print it, e.g. "15 Desember 2026"."""
    return format_date(day, "d MMMM y", locale=LOCALE)


def month_name(month: date) -> str:
    """A billing month, e.g. "November 2026"."""
    return format_date(month, "MMMM y", locale=LOCALE)


def quantity(number: int) -> str:
    """A count with Indonesian grouping, e.g. "12.345"."""
    return format_decimal(number, locale=LOCALE)


def terbilang(amount: int) -> str:
    """The amount in Indonesian words, as invoices write it:
    1250000 → "Satu juta dua ratus lima puluh ribu rupiah"; a credit note's
    negative total starts with "Minus"."""
    words = num2words(abs(amount), lang=LOCALE) + " rupiah"
    if amount < 0:
        words = "minus " + words
    return words[0].upper() + words[1:]


def _company() -> dict[str, str]:
    return {"name": settings.COMPANY_NAME, "npwp": settings.COMPANY_NPWP, "address": settings.COMPANY_ADDRESS}


# --- Invoice and credit note (R-POST-4, R-POST-8) -------------------------------------------


def invoice_context(invoice: Invoice) -> dict[str, Any]:
    """Everything the invoice template prints. The customer block comes from
    the invoice's ``bill_to`` snapshot (never the customer row as it is now).
    DPP and PPN rows appear when the invoice carries VAT (``VAT_ENABLED`` was
    on when it was issued, R-POST-8), so a later re-render always agrees with
    the stored totals."""
    credit = invoice.kind == Invoice.Kind.CREDIT_NOTE
    bill_to = dict(invoice.bill_to or {})
    bill_to["legal_name"] = bill_to.get("legal_name") or bill_to.get("name", "")
    _, month_end = month_bounds(invoice.period)
    usage_until = ""
    if invoice.period_end < month_end:  # a final invoice on termination (R-POST-7)
        usage_until = format_datetime(
            invoice.period_end, "d MMMM y HH:mm", tzinfo=timezone.get_default_timezone(), locale=LOCALE
        )
    lines = [
        {
            "position": line.position,
            "description": line.description,
            "tier": invoice.tier if line.kind == InvoiceLine.Kind.USAGE else None,
            "quantity": quantity(line.units),
            "unit_price": line.unit_price,
            "amount": line.amount,
        }
        for line in invoice.lines.order_by("position")
    ]
    return {
        "company": _company(),
        "title": "NOTA KREDIT" if credit else "INVOICE",
        "is_credit_note": credit,
        "cancels": invoice.credit_note_for.number if credit and invoice.credit_note_for_id else "",
        "invoice": invoice,
        "bill_to": bill_to,
        "issue_date": long_date(invoice.issue_date),
        "due_date": long_date(invoice.due_date),
        "billing_month": month_name(invoice.period),
        "usage_until": usage_until,
        "tier": invoice.tier,
        "units": quantity(abs(invoice.units)),
        "lines": lines,
        "show_vat": bool(invoice.dpp or invoice.ppn),
        "terbilang": terbilang(invoice.total),
        "bank": settings.BANK_TRANSFER_DETAILS,
    }


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice (or credit note) as an A4 PDF in Indonesian."""
    return _render("billing/pdf/invoice.html", invoice_context(invoice))


# --- Prepaid monthly statement ------------------------------------------------------------


def statement_context(statement: Statement) -> dict[str, Any]:
    customer = statement.customer
    return {
        "company": _company(),
        "month": month_name(statement.period),
        "issue_date": long_date(timezone.localdate(statement.created_at)),
        "customer": {
            "legal_name": customer.legal_name or customer.name,
            "npwp": customer.npwp,
            "address": customer.postal_address,
            "email": customer.billing_email,
        },
        "summary": [
            ("Saldo awal", statement.opening_balance),
            ("Top-up", statement.top_ups),
            ("Pemakaian", -statement.usage),
            ("Deposit hangus", -statement.forfeited),
            ("Biaya lain", -statement.other),
            ("Saldo akhir", statement.closing_balance),
        ],
        "lines": [
            {
                "description": line.get("description", ""),
                "messages": quantity(int(line.get("messages", 0))),
                "units": quantity(int(line.get("units", 0))),
                "amount": int(line.get("amount", 0)),
            }
            for line in statement.lines
        ],
    }


def statement_pdf(statement: Statement) -> bytes:
    """A prepaid customer's monthly deposit statement ("bukan invoice": no VAT, nothing to pay)."""
    return _render("billing/pdf/statement.html", statement_context(statement))


# --- Posting batch (R-POST-4) ----------------------------------------------------------------


def labels_pdf(invoices: list[Invoice]) -> bytes:
    """Address labels, one per invoice, 14 to an A4 sheet (2 × 7)."""
    labels = [
        {
            "name": (invoice.bill_to or {}).get("legal_name") or (invoice.bill_to or {}).get("name", ""),
            "address": (invoice.bill_to or {}).get("address", ""),
            "ref": f"{'Nota kredit' if invoice.kind == Invoice.Kind.CREDIT_NOTE else 'Invoice'} {invoice.number}",
        }
        for invoice in invoices
    ]
    sheets = [labels[i : i + LABELS_PER_SHEET] for i in range(0, len(labels), LABELS_PER_SHEET)]
    return _render("billing/pdf/labels.html", {"company": _company(), "sheets": sheets})


def _stored_or_rendered(invoice: Invoice) -> bytes:
    """The PDF stored when the invoice was issued; rendered now when there is none."""
    if invoice.pdf and invoice.pdf.name:
        if invoice.pdf.storage.exists(invoice.pdf.name):
            with invoice.pdf.storage.open(invoice.pdf.name, "rb") as stored:
                return stored.read()
        logger.warning("stored PDF %s of %s is missing; rendering it again", invoice.pdf.name, invoice.number)
    return invoice_pdf(invoice)


def posting_batch_pdf(invoices: list[Invoice]) -> bytes:
    """One PDF for staff to print the paper copies (R-POST-4): the address
    labels first, then every invoice in the order given."""
    from pypdf import PdfReader, PdfWriter  # see html_to_pdf: loaded where documents are made

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(labels_pdf(invoices))))
    for invoice in invoices:
        writer.append(PdfReader(io.BytesIO(_stored_or_rendered(invoice))))
    writer.add_metadata({"/Title": f"Kiriman invoice ({len(invoices)})", "/Author": settings.COMPANY_NAME})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def document_filename(number: str, extension: str) -> str:
    """``INV/2026/000123`` → ``INV-2026-000123.pdf``: a number as a file name."""
    return f"{number.replace('/', '-')}.{extension}"
