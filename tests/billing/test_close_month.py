"""R-POST-3 and R-POST-8 through `close_month`: volume pricing at the tier
the month reaches, lines per channel and operator, DPP and PPN, gapless
numbers, idempotent runs, and a month that has not ended refused."""

from __future__ import annotations

from datetime import date, datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command

from accounts.models import Customer
from billing import services
from billing.models import Invoice, InvoiceStatusChange, NumberSeries, PendingFee
from billing.services.invoicing import number_allocate, vat_breakdown
from otpportal.errors import ServiceError
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
WIB = ZoneInfo("Asia/Jakarta")
IN_OCTOBER = datetime(2026, 10, 15, 10, 0, tzinfo=WIB)
CLOSE = datetime(2026, 11, 1, 0, 5, tzinfo=WIB)


def postpaid(slug: str, guarantee: int = 100_000_000) -> Customer:
    customer = CustomerFactory(
        slug=slug,
        mode=Customer.Mode.POSTPAID,
        legal_name=f"PT {slug.title()} Tbk",
        npwp="01.234.567.8-901.000",
        postal_address="Jl. Sudirman 1, Jakarta",
    )
    services.guarantee_deposit(customer=customer, amount=guarantee, reference=f"G-{slug}")
    return customer


def usage(customer: Customer, reference: str, units: int, channel: str = "sms", operator: str = "telkomsel") -> None:
    with time_machine.travel(IN_OCTOBER):
        services.charge(
            customer=customer,
            channel=channel,
            operator=operator if channel == "sms" else "",
            units=units,
            reference=reference,
        )


def close(**kwargs: object):  # type: ignore[no-untyped-def]
    with time_machine.travel(CLOSE):
        return services.month_close(**kwargs)


@pytest.mark.parametrize(
    ("units", "tier", "price"),
    [
        (999, 1, 650),
        (1_000, 2, 630),
        (4_999, 2, 630),
        (5_000, 3, 610),
        (9_999, 3, 610),
        (10_000, 4, 600),
        (24_999, 4, 600),
        (25_000, 5, 590),
        (99_999, 5, 590),
        (100_000, 6, 580),
    ],
)
def test_every_unit_is_priced_at_the_tier_the_month_reaches(units: int, tier: int, price: int) -> None:
    """R-POST-3: volume pricing, not graduated: 100.000 units are all at tier 6."""
    customer = postpaid("acme")
    usage(customer, "half", units // 2)
    usage(customer, "rest", units - units // 2)
    assert close().issued == 1
    invoice = Invoice.objects.get(customer=customer)
    assert (invoice.tier, invoice.units) == (tier, units)
    [line] = invoice.lines.all()
    assert (line.units, line.unit_price, line.amount) == (units, price, units * price)
    assert invoice.subtotal == units * price


def test_lines_per_channel_and_operator_with_fees_and_vat() -> None:
    customer = postpaid("toko")
    usage(customer, "t", 600)
    usage(customer, "x", 300, operator="xl")
    usage(customer, "s", 50, operator="smartfren")
    usage(customer, "w", 40, channel="wa")
    usage(customer, "o", 10, channel="wa_official")
    PendingFee.objects.create(
        customer=customer,
        reference="sid:smartfren:1",
        description="Registrasi sender ID TOKO (Smartfren)",
        amount=100_000,
        month=date(2026, 10, 1),
    )
    PendingFee.objects.create(  # next month's fee waits for next month's invoice
        customer=customer, reference="sid:three:1", description="x", amount=300_000, month=date(2026, 11, 1)
    )
    close()
    invoice = Invoice.objects.get(customer=customer)
    lines = [(line.description, line.units, line.unit_price, line.amount) for line in invoice.lines.all()]
    # 1.000 units in the month: tier 2 for every line.
    assert lines == [
        ("SMS OTP Telkomsel", 600, 630, 378_000),
        ("SMS OTP XL-Axiata", 300, 670, 201_000),
        ("SMS OTP Smartfren", 50, 750, 37_500),
        ("WhatsApp OTP", 40, 340, 13_600),
        ("WhatsApp Official OTP", 10, 430, 4_300),
        ("Registrasi sender ID TOKO (Smartfren)", 1, 100_000, 100_000),
    ]
    assert invoice.subtotal == 734_400
    assert (invoice.dpp, invoice.ppn, invoice.total) == (673_200, 80_784, 815_184)
    assert PendingFee.objects.get(reference="sid:smartfren:1").invoice == invoice
    assert PendingFee.objects.get(reference="sid:three:1").invoice is None
    assert invoice.due_date == date(2026, 11, 15)  # R-POST-5: 14 days after the invoice date
    assert invoice.bill_to["legal_name"] == "PT Toko Tbk" and invoice.bill_to["npwp"] == "01.234.567.8-901.000"
    assert [(h.old, h.new) for h in InvoiceStatusChange.objects.filter(invoice=invoice)] == [("", "issued")]


def test_dpp_and_ppn_on_a_worked_example(settings) -> None:  # type: ignore[no-untyped-def]
    """R-POST-8: subtotal 826.780 → DPP 11/12 = 757.881,67 → 757.882 (half up);
    PPN 12 % = 90.945,84 → 90.946; total 917.726 (11 % of the subtotal would be 90.945,80)."""
    totals = vat_breakdown(826_780)
    assert (totals.subtotal, totals.dpp, totals.ppn, totals.total) == (826_780, 757_882, 90_946, 917_726)
    assert vat_breakdown(12) == vat_breakdown(12)  # pure
    assert (vat_breakdown(12).dpp, vat_breakdown(12).ppn) == (11, 1)
    assert (vat_breakdown(6).dpp, vat_breakdown(6).ppn) == (6, 1)  # 5,5 → 6; 0,72 → 1
    settings.VAT_ENABLED = False
    assert vat_breakdown(826_780).total == 826_780 and vat_breakdown(826_780).ppn == 0


def test_a_second_run_issues_and_sends_nothing(
    mailoutbox,
    eager_celery,
    django_capture_on_commit_callbacks,
    settings,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    settings.MEDIA_ROOT = tmp_path
    a, b = postpaid("alpha"), postpaid("beta")
    usage(a, "a1", 10)
    usage(b, "b1", 20)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = close()
    assert (first.issued, first.skipped) == (2, 0)
    assert len(callbacks) == 1  # the whole batch is enqueued once, after commit
    assert sorted(m.subject.split()[1] for m in mailoutbox) == ["INV/2026/000001", "INV/2026/000002"]
    assert all(len(m.attachments) == 2 for m in mailoutbox)  # the PDF and the CSV
    with django_capture_on_commit_callbacks(execute=True) as again:
        second = close()
    assert (second.issued, second.skipped) == (0, 2)
    assert again == []
    assert len(mailoutbox) == 2
    assert sorted(Invoice.objects.values_list("number", flat=True)) == ["INV/2026/000001", "INV/2026/000002"]


def test_reversed_and_prepaid_charges_are_not_invoiced_and_quiet_customers_get_none() -> None:
    customer = postpaid("gamma")
    postpaid("quiet")
    usage(customer, "kept", 5)
    usage(customer, "refused", 7)
    from billing.models import Charge

    services.reverse(charge=Charge.objects.get(reference="refused"), reason="refused by the SMSC")
    prepaid = CustomerFactory(slug="prepaid")
    with time_machine.travel(IN_OCTOBER):
        services.lot_create(customer=prepaid, amount=100_000, reference="p")
    usage(prepaid, "p1", 3)
    summary = close()
    assert summary.issued == 1
    assert Invoice.objects.get().units == 5


def test_a_month_that_has_not_ended_is_refused() -> None:
    customer = postpaid("delta")
    usage(customer, "d", 1)
    with time_machine.travel(datetime(2026, 10, 31, 23, 59, tzinfo=WIB)), pytest.raises(ServiceError) as refused:
        services.month_close(month=date(2026, 10, 1))
    assert refused.value.code == "month_not_ended"
    with (
        time_machine.travel(datetime(2026, 10, 31, 23, 59, tzinfo=WIB)),
        pytest.raises(CommandError, match="not ended"),
    ):
        call_command("close_month", "--month", "2026-10")
    assert Invoice.objects.count() == 0


def test_the_command_closes_the_previous_month_by_default() -> None:
    customer = postpaid("epsilon")
    usage(customer, "e", 3)
    out = StringIO()
    with time_machine.travel(CLOSE):
        call_command("close_month", stdout=out)
        call_command("close_month", "--month", "2026-10", stdout=out)
    assert "2026-10: 1 invoice(s) issued" in out.getvalue()
    assert "2026-10: 0 invoice(s) issued, 1 already issued or empty" in out.getvalue()
    with pytest.raises(CommandError, match="2026-10"):
        call_command("close_month", "--month", "October")


def test_numbers_are_per_year_and_start_again_in_january() -> None:
    NumberSeries.objects.create(series="INV", year=2026, last=122)
    assert number_allocate(series="INV", year=2026) == "INV/2026/000123"
    assert number_allocate(series="INV", year=2027) == "INV/2027/000001"
    assert number_allocate(series="CN", year=2026) == "CN/2026/000001"


def test_a_price_list_that_changes_mid_month_never_reprices_the_units_sent_before() -> None:
    """R-PL-1: units sent under the old list keep the old list's price at the month's tier."""
    customer = postpaid("zeta")
    usage(customer, "old", 10)
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[2] / "billing" / "data" / "price-list-2023-11-01.csv"
    text = shipped.read_text().replace("2023-11-01", "2026-10-20").replace("telkomsel,650\n", "telkomsel,700\n")
    with time_machine.travel(datetime(2026, 10, 16, tzinfo=WIB)):
        services.price_list_import(data=text)
    with time_machine.travel(datetime(2026, 10, 25, tzinfo=WIB)):
        services.charge(customer=customer, channel="sms", operator="telkomsel", units=10, reference="new")
    close()
    lines = [(line.units, line.unit_price) for line in Invoice.objects.get(customer=customer).lines.all()]
    assert sorted(lines) == [(10, 650), (10, 700)]
