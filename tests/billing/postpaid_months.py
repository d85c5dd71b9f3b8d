"""Postpaid months built the way production builds them (a guarantee
deposit, charges, the month-end run), for the dashboard and admin tests of
the postpaid pages. Dates are in 2025, so every due date has passed."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import time_machine
from django.test import Client

from accounts.models import Customer
from billing import services
from billing.models import Invoice

WIB = ZoneInfo("Asia/Jakarta")


def at(moment: str) -> AbstractContextManager[Any]:
    """Travel to a Jakarta wall-clock moment, e.g. ``at("2025-11-01T00:05")``."""
    return time_machine.travel(datetime.fromisoformat(moment).replace(tzinfo=WIB), tick=False)


def english(client: Client) -> Client:
    """The same client in English (the source language), so page texts can be checked before translation."""
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    return client


def make_postpaid(customer: Customer, *, guarantee: int | None = 10_000_000) -> Customer:
    """Switch a cast customer to postpaid and, unless ``guarantee`` is None, lodge its guarantee (R-POST-1)."""
    Customer.objects.filter(pk=customer.pk).update(mode=Customer.Mode.POSTPAID)
    customer.refresh_from_db()
    if guarantee:
        with at("2025-01-06T09:00"):
            services.guarantee_deposit(customer=customer, amount=guarantee, reference=f"G-{customer.slug}")
    return customer


def invoice_month(customer: Customer, year: int, month: int, units: int = 10) -> Invoice:
    """``units`` SMS to Telkomsel on the 10th, invoiced on the 1st of the next month (R-POST-3)."""
    with at(f"{year}-{month:02d}-10T10:00"):
        services.charge(
            customer=customer,
            channel="sms",
            operator="telkomsel",
            units=units,
            reference=f"{customer.slug}-{year}{month:02d}",
            phone="+6281200000001",
        )
    close_year, close_month = (year + 1, 1) if month == 12 else (year, month + 1)
    with at(f"{close_year}-{close_month:02d}-01T00:05"):
        services.month_close(month=date(year, month, 1))
    return Invoice.objects.get(
        customer=customer, period=date(year, month, 1), kind=Invoice.Kind.INVOICE, status=Invoice.Status.ISSUED
    )


def document_key(invoice: Invoice) -> str:
    """An invoice number as the dashboard's URLs write it."""
    return invoice.number.replace("/", "-")
