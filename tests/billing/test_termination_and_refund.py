"""R-POST-7: termination refunds the guarantee less unpaid invoices within 7
working days (weekends, public holidays and collective leave skipped)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.models import Customer
from billing import services
from billing.models import Guarantee, GuaranteeRefund, Invoice, LedgerEntry
from otpportal.errors import ServiceError
from otpportal.workdays import add_working_days, day_off_name, is_working_day
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db
WIB = ZoneInfo("Asia/Jakarta")


def at(moment: str):  # type: ignore[no-untyped-def]
    return time_machine.travel(datetime.fromisoformat(moment).replace(tzinfo=WIB))


@pytest.fixture
def customer() -> Customer:
    customer = CustomerFactory(slug="selesai", mode=Customer.Mode.POSTPAID)
    with at("2026-01-05T09:00"):
        services.guarantee_deposit(customer=customer, amount=10_000_000, reference="G1")
    return customer


def test_working_days_skip_weekends_holidays_and_collective_leave(settings) -> None:  # type: ignore[no-untyped-def]
    # Idul Fitri 2026: cuti bersama Fri 20 March, holidays Sat 21 - Sun 22, cuti bersama Mon 23 - Tue 24 March.
    assert day_off_name(date(2026, 3, 20)) == "Cuti Bersama Hari Raya Idul Fitri"
    assert not is_working_day(date(2026, 3, 20)) and not is_working_day(date(2026, 3, 24))
    assert is_working_day(date(2026, 3, 25))
    # Nyepi Thu 19 March, cuti bersama Wed 18 March. From Mon 16 March: 17 (1), 25 (2), 26 (3), 27 (4), 30 (5), 31 (6), 1 Apr (7).
    assert add_working_days(date(2026, 3, 16), 7) == date(2026, 4, 1)
    settings.WORKING_DAYS_SKIP_COLLECTIVE_LEAVE = False  # policy off: collective leave counts as working
    # 17, 18 (cuti bersama), 20 (cuti bersama), 23, 24, 25, 26
    assert add_working_days(date(2026, 3, 16), 7) == date(2026, 3, 26)
    assert add_working_days(date(2026, 11, 27), 1) == date(2026, 11, 30)  # Friday -> Monday


def test_termination_invoices_the_month_so_far_pays_it_from_the_guarantee_and_refunds_the_rest(
    customer: Customer,
) -> None:
    staff = UserFactory(is_staff=True)
    with at("2026-03-10T10:00"):
        services.charge(customer=customer, channel="sms", operator="telkomsel", units=100, reference="m1")
    with at("2026-03-16T10:00"):  # a Monday before Nyepi and Idul Fitri
        refund = services.customer_terminate(customer=customer, reason="contract ended", actor=staff)
    customer.refresh_from_db()
    assert customer.status == "terminated"
    final = Invoice.objects.get(customer=customer)
    assert final.total == 72_150  # 100 × 650 = 65.000 + PPN 7.150
    assert final.status == "paid_by_deduction"
    assert refund is not None and refund.amount == 10_000_000 - 72_150
    assert refund.due_date == date(2026, 4, 1)  # 7 working days, across Nyepi and Idul Fitri leave
    assert Guarantee.objects.get(customer=customer).held == 0
    kinds = list(LedgerEntry.objects.filter(customer=customer).order_by("id").values_list("kind", "amount"))
    assert kinds == [("guarantee", 10_000_000), ("deduction", -72_150), ("refund", -(10_000_000 - 72_150))]
    assert services.reconcile() == []
    # Terminated: nothing more can be sent or deposited, and a second termination is refused.
    with at("2026-03-17T10:00"), pytest.raises(ServiceError) as again:
        services.customer_terminate(customer=customer, reason="again", actor=staff)
    assert again.value.code == "already_terminated"
    assert GuaranteeRefund.objects.count() == 1


def test_an_unpaid_invoice_larger_than_the_guarantee_leaves_nothing_to_refund(customer: Customer) -> None:
    with at("2026-02-10T10:00"):
        services.charge(customer=customer, channel="sms", operator="telkomsel", units=16_000, reference="big")
    with at("2026-03-01T00:05"):
        services.month_close()
    with at("2026-03-02T10:00"):
        refund = services.customer_terminate(customer=customer, reason="closing down", actor=None)
    invoice = Invoice.objects.get(customer=customer)
    assert refund is not None and refund.amount == 0
    assert invoice.outstanding == 10_656_000 - 10_000_000
    assert invoice.status == "issued"


def test_marking_a_refund_transferred_and_flagging_late_ones(customer: Customer) -> None:
    staff = UserFactory(is_staff=True)
    with at("2026-11-20T10:00"):
        refund = services.customer_terminate(customer=customer, reason="moving to another vendor", actor=staff)
    assert refund is not None and refund.amount == 10_000_000
    assert refund.due_date == date(2026, 12, 1)
    with pytest.raises(ServiceError):
        services.refund_mark_transferred(refund=refund, bank_reference=" ", transferred_by=staff)
    done = services.refund_mark_transferred(refund=refund, bank_reference="BCA-REF-1", transferred_by=staff)
    assert done.status == "transferred" and done.bank_reference == "BCA-REF-1"
    with pytest.raises(ServiceError):
        services.refund_mark_transferred(refund=refund, bank_reference="BCA-REF-2", transferred_by=staff)


def test_a_prepaid_customer_is_terminated_without_refund() -> None:
    prepaid = CustomerFactory(slug="pre")
    services.lot_create(customer=prepaid, amount=100_000, reference="l")
    assert services.customer_terminate(customer=prepaid, reason="closed", actor=None) is None
    prepaid.refresh_from_db()
    assert prepaid.status == "terminated"
    assert GuaranteeRefund.objects.count() == 0
