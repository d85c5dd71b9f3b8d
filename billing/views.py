"""Dashboard pages of billing: the balance (prepaid deposits and lots, or the
postpaid guarantee, cap and month), the ledger (and its CSV export), top-up
requests, postpaid invoices (with their PDF and CSV) and prepaid monthly
statements. Every read goes through ``billing.selectors`` scoped to
``request.customer``; every write through one service."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Customer, Membership
from accounts.views import customer_required, roles_required
from billing import documents, exports, selectors, services
from billing.forms import ThresholdForm, TopUpRequestForm, add_service_error
from billing.models import DepositLot, Invoice, InvoiceStatusChange, LedgerEntry
from billing.pricing import jakarta_date
from otpportal.errors import ServiceError

JAKARTA = ZoneInfo("Asia/Jakarta")
LEDGER_PAGE_SIZE = 50
DOCUMENTS_PAGE_SIZE = 50
MONEY_ROLES = (Membership.Role.OWNER, Membership.Role.BILLING)

LOT_STATUS_LABELS = {
    "active": gettext_lazy("Active"),
    "used_up": gettext_lazy("Used up"),
    "expired": gettext_lazy("Expired"),
    "forfeited": gettext_lazy("Forfeited"),
}


def lot_status(lot: DepositLot, now: datetime) -> str:
    """How a lot reads on the balance page. A lot closed at or after its
    expiry ran out its active period (R-PRE-5, "expired"); one closed before
    was forfeited for inactivity (R-PRE-6)."""
    if lot.closed_at is not None:
        return "expired" if lot.closed_at >= lot.expires_at else "forfeited"
    if lot.expires_at <= now:
        return "expired"
    if lot.remaining <= 0:
        return "used_up"
    return "active"


def _can_manage_money(request: HttpRequest) -> bool:
    return request.membership.role in MONEY_ROLES  # type: ignore[attr-defined]


def _balance_page(request: HttpRequest, threshold_form: ThresholdForm | None = None, status: int = 200) -> HttpResponse:
    customer = request.customer  # type: ignore[attr-defined]
    now = timezone.now()
    account = selectors.billing_account(customer=customer)
    can_manage = _can_manage_money(request)
    if can_manage and threshold_form is None:
        threshold_form = ThresholdForm(initial={"threshold": account.low_balance_threshold if account else 0})
    lots = [
        {"lot": lot, "status": status_, "status_label": LOT_STATUS_LABELS[status_]}
        for lot in selectors.lots(customer=customer)
        for status_ in [lot_status(lot, now)]
    ]
    context: dict[str, Any] = {
        "customer": customer,
        "balance": selectors.balance(customer=customer, now=now),
        "lots": lots,
        "account": account,
        "can_manage": can_manage,
        "threshold_form": threshold_form if can_manage else None,
        "validity_days": settings.DEPOSIT_VALIDITY_DAYS,
        "inactivity_months": settings.INACTIVITY_FORFEIT_MONTHS,
    }
    return render(request, "billing/balance.html", context, status=status)


def _postpaid_balance_page(request: HttpRequest) -> HttpResponse:
    """R-POST-1, R-POST-2, R-POST-6: the guarantee held, the month so far
    against its cap, and whatever stops sending."""
    customer = request.customer  # type: ignore[attr-defined]
    overview = selectors.postpaid_overview(customer=customer)
    context: dict[str, Any] = {
        "customer": customer,
        "overview": overview,
        "position": overview.position,
        "month": overview.position.month,
        "can_manage": _can_manage_money(request),
        "guarantee_min": settings.POSTPAID_GUARANTEE_MIN,
        "bank_details": settings.BANK_TRANSFER_DETAILS,
    }
    return render(request, "billing/balance_postpaid.html", context)


@require_GET
@customer_required
def balance(request: HttpRequest) -> HttpResponse:
    if request.customer.mode == Customer.Mode.POSTPAID:  # type: ignore[attr-defined]
        return _postpaid_balance_page(request)
    return _balance_page(request)


@require_POST
@customer_required
@roles_required(*MONEY_ROLES)
def threshold(request: HttpRequest) -> HttpResponse:
    form = ThresholdForm(request.POST)
    if form.is_valid():
        try:
            services.low_balance_threshold_set(
                customer=request.customer,  # type: ignore[attr-defined]
                threshold=form.cleaned_data["threshold"],
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("The low-balance alert threshold is saved."))
            return redirect("billing:balance")
    return _balance_page(request, threshold_form=form, status=400)


@require_GET
@customer_required
def ledger(request: HttpRequest) -> HttpResponse:
    """The customer's book: prepaid deposits, or the postpaid guarantee."""
    customer = request.customer  # type: ignore[attr-defined]
    lines = selectors.ledger_with_running_balance(customer=customer).select_related("invoice")
    page = Paginator(lines, LEDGER_PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    for line in page.object_list:
        line.invoice_key = document_key(line.invoice.number) if line.invoice_id else ""
    context = {
        "page": page,
        "postpaid": customer.mode == Customer.Mode.POSTPAID,
        "can_manage": _can_manage_money(request),
    }
    return render(request, "billing/ledger.html", context)


class _Echo:
    """A file-like object whose ``write`` returns the line (csv docs' pattern)."""

    def write(self, value: str) -> str:
        return value


def _cell(text: str) -> str:
    """Keep free text from being read as a formula by spreadsheets."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


LEDGER_CSV_COLUMNS = ["created_at", "kind", "amount", "running_balance", "lot_id", "charge_reference", "memo"]


def ledger_csv_rows(entries: Iterable[LedgerEntry]) -> Iterator[list[Any]]:
    """The header, then one row per entry with the balance after it."""
    yield LEDGER_CSV_COLUMNS
    running = 0
    for entry in entries:
        running += entry.amount
        yield [
            entry.created_at.astimezone(JAKARTA).isoformat(),
            entry.kind,
            entry.amount,
            running,
            entry.lot_id or "",
            _cell(entry.charge.reference) if entry.charge else "",
            _cell(entry.memo),
        ]


@require_GET
@customer_required
def ledger_csv(request: HttpRequest) -> StreamingHttpResponse:
    customer = request.customer  # type: ignore[attr-defined]
    writer = csv.writer(_Echo())
    rows = ledger_csv_rows(selectors.ledger_iter(customer=customer))
    response = StreamingHttpResponse((writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().astimezone(JAKARTA).strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="ledger-{customer.slug}-{stamp}.csv"'
    return response


@require_http_methods(["GET", "POST"])
@customer_required
@roles_required(*MONEY_ROLES)
def topup(request: HttpRequest) -> HttpResponse:
    customer = request.customer  # type: ignore[attr-defined]
    form = TopUpRequestForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.topup_request_create(
                customer=customer,
                requested_by=request.user,  # type: ignore[arg-type]
                amount=form.cleaned_data["amount"],
                proof=form.cleaned_data["proof"],
                transfer_reference=form.cleaned_data["transfer_reference"],
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Thank you. We will check your transfer and credit your deposit."))
            return redirect("billing:topup")
    context = {
        "form": form,
        "bank_details": settings.BANK_TRANSFER_DETAILS,
        "requests": selectors.topup_requests(customer=customer),
    }
    return render(request, "billing/topup.html", context, status=400 if form.errors else 200)


# --- Postpaid invoices (R-POST-3 … R-POST-8) ----------------------------------------------


def document_key(number: str) -> str:
    """``INV/2026/000123`` → ``INV-2026-000123``: a document number in a URL."""
    return number.replace("/", "-")


def _own_invoice(request: HttpRequest, number: str) -> Invoice:
    """One of the signed-in customer's invoices; anyone else's is a 404."""
    try:
        return selectors.invoice(customer=request.customer, number=number)  # type: ignore[attr-defined]
    except ServiceError:
        raise Http404 from None


def _pdf_download(stored: FieldFile, filename: str) -> FileResponse:
    """A stored PDF as a download."""
    return FileResponse(stored.open("rb"), as_attachment=True, filename=filename, content_type="application/pdf")


def is_overdue(invoice: Invoice, today: date) -> bool:
    """Still owed after its due date (R-POST-5)."""
    return invoice.outstanding > 0 and invoice.due_date < today


@require_GET
@customer_required
@roles_required(*MONEY_ROLES)
def invoices(request: HttpRequest) -> HttpResponse:
    customer = request.customer  # type: ignore[attr-defined]
    page = Paginator(selectors.invoices(customer=customer), DOCUMENTS_PAGE_SIZE).get_page(request.GET.get("page"))
    today = jakarta_date(timezone.now())
    rows = [
        {"invoice": row, "key": document_key(row.number), "overdue": is_overdue(row, today)} for row in page.object_list
    ]
    return render(request, "billing/invoices.html", {"page": page, "rows": rows, "due_days": settings.INVOICE_DUE_DAYS})


def history_text(invoice: Invoice, change: InvoiceStatusChange, credit_note: Invoice | None) -> str:
    """A status move as the customer reads it, in their language (the
    history's ``reason`` is staff's note and stays in the back-office)."""
    if not change.old:
        if invoice.kind == Invoice.Kind.CREDIT_NOTE and invoice.credit_note_for_id:
            return _("Credit note issued, cancelling invoice %(number)s.") % {
                "number": invoice.credit_note_for.number  # type: ignore[union-attr]
            }
        return _("Invoice issued.")
    if change.new == Invoice.Status.PAID:
        return _("Paid in full.")
    if change.new == Invoice.Status.PAID_BY_DEDUCTION:
        return _("Paid from your guarantee deposit.")
    if change.new == Invoice.Status.VOID:
        if credit_note is not None:
            return _("Cancelled by credit note %(number)s.") % {"number": credit_note.number}
        return _("Cancelled.")
    return str(Invoice.Status(change.new).label)


@require_GET
@customer_required
@roles_required(*MONEY_ROLES)
def invoice_detail(request: HttpRequest, number: str) -> HttpResponse:
    invoice = _own_invoice(request, number)
    credit_note = selectors.credit_note_of(invoice=invoice) if invoice.status == Invoice.Status.VOID else None
    history = [
        {"at": change.created_at, "status": change.new, "text": history_text(invoice, change, credit_note)}
        for change in selectors.invoice_history(invoice=invoice)
    ]
    context = {
        "invoice": invoice,
        "key": document_key(invoice.number),
        "lines": list(invoice.lines.all()),
        "payments": list(invoice.payments.all()),
        "history": history,
        "credit_note": credit_note,
        "credit_note_key": document_key(credit_note.number) if credit_note else "",
        "cancels_key": document_key(invoice.credit_note_for.number) if invoice.credit_note_for_id else "",  # type: ignore[union-attr]
        "overdue": is_overdue(invoice, jakarta_date(timezone.now())),
        "bank_details": settings.BANK_TRANSFER_DETAILS,
    }
    return render(request, "billing/invoice_detail.html", context)


@require_GET
@customer_required
@roles_required(*MONEY_ROLES)
def invoice_pdf(request: HttpRequest, number: str) -> FileResponse:
    """The PDF as issued: rendered once, stored, then always the same bytes (R-POST-4)."""
    row = services.invoice_pdf_store(invoice=_own_invoice(request, number))
    return _pdf_download(row.pdf, documents.document_filename(row.number, "pdf"))


@require_GET
@customer_required
@roles_required(*MONEY_ROLES)
def invoice_csv(request: HttpRequest, number: str) -> StreamingHttpResponse:
    """Every message the invoice billed, streamed (R-POST-4); a credit note has none."""
    row = _own_invoice(request, number)
    if row.kind != Invoice.Kind.INVOICE:
        raise Http404
    response = StreamingHttpResponse(exports.invoice_csv_chunks(row), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{exports.invoice_csv_filename(row)}"'
    return response


# --- Prepaid monthly statements -------------------------------------------------------------


@require_GET
@customer_required
@roles_required(*MONEY_ROLES)
def statements(request: HttpRequest) -> HttpResponse:
    customer = request.customer  # type: ignore[attr-defined]
    page = Paginator(selectors.statements(customer=customer), DOCUMENTS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "billing/statements.html", {"page": page})


def _month(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m").date()  # noqa: DTZ007 - a calendar month, not a moment
    except ValueError:
        raise Http404 from None


@require_GET
@customer_required
@roles_required(*MONEY_ROLES)
def statement_pdf(request: HttpRequest, month: str) -> FileResponse:
    """The month's statement PDF: rendered once and stored, like the one emailed."""
    try:
        row = selectors.statement(customer=request.customer, period=_month(month))  # type: ignore[attr-defined]
    except ServiceError:
        raise Http404 from None
    row = services.statement_pdf_store(statement=row)
    return _pdf_download(row.pdf, f"statement-{row.customer.slug}-{row.period:%Y-%m}.pdf")
