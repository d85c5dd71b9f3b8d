"""Staff run postpaid billing in the admin (R-POST-1 … R-POST-8): guarantee
deposits and caps, invoice payments, voids and re-issues, paper copies,
refunds and termination. Every form calls the product's use case; a refusal
is a form error and writes nothing."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from accounts.models import Customer
from billing import documents, services
from billing.models import (
    BillingAccount,
    CapChange,
    Guarantee,
    GuaranteeRefund,
    Invoice,
    LedgerEntry,
    MonthlyUsage,
    Payment,
    PendingFee,
    Statement,
)
from tests.billing.postpaid_months import WIB, at, english, invoice_month, make_postpaid
from tests.conftest import Cast
from tests.factories import UserFactory
from tests.helpers import (
    media_root_fixture,  # noqa: F401 - autouse
    signed_in,
    staff_fixture,  # noqa: F401 - the staff fixture
)

pytestmark = pytest.mark.django_db
GUARANTEE_ADD = "/admin/billing/guarantee/add/"
INVOICES = "/admin/billing/invoice/"


@pytest.fixture
def acme(cast: Cast) -> Customer:
    return make_postpaid(cast.acme)


def change_url(obj: object) -> str:
    return f"/admin/billing/{obj._meta.model_name}/{obj.pk}/change/"  # type: ignore[attr-defined]


# --- Guarantee deposits (R-POST-1) ----------------------------------------------------------


def test_recording_a_guarantee_deposit_writes_the_guarantee_book(staff: Client, cast: Cast) -> None:
    acme = make_postpaid(cast.acme, guarantee=None)
    form = staff.get(GUARANTEE_ADD)
    assert form.status_code == 200 and 'name="reference"' in form.content.decode()
    response = staff.post(GUARANTEE_ADD, {"customer": acme.pk, "amount": "Rp 10.000.000", "reference": "BCA-G-1"})
    assert response.status_code == 302, response.content.decode()[:3000]
    guarantee = Guarantee.objects.get(customer=acme)
    assert (guarantee.held, guarantee.cap, guarantee.activated_at is not None) == (10_000_000, 20_000_000, True)
    entry = LedgerEntry.objects.get(customer=acme)
    assert (entry.book, entry.kind, entry.amount, entry.created_by) == (
        "guarantee",
        "guarantee",
        10_000_000,
        cast.staff,
    )
    # A top-up of the same guarantee goes through the same form.
    again = staff.post(GUARANTEE_ADD, {"customer": acme.pk, "amount": "2500000", "reference": "BCA-G-2"})
    assert again.status_code == 302
    assert Guarantee.objects.get(customer=acme).held == 12_500_000
    listing = staff.get("/admin/billing/guarantee/").content.decode()
    assert "Rp 12.500.000" in listing and "Rp 25.000.000" in listing


@pytest.mark.parametrize(
    ("amount", "reference", "expected"),
    [
        ("5.000.000", "BCA-LOW", "paling sedikit Rp 10.000.000"),  # R-POST-1: below the minimum (Review 8.19)
        ("abc", "BCA-BAD", "Jumlah harus"),  # not an amount (the use case's message, in Indonesian)
        ("10000000", "   ", 'class="errorlist'),  # no reference
    ],
)
def test_a_refused_guarantee_deposit_writes_nothing(
    staff: Client, cast: Cast, amount: str, reference: str, expected: str
) -> None:
    acme = make_postpaid(cast.acme, guarantee=None)
    response = staff.post(GUARANTEE_ADD, {"customer": acme.pk, "amount": amount, "reference": reference})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="errornote"' in html and expected in html
    assert not Guarantee.objects.exists()
    assert not LedgerEntry.objects.exists()


def test_a_prepaid_customer_gets_no_guarantee(staff: Client, cast: Cast) -> None:
    response = staff.post(GUARANTEE_ADD, {"customer": cast.globex.pk, "amount": "10000000", "reference": "B"})
    assert response.status_code == 200 and "adalah pelanggan prabayar" in response.content.decode()  # Review 8.19
    assert not Guarantee.objects.exists() and not LedgerEntry.objects.exists()


def test_a_guarantee_is_read_only(staff: Client, acme: Customer) -> None:
    guarantee = Guarantee.objects.get(customer=acme)
    page = staff.get(change_url(guarantee)).content.decode()
    assert 'name="_save"' not in page
    assert f"/admin/billing/guarantee/{guarantee.pk}/cap/" in page
    assert f"/admin/billing/guarantee/terminate/{acme.pk}/" in page
    assert staff.post(change_url(guarantee), {"held": 99}).status_code == 403
    assert staff.post(f"/admin/billing/guarantee/{guarantee.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Guarantee.objects.get(customer=acme).held == 10_000_000


# --- The cap (R-POST-2) ------------------------------------------------------------------------


def test_changing_the_cap_needs_a_reason_and_is_recorded(staff: Client, cast: Cast, acme: Customer) -> None:
    guarantee = Guarantee.objects.get(customer=acme)
    url = f"/admin/billing/guarantee/{guarantee.pk}/cap/"
    page = staff.get(url)
    assert (
        page.status_code == 200 and 'name="percent"' in page.content.decode() and 'value="200"' in page.content.decode()
    )
    refused = staff.post(url, {"percent": "300", "reason": ""})
    assert refused.status_code == 200 and 'class="errornote"' in refused.content.decode()
    too_high = staff.post(url, {"percent": "5000", "reason": "why not"})
    assert too_high.status_code == 200 and "100 sampai 1000" in too_high.content.decode()  # Review 8.19
    assert not CapChange.objects.exists()
    assert Guarantee.objects.get(customer=acme).cap_percent == 200
    done = staff.post(url, {"percent": "300", "reason": "Customer asked: seasonal peak"})
    assert done.status_code == 302 and done["Location"] == change_url(guarantee)
    guarantee.refresh_from_db()
    assert (guarantee.cap_percent, guarantee.cap) == (300, 30_000_000)
    change = CapChange.objects.get()
    assert (change.old_percent, change.new_percent, change.changed_by) == (200, 300, cast.staff)
    assert change.reason == "Customer asked: seasonal peak"
    detail = staff.get(change_url(guarantee)).content.decode()
    assert "Customer asked: seasonal peak" in detail and "Rp 30.000.000" in detail


# --- Invoices: list, filters, search -------------------------------------------------------------


def test_the_invoice_list_filters_and_searches(staff: Client, cast: Cast, acme: Customer) -> None:
    october = invoice_month(acme, 2025, 10, units=1_000)  # 699.300, due 15 Nov 2025: overdue now
    globex = make_postpaid(cast.globex)
    other = invoice_month(globex, 2025, 10)
    services.payment_record(invoice=other, amount=other.total, reference="PAID-1", recorded_by=cast.staff)
    services.invoices_mark_posted(invoices=[other], courier="JNE", tracking_number="JNE-1", posted_by=cast.staff)
    listing = staff.get(INVOICES).content.decode()
    assert october.number in listing and other.number in listing
    assert "Rp 699.300" in listing and "2025-10" in listing
    assert "?paper=queue" in listing  # the posting queue link

    def numbers(query: str) -> set[str]:
        html = staff.get(INVOICES + query).content.decode()
        return {n for n in (october.number, other.number) if n in html}

    assert numbers("?overdue=yes") == {october.number}
    assert numbers("?status__exact=paid") == {other.number}
    assert numbers("?paper=queue") == {october.number}
    assert numbers("?paper=posted") == {other.number}
    assert numbers("?paper=not_posted") == {october.number}
    assert numbers("?kind__exact=credit_note") == set()
    assert numbers(f"?q={october.number}") == {october.number}
    assert numbers("?q=Globex") == {other.number}


def test_an_invoice_is_read_only_with_its_lines_payments_and_history(staff: Client, cast: Cast, acme: Customer) -> None:
    invoice = invoice_month(acme, 2025, 10, units=1_000)
    services.payment_record(invoice=invoice, amount=100_000, reference="BCA-P-1", recorded_by=cast.staff)
    html = staff.get(change_url(invoice)).content.decode()
    assert 'name="_save"' not in html
    assert "SMS OTP Telkomsel" in html and "BCA-P-1" in html and "month closed" in html
    assert "Rp 577.500" in html and "Rp 69.300" in html and "Rp 599.300" in html  # DPP, PPN, outstanding
    for tool in ("pdf", "csv", "pay"):
        assert f"/admin/billing/invoice/{invoice.pk}/{tool}/" in html, tool
    for tool in ("void", "reissue"):  # partly paid: it cannot be voided; not void: nothing to re-issue
        assert f"/admin/billing/invoice/{invoice.pk}/{tool}/" not in html, tool
    assert staff.post(change_url(invoice), {"total": 1}).status_code == 403
    assert staff.post(f"/admin/billing/invoice/{invoice.pk}/delete/", {"post": "yes"}).status_code == 403


def test_pdf_and_csv_downloads(staff: Client, acme: Customer) -> None:
    invoice = invoice_month(acme, 2025, 10, units=3)
    pdf = staff.get(f"/admin/billing/invoice/{invoice.pk}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    body = b"".join(pdf.streaming_content)
    assert invoice.number in PdfReader(io.BytesIO(body)).pages[0].extract_text()
    invoice.refresh_from_db()
    with invoice.pdf.open("rb") as stored:
        assert stored.read() == body  # the stored PDF (invoice_pdf_store)
    csv = staff.get(f"/admin/billing/invoice/{invoice.pk}/csv/")
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    assert len(b"".join(csv.streaming_content).decode().strip().splitlines()) == 2


# --- Payments (R-POST-5) ---------------------------------------------------------------------------


def test_recording_a_payment_and_refusing_one_too_large(staff: Client, cast: Cast, acme: Customer) -> None:
    invoice = invoice_month(acme, 2025, 10, units=1_000)  # 699.300
    url = f"/admin/billing/invoice/{invoice.pk}/pay/"
    assert staff.get(url).status_code == 200
    too_large = staff.post(url, {"amount": "699.301", "reference": "BCA-X", "paid_on": "2025-11-05"})
    assert too_large.status_code == 200
    html = too_large.content.decode()
    assert 'class="errornote"' in html and "melebihi Rp 699.300 yang masih terutang" in html  # Review 8.19
    assert not Payment.objects.exists()
    partial = staff.post(url, {"amount": "300.000", "reference": "BCA-1", "paid_on": "2025-11-05"})
    assert partial.status_code == 302 and partial["Location"] == change_url(invoice)
    invoice.refresh_from_db()
    assert (invoice.paid_amount, invoice.status) == (300_000, "issued")
    rest = staff.post(url, {"amount": "399300", "reference": "BCA-2", "paid_on": "2025-11-06"})
    assert rest.status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == "paid" and invoice.outstanding == 0
    payments = list(Payment.objects.order_by("id").values_list("amount", "reference", "paid_on", "recorded_by"))
    assert payments == [
        (300_000, "BCA-1", date(2025, 11, 5), cast.staff.pk),
        (399_300, "BCA-2", date(2025, 11, 6), cast.staff.pk),
    ]
    assert [h.new for h in invoice.history.all()] == ["issued", "paid"]
    # Paid: nothing more can be recorded, and the page no longer offers it.
    refused = staff.post(url, {"amount": "1", "reference": "BCA-3", "paid_on": "2025-11-06"})
    assert refused.status_code == 200 and Payment.objects.count() == 2
    assert f"/admin/billing/invoice/{invoice.pk}/pay/" not in staff.get(change_url(invoice)).content.decode()
    listing = staff.get("/admin/billing/payment/").content.decode()
    assert "BCA-1" in listing and "Rp 399.300" in listing


def test_a_payment_dated_in_the_future_is_refused(staff: Client, acme: Customer) -> None:
    invoice = invoice_month(acme, 2025, 10)
    response = staff.post(
        f"/admin/billing/invoice/{invoice.pk}/pay/", {"amount": "1000", "reference": "B", "paid_on": "2099-01-01"}
    )
    assert response.status_code == 200 and "di masa depan" in response.content.decode()  # Review 8.19
    assert not Payment.objects.exists()


# --- Void and re-issue -------------------------------------------------------------------------------


def test_voiding_shows_the_credit_note_and_a_void_invoice_is_reissued(
    staff: Client, cast: Cast, acme: Customer
) -> None:
    invoice = invoice_month(acme, 2025, 10)
    url = f"/admin/billing/invoice/{invoice.pk}/void/"
    assert staff.post(url, {"reason": "  "}).status_code == 200
    assert Invoice.objects.filter(kind="credit_note").count() == 0
    voided = staff.post(url, {"reason": "Wrong NPWP"})
    note = Invoice.objects.get(kind="credit_note")
    assert voided.status_code == 302 and voided["Location"] == change_url(note)
    invoice.refresh_from_db()
    assert invoice.status == "void" and note.credit_note_for == invoice and note.total == -invoice.total
    assert "Wrong NPWP" in invoice.history.last().reason and invoice.history.last().actor == cast.staff
    note_page = staff.get(change_url(note)).content.decode()
    assert invoice.number in note_page and note.number in note_page
    assert f"/admin/billing/invoice/{note.pk}/csv/" not in note_page  # a credit note has no CSV
    void_page = staff.get(change_url(invoice)).content.decode()
    assert note.number in void_page and f"/admin/billing/invoice/{invoice.pk}/reissue/" in void_page
    reissued = staff.post(f"/admin/billing/invoice/{invoice.pk}/reissue/", {})
    new = Invoice.objects.get(customer=acme, kind="invoice", status="issued")
    assert reissued.status_code == 302 and reissued["Location"] == change_url(new)
    assert new.number not in (invoice.number, note.number) and new.total == invoice.total  # a new number
    assert new.period == invoice.period and "re-issued" in new.history.get().reason
    again = staff.post(f"/admin/billing/invoice/{invoice.pk}/reissue/", {})  # the month has its live invoice
    assert again.status_code == 200 and 'class="errornote"' in again.content.decode()
    assert Invoice.objects.filter(kind="invoice").count() == 2


def test_a_partly_paid_invoice_cannot_be_voided(staff: Client, cast: Cast, acme: Customer) -> None:
    invoice = invoice_month(acme, 2025, 10)
    services.payment_record(invoice=invoice, amount=1_000, reference="P", recorded_by=cast.staff)
    response = staff.post(f"/admin/billing/invoice/{invoice.pk}/void/", {"reason": "oops"})
    assert response.status_code == 200 and "sudah dibayar sebagian" in response.content.decode()  # Review 8.19
    assert not Invoice.objects.filter(kind="credit_note").exists()


# --- Paper copies (R-POST-4) ------------------------------------------------------------------------


def test_print_batch_returns_labels_then_every_invoice(staff: Client, cast: Cast, acme: Customer) -> None:
    first = invoice_month(acme, 2025, 9)
    second = invoice_month(acme, 2025, 10, units=1_000)
    response = staff.post(INVOICES, {"action": "print_batch", "_selected_action": [first.pk, second.pk]})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith('attachment; filename="posting-batch-')
    batch = PdfReader(io.BytesIO(response.content))
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.pdf and second.pdf  # stored first: the paper copy is the emailed document
    pages = [len(PdfReader(io.BytesIO(documents.labels_pdf([first, second]))).pages)]
    for invoice in (first, second):
        with invoice.pdf.open("rb") as stored:
            pages.append(len(PdfReader(stored).pages))
    assert len(batch.pages) == sum(pages) and pages[0] == 1
    text = [page.extract_text() for page in batch.pages]
    assert first.number in text[0] and second.number in text[0]  # the labels
    assert first.number in text[pages[0]]  # then the first invoice


def test_record_posting_asks_for_courier_and_tracking(staff: Client, cast: Cast, acme: Customer) -> None:
    first = invoice_month(acme, 2025, 9)
    second = invoice_month(acme, 2025, 10)
    selected = {"action": "record_posting", "_selected_action": [first.pk, second.pk]}
    asked = staff.post(INVOICES, selected)
    assert asked.status_code == 200
    html = asked.content.decode()
    assert 'name="courier"' in html and 'name="tracking_number"' in html and first.number in html
    missing = staff.post(INVOICES, {**selected, "apply": "1", "courier": "JNE", "tracking_number": ""})
    assert missing.status_code == 200 and 'class="errornote"' in missing.content.decode()
    assert not Invoice.objects.filter(posted_at__isnull=False).exists()
    done = staff.post(INVOICES, {**selected, "apply": "1", "courier": "JNE", "tracking_number": "JNE-0042"})
    assert done.status_code == 302
    for invoice in (first, second):
        invoice.refresh_from_db()
        assert (invoice.courier, invoice.tracking_number, invoice.posted_by) == ("JNE", "JNE-0042", cast.staff)
        assert invoice.posted_at is not None
    queue = staff.get(INVOICES + "?paper=queue").content.decode()
    assert first.number not in queue and second.number not in queue


# --- Refunds and termination (R-POST-7) --------------------------------------------------------------


def test_terminating_a_customer_shows_the_refund_created(staff: Client, cast: Cast, acme: Customer) -> None:
    invoice_month(acme, 2025, 10, units=1_000)  # 699.300 unpaid: paid from the guarantee on termination
    url = f"/admin/billing/guarantee/terminate/{acme.pk}/"
    page = english(staff).get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Rp 10.000.000" in html and "Rp 699.300" in html and 'name="confirm"' in html
    unconfirmed = staff.post(url, {"reason": "Contract ended"})
    assert unconfirmed.status_code == 200 and 'class="errornote"' in unconfirmed.content.decode()
    acme.refresh_from_db()
    assert acme.status == "active" and not GuaranteeRefund.objects.exists()
    done = staff.post(url, {"reason": "Contract ended", "confirm": "on"})
    refund = GuaranteeRefund.objects.get(customer=acme)
    assert done.status_code == 302 and done["Location"] == change_url(refund)
    acme.refresh_from_db()
    assert acme.status == "terminated"
    assert refund.amount == 10_000_000 - 699_300 and refund.created_by == cast.staff
    shown = staff.get(done["Location"]).content.decode()
    assert "Rp 9.300.700" in shown and "is terminated" in shown
    again = staff.post(url, {"reason": "again", "confirm": "on"})
    assert again.status_code == 200 and "already terminated" in again.content.decode()
    assert GuaranteeRefund.objects.count() == 1


def test_terminate_is_reachable_from_the_billing_account(staff: Client, cast: Cast, acme: Customer) -> None:
    account = BillingAccount.objects.create(customer=acme)
    assert f"/admin/billing/guarantee/terminate/{acme.pk}/" in staff.get(change_url(account)).content.decode()
    response = staff.post(
        "/admin/billing/billingaccount/", {"action": "terminate_selected", "_selected_action": [account.pk]}
    )
    assert response.status_code == 302 and response["Location"] == f"/admin/billing/guarantee/terminate/{acme.pk}/"
    chooser = staff.get("/admin/billing/guarantee/terminate/", {"customer": acme.pk})
    assert chooser.status_code == 302 and chooser["Location"] == f"/admin/billing/guarantee/terminate/{acme.pk}/"
    assert staff.get("/admin/billing/guarantee/terminate/").status_code == 200


def test_a_prepaid_customer_is_terminated_without_refund(staff: Client, cast: Cast) -> None:
    response = staff.post(
        f"/admin/billing/guarantee/terminate/{cast.globex.pk}/", {"reason": "Closed down", "confirm": "on"}
    )
    assert response.status_code == 302 and response["Location"] == f"/admin/accounts/customer/{cast.globex.pk}/change/"
    cast.globex.refresh_from_db()
    assert cast.globex.status == "terminated" and not GuaranteeRefund.objects.exists()


def test_refunds_past_due_are_flagged_and_marked_transferred(staff: Client, cast: Cast, acme: Customer) -> None:
    refund = services.customer_terminate(
        customer=acme, reason="moving", actor=cast.staff, now=datetime(2025, 11, 20, 10, tzinfo=WIB)
    )
    assert refund is not None and refund.due_date == date(2025, 12, 1)
    listing = staff.get("/admin/billing/guaranteerefund/?past_due=yes").content.decode()
    assert "Rp 10.000.000" in listing and 'alt="True"' in listing  # due 1 Dec 2025: past due
    action = staff.post(
        "/admin/billing/guaranteerefund/", {"action": "mark_transferred", "_selected_action": [refund.pk]}
    )
    url = f"/admin/billing/guaranteerefund/{refund.pk}/transferred/"
    assert action.status_code == 302 and action["Location"] == url
    assert staff.post(url, {"bank_reference": " "}).status_code == 200
    refund.refresh_from_db()
    assert refund.status == "due"
    done = staff.post(url, {"bank_reference": "BCA-REFUND-1"})
    assert done.status_code == 302 and done["Location"] == change_url(refund)
    refund.refresh_from_db()
    assert (refund.status, refund.bank_reference, refund.transferred_by) == ("transferred", "BCA-REFUND-1", cast.staff)
    assert "BCA-REFUND-1" in staff.get(done["Location"]).content.decode()  # shows (and consumes) the message
    assert "Rp 10.000.000" not in staff.get("/admin/billing/guaranteerefund/?past_due=yes").content.decode()
    assert staff.post(url, {"bank_reference": "BCA-REFUND-2"}).status_code == 200  # once
    refund.refresh_from_db()
    assert refund.bank_reference == "BCA-REFUND-1"


# --- Read-only lists, permissions, query counts ------------------------------------------------------


def test_every_postpaid_admin_page_renders(staff: Client, cast: Cast, acme: Customer) -> None:
    invoice = invoice_month(acme, 2025, 10)
    payment = services.payment_record(invoice=invoice, amount=1_000, reference="BCA-R", recorded_by=cast.staff)
    PendingFee.objects.create(
        customer=acme, reference="fee:1", description="Registrasi sender ID", amount=100_000, month=date(2025, 11, 1)
    )
    with at("2025-10-05T10:00"):
        services.lot_create(customer=cast.globex, amount=500_000, reference="GLOBEX-OCT")
    with at("2025-11-01T00:05"):
        services.statements_issue()
    statement = Statement.objects.get()
    usage = MonthlyUsage.objects.get(customer=acme)
    guarantee = Guarantee.objects.get(customer=acme)
    pages = {
        "/admin/billing/": "Invoice",
        "/admin/billing/guarantee/": "Rp 10.000.000",
        change_url(guarantee): "Rp 20.000.000",
        GUARANTEE_ADD: 'name="amount"',
        f"/admin/billing/guarantee/{guarantee.pk}/cap/": 'name="reason"',
        INVOICES: invoice.number,
        change_url(invoice): "SMS OTP Telkomsel",
        f"/admin/billing/invoice/{invoice.pk}/void/": 'name="reason"',
        "/admin/billing/payment/": "BCA-R",
        change_url(payment): "BCA-R",
        "/admin/billing/pendingfee/": "Registrasi sender ID",
        "/admin/billing/monthlyusage/": "Rp 6.500",
        change_url(usage): "sms:telkomsel",
        "/admin/billing/statement/": "Rp 500.000",
        change_url(statement): f"/admin/billing/statement/{statement.pk}/pdf/",
        "/admin/billing/guaranteerefund/": "0",
        "/admin/billing/ledgerentry/?book__exact=guarantee": "Rp 10.000.000",
    }
    for url, text in pages.items():
        response = staff.get(url)
        assert response.status_code == 200, url
        assert text in response.content.decode(), url
    pdf = staff.get(f"/admin/billing/statement/{statement.pk}/pdf/")
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")
    statement.refresh_from_db()
    assert statement.pdf  # statement_pdf_store


def test_staff_without_the_permission_cannot_record_a_payment(cast: Cast, acme: Customer) -> None:
    invoice = invoice_month(acme, 2025, 10)
    clerk = UserFactory(email="clerk@otp.test", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_invoice"))
    client = signed_in(clerk.email)
    page = client.get(change_url(invoice))
    assert page.status_code == 200 and f"/admin/billing/invoice/{invoice.pk}/pdf/" in page.content.decode()
    assert f"/admin/billing/invoice/{invoice.pk}/pay/" not in page.content.decode()  # not offered either
    for tool in ("pay", "void", "reissue"):
        assert client.post(f"/admin/billing/invoice/{invoice.pk}/{tool}/", {"reason": "x"}).status_code == 403, tool
    assert "record_posting" not in client.get(INVOICES).content.decode()
    assert not Payment.objects.exists() and not Invoice.objects.filter(kind="credit_note").exists()


def test_the_invoice_changelist_reads_a_fixed_number_of_queries(
    staff: Client, acme: Customer, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    """No N+1 on the list: 3 documents cost what 7 cost (credit notes and posted ones included)."""
    invoice_month(acme, 2025, 5)
    services.invoice_void(invoice=invoice_month(acme, 2025, 6), reason="wrong address", actor=None)
    with CaptureQueriesContext(connection) as few:
        assert staff.get(INVOICES).status_code == 200
    posted = [invoice_month(acme, 2025, month) for month in (7, 8, 9)]
    services.invoices_mark_posted(invoices=posted[:1], courier="JNE", tracking_number="1", posted_by=None)
    invoice_month(acme, 2025, 10)
    assert Invoice.objects.count() == 7
    with django_assert_max_num_queries(5), CaptureQueriesContext(connection) as many:
        html = staff.get(INVOICES).content.decode()
    assert html.count('name="_selected_action"') == 7
    assert len(many) == len(few), (len(few), len(many))
