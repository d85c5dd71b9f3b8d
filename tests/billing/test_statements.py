"""Prepaid monthly statements: opening and closing balance, top-ups, usage
per channel and operator, forfeitures; built from the ledger in SQL."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from billing import services
from billing.models import Charge, Statement
from otpportal.errors import ServiceError
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
WIB = ZoneInfo("Asia/Jakarta")


def at(moment: str):  # type: ignore[no-untyped-def]
    return time_machine.travel(datetime.fromisoformat(moment).replace(tzinfo=WIB))


def test_a_statement_adds_up_from_opening_to_closing_balance(settings) -> None:  # type: ignore[no-untyped-def]
    customer = CustomerFactory(slug="warung")
    with at("2026-09-20T10:00"):
        services.lot_create(customer=customer, amount=100_000, reference="sept")
        services.charge(customer=customer, channel="sms", operator="telkomsel", units=1, reference="s1")
    with at("2026-10-05T10:00"):
        services.lot_create(customer=customer, amount=500_000, reference="oct")
        services.charge(customer=customer, channel="sms", operator="telkomsel", units=2, reference="o1")
        services.charge(customer=customer, channel="sms", operator="xl", units=1, reference="o2")
        refused = services.charge(customer=customer, channel="wa", operator="", units=1, reference="o3")
        services.reverse(charge=refused, reason="refused")
        services.charge(customer=customer, channel="wa", operator="", units=1, reference="o4")
    with at("2026-11-01T00:05"):
        assert services.statements_issue() == 1
        assert services.statements_issue() == 0  # idempotent
    statement = Statement.objects.get(customer=customer)
    assert statement.period == date(2026, 10, 1)
    assert statement.opening_balance == 100_000 - 650
    assert statement.top_ups == 500_000
    # The Sept lot (tier 1) is drawn first: 2 × 650 + 690 + 350 (the reversed WA gave its 350 back).
    assert statement.usage == 1_300 + 690 + 350
    assert statement.forfeited == 0
    assert statement.closing_balance == statement.opening_balance + 500_000 - statement.usage
    lines = {(line["channel"], line["operator"]): (line["units"], line["amount"]) for line in statement.lines}
    assert lines == {("sms", "telkomsel"): (2, 1_300), ("sms", "xl"): (1, 690), ("wa", ""): (1, 350)}
    assert Charge.objects.filter(customer=customer, reversed_at__isnull=False).count() == 1


def test_no_statement_for_an_empty_account_or_a_month_not_ended() -> None:
    CustomerFactory(slug="kosong")
    with at("2026-11-01T00:05"):
        assert services.statements_issue() == 0
    with at("2026-10-31T23:00"), pytest.raises(ServiceError) as refused:
        services.statements_issue(month=date(2026, 10, 1))
    assert refused.value.code == "month_not_ended"
