"""Build postpaid invoices the way production does (guarantee deposit,
charges, month close), for the document and export tests."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine

from accounts.models import Customer
from billing.models import Invoice
from billing.services.charging import charge
from billing.services.invoicing import month_close
from billing.services.postpaid import guarantee_deposit
from tests.factories import CustomerFactory

WIB = ZoneInfo("Asia/Jakarta")
NOVEMBER = date(2026, 11, 1)
CLOSE_AT = datetime(2026, 12, 1, 0, 30, tzinfo=WIB)  # the 1st: November is invoiced (R-POST-3)


def postpaid_customer(slug: str = "maju-jaya", **fields: object) -> Customer:
    """A postpaid customer with its Rp 10.000.000 guarantee held (R-POST-1)."""
    values: dict[str, object] = {
        "name": "Maju Jaya",
        "slug": slug,
        "legal_name": "PT Maju Jaya Abadi",
        "npwp": "01.234.567.8-901.000",
        "postal_address": "Jl. Jenderal Sudirman Kav. 52\nJakarta Selatan 12190",
        "mode": Customer.Mode.POSTPAID,
    }
    values.update(fields)
    customer = CustomerFactory(**values)
    with time_machine.travel(datetime(2026, 10, 20, 9, 0, tzinfo=WIB), tick=False):
        guarantee_deposit(customer=customer, amount=10_000_000, reference=f"TRF-{slug}")
    return customer


def send(
    customer: Customer,
    sends: list[tuple[str, str, int]],
    *,
    start: datetime = datetime(2026, 11, 10, 9, 0, tzinfo=WIB),
    prefix: str = "msg",
) -> None:
    """Bill one charge per (channel, operator, units), a minute apart."""
    for i, (channel, operator, units) in enumerate(sends):
        at = start + timedelta(minutes=i)
        with time_machine.travel(at, tick=False):
            charge(
                customer=customer,
                channel=channel,
                operator=operator,
                units=units,
                reference=f"{customer.slug}-{prefix}-{i}",
                phone=f"+62812{i:07d}",
            )


def close_november(customer: Customer) -> Invoice:
    with time_machine.travel(CLOSE_AT, tick=False):
        month_close(month=NOVEMBER)
    return Invoice.objects.get(customer=customer, period=NOVEMBER, kind=Invoice.Kind.INVOICE)
