"""An invoice's life: payments (R-POST-5), reminders, the deduction of an
overdue invoice from the guarantee and the suspension when it cannot cover
it (R-POST-6), voiding with a credit note, and the refusals that write
nothing."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.models import Customer, Membership
from billing import selectors, services
from billing.models import BillingAccount, Guarantee, Invoice, LedgerEntry, Payment
from otpportal.errors import ServiceError
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db
WIB = ZoneInfo("Asia/Jakarta")


def at(day: str, hour: int = 9):  # type: ignore[no-untyped-def]
    return time_machine.travel(datetime.fromisoformat(day).replace(hour=hour, tzinfo=WIB))


@pytest.fixture
def customer() -> Customer:
    customer = CustomerFactory(slug="maju", mode=Customer.Mode.POSTPAID, billing_email="ap@maju.test")
    Membership.objects.create(user=UserFactory(email="boss@maju.test"), customer=customer, role="owner")
    with at("2026-09-20"):
        services.guarantee_deposit(customer=customer, amount=10_000_000, reference="G1")
    return customer


def invoice_for(customer: Customer, units: int, *, month: str = "2026-10") -> Invoice:
    """An October invoice for ``units`` SMS to Telkomsel, issued on 1 November."""
    with at(f"{month}-10"):
        services.charge(customer=customer, channel="sms", operator="telkomsel", units=units, reference=f"m-{month}")
    year, mon = map(int, month.split("-"))
    close_day = f"{year + (mon == 12)}-{(mon % 12) + 1:02d}-01"
    with at(close_day, 0):
        services.month_close()
    return Invoice.objects.get(customer=customer, period=date(year, mon, 1))


@pytest.fixture
def staff():  # type: ignore[no-untyped-def]
    return UserFactory(email="finance@otp.test", is_staff=True)


def test_partial_then_full_payment(customer: Customer, staff) -> None:  # type: ignore[no-untyped-def]
    invoice = invoice_for(customer, 1_000)  # tier 2: 630.000 + PPN 69.300 = 699.300
    assert invoice.total == 699_300
    with at("2026-11-05"):
        services.payment_record(invoice=invoice, amount=300_000, reference="BCA-P1", recorded_by=staff)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_amount, invoice.outstanding) == ("issued", 300_000, 399_300)
    with at("2026-11-06"):
        services.payment_record(invoice=invoice, amount=399_300, reference="BCA-P2", recorded_by=staff)
    invoice.refresh_from_db()
    assert invoice.status == "paid" and invoice.outstanding == 0
    assert [(h.old, h.new) for h in invoice.history.all()] == [("", "issued"), ("issued", "paid")]
    assert invoice.history.last().actor == staff


def test_refusals_write_nothing(customer: Customer, staff) -> None:  # type: ignore[no-untyped-def]
    invoice = invoice_for(customer, 10)
    with at("2026-11-05"):
        with pytest.raises(ServiceError) as too_much:
            services.payment_record(invoice=invoice, amount=invoice.total + 1, reference="X", recorded_by=staff)
        assert too_much.value.code == "payment_too_large"
        with pytest.raises(ServiceError) as future:
            services.payment_record(
                invoice=invoice, amount=100, reference="X", paid_on=date(2026, 11, 6), recorded_by=staff
            )
        assert future.value.details == {"paid_on": ["In the future."]}
        note = services.invoice_void(invoice=invoice, reason="wrong legal name", actor=staff)
        with pytest.raises(ServiceError) as void:
            services.payment_record(invoice=invoice, amount=100, reference="X", recorded_by=staff)
        assert void.value.code == "invoice_not_open"
        with pytest.raises(ServiceError) as twice:
            services.invoice_void(invoice=invoice, reason="again", actor=staff)
        assert twice.value.code == "invoice_not_open"
    assert Payment.objects.count() == 0
    assert note.kind == "credit_note"


def test_a_void_invoice_keeps_its_number_and_gets_a_credit_note(customer: Customer, staff) -> None:  # type: ignore[no-untyped-def]
    invoice = invoice_for(customer, 10)
    with at("2026-11-03"):
        note = services.invoice_void(invoice=invoice, reason="wrong NPWP", actor=staff)
    invoice.refresh_from_db()
    assert invoice.status == "void" and invoice.number == "INV/2026/000001"
    assert note.number == "CN/2026/000001" and note.credit_note_for == invoice
    assert (note.subtotal, note.ppn, note.total) == (-invoice.subtotal, -invoice.ppn, -invoice.total)
    assert [line.amount for line in note.lines.all()] == [-line.amount for line in invoice.lines.all()]
    assert "CN/2026/000001" in invoice.history.last().reason
    with at("2026-11-04"):
        again = services.invoice_reissue(invoice=invoice, actor=staff)
    assert again.number == "INV/2026/000002" and again.total == invoice.total
    with at("2026-11-04"), pytest.raises(ServiceError) as twice:
        services.invoice_reissue(invoice=invoice, actor=staff)
    assert twice.value.code == "invoice_not_open" and "INV/2026/000002" in twice.value.message
    with at("2026-11-04"), pytest.raises(ServiceError):
        services.invoice_void(invoice=Invoice(pk=invoice.pk, kind="invoice", status="paid"), reason="x", actor=staff)


def test_a_partly_paid_invoice_cannot_be_voided(customer: Customer, staff) -> None:  # type: ignore[no-untyped-def]
    invoice = invoice_for(customer, 10)
    with at("2026-11-05"):
        services.payment_record(invoice=invoice, amount=1_000, reference="P", recorded_by=staff)
        with pytest.raises(ServiceError) as refused:
            services.invoice_void(invoice=invoice, reason="x", actor=staff)
    assert refused.value.code == "invoice_not_open"
    assert not Invoice.objects.filter(kind="credit_note").exists()


def test_reminders_three_days_before_and_on_the_due_date_once_each(
    customer: Customer,
    mailoutbox,
    eager_celery,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    invoice = invoice_for(customer, 10)
    assert invoice.due_date == date(2026, 11, 15)
    mailoutbox.clear()
    for day, expected in [
        ("2026-11-11", 0),
        ("2026-11-12", 1),
        ("2026-11-13", 0),
        ("2026-11-15", 1),
        ("2026-11-16", 0),
    ]:
        with at(day, 0), django_capture_on_commit_callbacks(execute=True):
            assert services.invoices_remind(today=date.fromisoformat(day)) == expected, day
    assert [m.subject for m in mailoutbox] == [
        "Pengingat: invoice INV/2026/000001 jatuh tempo pada 15 November 2026",
        "Invoice INV/2026/000001 jatuh tempo hari ini",
    ]
    assert all("ap@maju.test" in m.to and "boss@maju.test" in m.to for m in mailoutbox)


def test_a_paid_invoice_gets_no_reminder(customer: Customer, staff) -> None:  # type: ignore[no-untyped-def]
    invoice = invoice_for(customer, 10)
    with at("2026-11-02"):
        services.payment_record(invoice=invoice, amount=invoice.total, reference="P", recorded_by=staff)
    with at("2026-11-12", 0):
        assert services.invoices_remind(today=date(2026, 11, 12)) == 0


def test_an_invoice_unpaid_at_the_end_of_its_month_is_paid_from_the_guarantee(
    customer: Customer,
    mailoutbox,
    eager_celery,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    """R-POST-6: issued 1 November, unpaid on 30 November: the run of
    1 December (00:10 WIB, right after the month ends) takes it from the guarantee."""
    invoice = invoice_for(customer, 1_000)  # 699.300
    with at("2026-11-30", 23):
        assert services.invoices_settle_overdue(today=date(2026, 11, 30)).settled == 0  # the month has not ended
    mailoutbox.clear()
    with at("2026-12-01", 0), django_capture_on_commit_callbacks(execute=True):
        summary = services.invoices_settle_overdue(today=date(2026, 12, 1))
    assert (summary.settled, summary.partly, summary.suspended) == (1, 0, 0)
    invoice.refresh_from_db()
    assert invoice.status == "paid_by_deduction" and invoice.outstanding == 0
    assert Guarantee.objects.get(customer=customer).held == 10_000_000 - 699_300
    entry = LedgerEntry.objects.get(kind="deduction")
    assert (entry.book, entry.amount, entry.invoice) == ("guarantee", -699_300, invoice)
    assert services.reconcile() == []
    assert [m.subject for m in mailoutbox] == ["Invoice INV/2026/000001 dibayar dari deposit jaminan Anda"]
    # The cap follows the guarantee that is left (R-POST-6).
    assert selectors.postpaid_position(customer=customer).cap == 2 * (10_000_000 - 699_300)
    with at("2026-12-02", 0):  # idempotent
        assert services.invoices_settle_overdue(today=date(2026, 12, 2)) == services.invoices_settle_overdue(
            today=date(2026, 12, 2)
        )
    assert LedgerEntry.objects.filter(kind="deduction").count() == 1


def test_a_guarantee_that_cannot_cover_it_suspends_until_staff_record_the_payment(
    customer: Customer,
    staff,
    mailoutbox,
    eager_celery,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    invoice = invoice_for(customer, 16_000)  # tier 4: 600 × 16.000 = 9.600.000 + PPN 1.056.000 = 10.656.000
    assert invoice.total == 10_656_000
    mailoutbox.clear()
    with at("2026-12-01", 0), django_capture_on_commit_callbacks(execute=True):
        summary = services.invoices_settle_overdue(today=date(2026, 12, 1))
    assert (summary.settled, summary.partly, summary.suspended) == (0, 1, 1)
    invoice.refresh_from_db()
    customer.refresh_from_db()
    assert (invoice.status, invoice.paid_amount, invoice.outstanding) == ("issued", 10_000_000, 656_000)
    assert customer.status == "suspended"
    assert BillingAccount.objects.get(customer=customer).suspended_for_nonpayment_at is not None
    assert Guarantee.objects.get(customer=customer).held == 0
    subjects = [m.subject for m in mailoutbox]
    assert "Pengiriman dihentikan: ada invoice yang belum dibayar" in subjects
    with at("2026-12-02", 0), django_capture_on_commit_callbacks(execute=True):
        assert services.invoices_settle_overdue(today=date(2026, 12, 2)).suspended == 0  # once
    # Sends are refused while suspended (the API answers account_suspended).
    from accounts import services as accounts
    from tests.conftest import api_client

    key = accounts.api_key_create(customer=customer).secret
    refused = api_client(key).post("/api/v1/verifications", {"to": "081234567890"}, format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "account_suspended"
    with at("2026-12-03"), django_capture_on_commit_callbacks(execute=True):
        services.payment_record(invoice=invoice, amount=656_000, reference="BCA-LATE", recorded_by=staff)
    customer.refresh_from_db()
    invoice.refresh_from_db()
    assert customer.status == "active" and invoice.status == "paid"
    assert BillingAccount.objects.get(customer=customer).suspended_for_nonpayment_at is None
    assert "Pengiriman dilanjutkan" in [m.subject for m in mailoutbox]


def test_staff_suspension_is_not_lifted_by_a_payment(customer: Customer, staff) -> None:  # type: ignore[no-untyped-def]
    from accounts import services as accounts

    invoice = invoice_for(customer, 10)
    accounts.customer_set_status(customer=customer, status="suspended")
    with at("2026-11-05"):
        services.payment_record(invoice=invoice, amount=invoice.total, reference="P", recorded_by=staff)
    customer.refresh_from_db()
    assert customer.status == "suspended"


def test_posting_paper_copies_records_courier_and_tracking(customer: Customer, staff) -> None:  # type: ignore[no-untyped-def]
    invoice = invoice_for(customer, 10)
    with pytest.raises(ServiceError):
        services.invoices_mark_posted(invoices=[invoice], courier="JNE", tracking_number="", posted_by=staff)
    assert (
        services.invoices_mark_posted(invoices=[invoice], courier="JNE", tracking_number="JNE123", posted_by=staff) == 1
    )
    assert (
        services.invoices_mark_posted(invoices=[invoice], courier="JNE", tracking_number="JNE999", posted_by=staff) == 0
    )
    invoice.refresh_from_db()
    assert (invoice.courier, invoice.tracking_number, invoice.posted_by) == ("JNE", "JNE123", staff)


def test_run_daily_reminds_and_settles_overdue_invoices(customer: Customer) -> None:
    from io import StringIO

    from django.core.management import call_command

    invoice = invoice_for(customer, 10)
    out = StringIO()
    with at("2026-11-12", 0):
        call_command("run_daily", stdout=out)
    assert "invoice_reminders=1" in out.getvalue()
    with at("2026-12-01", 0):
        call_command("run_daily", stdout=out)
        call_command("run_daily", stdout=out)  # twice: nothing more
    invoice.refresh_from_db()
    assert invoice.status == "paid_by_deduction"
    assert "invoices_paid_from_guarantee=1" in out.getvalue()
    assert LedgerEntry.objects.filter(kind="deduction").count() == 1
