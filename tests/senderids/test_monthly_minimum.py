"""R-SID-5: a customer that held an active sender ID when a month began and
sent fewer than 1.000 SMS in it is charged the shortfall at its current
Telkomsel SMS price, by billing's month-end run (our registered step runs
before the invoices), once, with an email. Time travels across the month
boundary in Asia/Jakarta."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import time_machine
from django.core import mail

from billing import services as billing
from billing.models import Invoice, InvoiceLine, LedgerEntry, PendingFee
from billing.monthend import _steps, month_end_run
from senderids.services import shortfalls_charge
from tests.billing.postpaid_builders import postpaid_customer
from tests.conftest import Cast
from tests.senderids.helpers import WIB, activate, apply, registration

pytestmark = pytest.mark.django_db

JAN_5 = datetime(2026, 1, 5, 9, 0, tzinfo=WIB)
MARCH_RUN = datetime(2026, 3, 1, 0, 5, tzinfo=WIB)  # beat: close_month at 00:05 WIB on the 1st


def sms(cast_customer, units: int, at: datetime, reference: str, operator: str = "telkomsel") -> None:  # type: ignore[no-untyped-def]
    billing.charge(customer=cast_customer, channel="sms", operator=operator, units=units, reference=reference, now=at)


@pytest.fixture
def active_since_january(cast: Cast) -> Cast:
    """Acme: one Rp 2.500.000 top-up (tier 3: Telkomsel SMS Rp 610) on 5 January, TOKOKU active on XL from 20 January."""
    with time_machine.travel(JAN_5, tick=False):
        billing.lot_create(customer=cast.acme, amount=2_500_000, reference="ACME-JAN")
        result = apply(cast, operators=["xl"])
    activate(registration(result, "xl"), cast.staff, now=datetime(2026, 1, 20, 14, 0, tzinfo=WIB))
    return cast


def shortfall_entries(cast: Cast) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(customer=cast.acme, kind="shortfall"))


def test_our_step_is_registered_with_the_month_end_run() -> None:
    assert _steps["senderids-shortfall"] is shortfalls_charge


def test_the_month_a_sender_id_is_activated_in_is_not_charged_policy_r_sid_5(active_since_january: Cast) -> None:
    with time_machine.travel(datetime(2026, 2, 1, 0, 5, tzinfo=WIB), tick=False):
        result = month_end_run()
    assert result["senderids-shortfall"] == {"customers": 0, "amount": 0}
    assert shortfall_entries(active_since_january) == []


def test_the_shortfall_counts_sms_up_to_the_last_second_of_the_month_wib_r_sid_5(  # type: ignore[no-untyped-def]
    active_since_january: Cast, eager: None, django_capture_on_commit_callbacks
) -> None:
    acme = active_since_january.acme
    sms(acme, 400, datetime(2026, 2, 10, 9, 0, tzinfo=WIB), "feb-1", operator="xl")
    sms(acme, 1, datetime(2026, 2, 28, 23, 59, 59, tzinfo=WIB), "feb-last")  # still February in Jakarta
    sms(acme, 1, datetime(2026, 3, 1, 0, 0, 0, tzinfo=WIB), "march-first")  # March: not counted
    sms(acme, 2, datetime(2026, 1, 31, 23, 59, 59, tzinfo=WIB), "jan-last")  # January: not counted
    mail.outbox.clear()
    with time_machine.travel(MARCH_RUN, tick=False), django_capture_on_commit_callbacks(execute=True):
        result = month_end_run()
    short = 1_000 - 401
    assert result["month"] == "2026-02"
    assert result["senderids-shortfall"] == {"customers": 1, "amount": short * 610}
    [entry] = shortfall_entries(active_since_january)
    assert entry.amount == -short * 610 and "2026-02" in entry.memo
    [email] = [m for m in mail.outbox if "owner@acme.test" in m.to and not m.attachments]  # the statement has a PDF
    assert "599" in email.body and "401" in email.body and "R-SID" not in email.body


def test_a_rerun_of_the_month_charges_and_emails_nothing_more_r_sid_5(  # type: ignore[no-untyped-def]
    active_since_january: Cast, eager: None, django_capture_on_commit_callbacks
) -> None:
    with time_machine.travel(MARCH_RUN, tick=False), django_capture_on_commit_callbacks(execute=True):
        month_end_run()
    mail.outbox.clear()
    with (
        time_machine.travel(datetime(2026, 3, 2, 8, 0, tzinfo=WIB), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        again = month_end_run(month=date(2026, 2, 1))
    assert again["senderids-shortfall"] == {"customers": 0, "amount": 0}
    assert len(shortfall_entries(active_since_january)) == 1
    assert [m for m in mail.outbox if not m.attachments] == []


def test_a_thousand_sms_owe_nothing(active_since_january: Cast) -> None:
    sms(active_since_january.acme, 1_000, datetime(2026, 2, 3, 9, 0, tzinfo=WIB), "feb-all")
    with time_machine.travel(MARCH_RUN, tick=False):
        month_end_run()
    assert shortfall_entries(active_since_january) == []


def test_reversed_sms_do_not_count(active_since_january: Cast) -> None:
    acme = active_since_january.acme
    sms(acme, 1_000, datetime(2026, 2, 3, 9, 0, tzinfo=WIB), "feb-refused")
    billing.reverse(charge=acme.charges.get(reference="feb-refused"), reason="SMSC refused")
    with time_machine.travel(MARCH_RUN, tick=False):
        month_end_run()
    [entry] = shortfall_entries(active_since_january)
    assert entry.amount == -1_000 * 610


def test_a_sender_id_suspended_during_the_month_still_owes_that_month(active_since_january: Cast) -> None:
    """It was active when February began; from March on it is not."""
    row = registration(active_since_january.acme.sender_ids.get(), "xl")
    from senderids import services

    services.registration_move(
        registration=row, new="suspended", note="operator", actor=None, now=datetime(2026, 2, 10, 9, 0, tzinfo=WIB)
    )
    with time_machine.travel(MARCH_RUN, tick=False):
        month_end_run()
    assert len(shortfall_entries(active_since_january)) == 1
    with time_machine.travel(datetime(2026, 4, 1, 0, 5, tzinfo=WIB), tick=False):
        month_end_run()
    assert len(shortfall_entries(active_since_january)) == 1


def test_a_prepaid_balance_too_small_pays_what_it_holds_r_sid_5(active_since_january: Cast) -> None:
    acme = active_since_january.acme
    billing.fee_charge(customer=acme, amount=2_400_000, reference="spent", description="spent", now=JAN_5)
    with time_machine.travel(MARCH_RUN, tick=False):
        month_end_run()
    assert sum(e.amount for e in shortfall_entries(active_since_january)) == -100_000


def test_a_postpaid_shortfall_is_a_line_on_the_months_invoice_r_sid_5(cast: Cast) -> None:
    """Priced at the tier the month reaches with the shortfall counted:
    300 sent + 700 short = 1.000 units, tier 2, Telkomsel Rp 630."""
    customer = postpaid_customer("maju-jaya")  # guarantee held from 20 October 2026
    with time_machine.travel(datetime(2026, 10, 21, 9, 0, tzinfo=WIB), tick=False):
        result = apply(cast, customer=customer, operators=["telkomsel"])
    activate(registration(result, "telkomsel"), cast.staff, now=datetime(2026, 10, 25, 9, 0, tzinfo=WIB))
    sms(customer, 300, datetime(2026, 11, 10, 9, 0, tzinfo=WIB), "nov-1")
    with time_machine.travel(datetime(2026, 12, 1, 0, 5, tzinfo=WIB), tick=False):
        month_end_run()
    [fee] = PendingFee.objects.filter(customer=customer, kind="shortfall")
    assert (fee.month, fee.amount) == (date(2026, 11, 1), 700 * 630)
    invoice = Invoice.objects.get(customer=customer, period=date(2026, 11, 1))
    [line] = invoice.lines.filter(kind=InvoiceLine.Kind.SHORTFALL)
    assert line.amount == 700 * 630
    assert not LedgerEntry.objects.filter(customer=customer, kind="shortfall").exists()
