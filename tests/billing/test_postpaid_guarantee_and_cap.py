"""R-POST-1 (guarantee deposit) and R-POST-2 (the monthly cap), and review
item 8.4: a postpaid customer with no guarantee cannot send."""

from __future__ import annotations

from datetime import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command

from accounts.models import Customer
from billing import selectors, services
from billing.models import CapChange, Charge, Guarantee, LedgerEntry, MonthlyUsage
from otpportal.errors import ServiceError
from tests.conftest import api_client
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db
WIB = ZoneInfo("Asia/Jakarta")


@pytest.fixture
def postpaid() -> Customer:
    return CustomerFactory(slug="bank-besar", mode=Customer.Mode.POSTPAID, billing_email="ap@bank.test")


def send(customer: Customer, reference: str, *, units: int = 1, channel: str = "sms", operator: str = "telkomsel"):  # type: ignore[no-untyped-def]
    return services.charge(
        customer=customer,
        channel=channel,
        operator=operator if channel == "sms" else "",
        units=units,
        reference=reference,
    )


# --- R-POST-1 -------------------------------------------------------------------


def test_review_8_4_postpaid_without_guarantee_is_refused_and_nothing_charged(postpaid: Customer) -> None:
    """Review 8.4: a postpaid customer with no guarantee held is refused
    (``guarantee_required``) and nothing is charged."""
    with pytest.raises(ServiceError) as refused:
        send(postpaid, "msg_1")
    assert refused.value.code == "guarantee_required"
    assert refused.value.status == 403
    assert Charge.objects.count() == 0
    assert MonthlyUsage.objects.count() == 0


def test_review_8_4_the_api_refuses_a_postpaid_send_without_guarantee(postpaid: Customer) -> None:
    from accounts import services as accounts

    key = accounts.api_key_create(customer=postpaid).secret
    response = api_client(key).post("/api/v1/verifications", {"to": "081234567890"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "guarantee_required"
    assert Charge.objects.count() == 0


def test_review_8_4_balance_shows_the_guarantee_held_not_zero(postpaid: Customer) -> None:
    from accounts import services as accounts

    services.guarantee_deposit(customer=postpaid, amount=15_000_000, reference="BCA-G1")
    key = accounts.api_key_create(customer=postpaid).secret
    body = api_client(key).get("/api/v1/balance").json()
    assert body["mode"] == "postpaid"
    assert body["guarantee"] == 15_000_000
    assert body["cap"] == 30_000_000
    assert body["cap_left"] == 30_000_000
    assert body["month"]["units"] == 0 and body["month"]["tier"] == 1 and body["month"]["amount"] == 0


def test_a_guarantee_below_the_minimum_is_refused_and_nothing_written(postpaid: Customer) -> None:
    with pytest.raises(ServiceError) as refused:
        services.guarantee_deposit(customer=postpaid, amount=9_999_999, reference="BCA-1")
    assert refused.value.code == "guarantee_below_minimum"
    assert not Guarantee.objects.filter(customer=postpaid, held__gt=0).exists()
    assert LedgerEntry.objects.count() == 0


def test_the_guarantee_is_a_ledger_entry_and_reconciles(postpaid: Customer) -> None:
    staff = UserFactory(is_staff=True)
    g = services.guarantee_deposit(customer=postpaid, amount=10_000_000, reference="BCA-1", created_by=staff)
    assert g.held == 10_000_000 and g.activated_at is not None
    entry = LedgerEntry.objects.get()
    assert (entry.book, entry.kind, entry.amount, entry.created_by) == ("guarantee", "guarantee", 10_000_000, staff)
    services.guarantee_deposit(customer=postpaid, amount=1_000, reference="BCA-2")  # a top-up above the minimum
    assert Guarantee.objects.get(customer=postpaid).held == 10_001_000
    assert services.reconcile() == []


def test_the_same_bank_reference_is_recorded_once(postpaid: Customer) -> None:
    services.guarantee_deposit(customer=postpaid, amount=10_000_000, reference="BCA-1")
    with pytest.raises(ServiceError) as refused:
        services.guarantee_deposit(customer=postpaid, amount=10_000_000, reference="BCA-1")
    assert refused.value.details == {"reference": ["Already recorded."]}
    assert Guarantee.objects.get(customer=postpaid).held == 10_000_000


def test_a_prepaid_customer_has_no_guarantee() -> None:
    with pytest.raises(ServiceError):
        services.guarantee_deposit(customer=CustomerFactory(), amount=10_000_000, reference="x")


def test_reconcile_finds_a_guarantee_that_disagrees_with_its_ledger(postpaid: Customer) -> None:
    services.guarantee_deposit(customer=postpaid, amount=10_000_000, reference="BCA-1")
    Guarantee.objects.filter(customer=postpaid).update(held=9_000_000)
    mismatches = services.reconcile()
    assert [(m.customer_slug, m.ledger_total, m.lots_total) for m in mismatches] == [
        ("bank-besar", 10_000_000, 9_000_000)
    ]


def test_guarantee_command(postpaid: Customer) -> None:
    out = StringIO()
    with pytest.raises(CommandError, match="at least"):
        call_command("guarantee", "bank-besar", "5000", "--reference", "BCA-78")
    call_command("guarantee", "bank-besar", "12000000", "--reference", "BCA-77", stdout=out)
    assert Guarantee.objects.get(customer=postpaid).held == 12_000_000
    assert "12.000.000" in out.getvalue() and "24.000.000" in out.getvalue()
    with pytest.raises(CommandError, match="already recorded"):
        call_command("guarantee", "bank-besar", "12000000", "--reference", "BCA-77")
    with pytest.raises(CommandError):
        call_command("guarantee", "nobody", "10000000")


# --- R-POST-2 -------------------------------------------------------------------


def test_the_cap_is_twice_the_guarantee_valued_at_the_tier_reached(postpaid: Customer) -> None:
    services.guarantee_deposit(customer=postpaid, amount=12_000_000, reference="BCA-1")  # cap 24.000.000
    send(postpaid, "bulk", units=40_000)  # tier 5 (25.000-99.999 units): 590 × 40.000 = 23.600.000
    send(postpaid, "wa", units=400, channel="wa")  # WA at tier 5: 310 × 400 = 124.000
    position = selectors.postpaid_position(customer=postpaid)
    assert position.cap == 24_000_000
    assert (position.month.units, position.month.tier, position.month.amount) == (40_400, 5, 23_724_000)
    send(postpaid, "fill", units=466)  # 590 × 466 = 274.940
    send(postpaid, "fill-wa", units=3, channel="wa")  # 930: 23.999.870, 130 left
    assert selectors.postpaid_position(customer=postpaid).cap_left == 130
    with pytest.raises(ServiceError) as refused:
        send(postpaid, "over", units=1, channel="wa")  # 310 > 130
    assert refused.value.code == "quota_exceeded" and refused.value.status == 402
    assert refused.value.details == {"cap": 24_000_000, "used": 23_999_870, "price": 310}
    assert not Charge.objects.filter(reference="over").exists()
    assert MonthlyUsage.objects.get(customer=postpaid).units == 40_869


def test_a_send_reaching_the_cap_exactly_is_allowed_and_the_next_is_refused(postpaid: Customer, settings) -> None:  # type: ignore[no-untyped-def]
    settings.POSTPAID_GUARANTEE_MIN = 325_000
    services.guarantee_deposit(customer=postpaid, amount=325_000, reference="BCA-1")  # cap 650.000
    send(postpaid, "a", units=999)  # tier 1: 650 × 999 = 649.350
    send(postpaid, "b", units=1)  # 1.000 units: tier 2, 630 × 1.000 = 630.000 (volume pricing lowers the value)
    assert selectors.postpaid_position(customer=postpaid).month.amount == 630_000
    send(postpaid, "c", units=31)  # 1.031 × 630 = 649.530
    with pytest.raises(ServiceError) as refused:
        send(postpaid, "d", units=1)  # 1.032 × 630 = 650.160 > 650.000
    assert refused.value.code == "quota_exceeded"
    settings.POSTPAID_GUARANTEE_MIN = 0
    services.guarantee_deposit(customer=postpaid, amount=79, reference="BCA-2")  # cap 650.158: still short
    with pytest.raises(ServiceError):
        send(postpaid, "d", units=1)
    services.guarantee_deposit(customer=postpaid, amount=1, reference="BCA-3")  # cap 650.160: exactly the value
    send(postpaid, "d", units=1)
    assert selectors.postpaid_position(customer=postpaid).cap_left == 0


def test_staff_raise_one_customers_cap_with_who_and_why(postpaid: Customer) -> None:
    staff = UserFactory(is_staff=True)
    services.guarantee_deposit(customer=postpaid, amount=10_000_000, reference="BCA-1")
    send(postpaid, "big", units=30_000)  # 590 × 30.000 = 17.700.000
    with pytest.raises(ServiceError):
        send(postpaid, "more", units=5_000)  # 35.000 × 590 = 20.650.000 > 20.000.000
    services.cap_set(customer=postpaid, percent=300, reason="Ramadan campaign, agreed by email", changed_by=staff)
    send(postpaid, "more", units=5_000)
    assert selectors.postpaid_position(customer=postpaid).cap == 30_000_000
    change = CapChange.objects.get()
    assert (change.old_percent, change.new_percent, change.changed_by) == (200, 300, staff)
    assert change.reason == "Ramadan campaign, agreed by email"
    with pytest.raises(ServiceError) as no_reason:
        services.cap_set(customer=postpaid, percent=400, reason=" ", changed_by=staff)
    assert no_reason.value.details == {"reason": ["Required."]}
    with pytest.raises(ServiceError):
        services.cap_set(customer=postpaid, percent=50, reason="x", changed_by=staff)


def test_the_80_percent_warning_is_sent_once_a_month(
    postpaid: Customer,
    mailoutbox,
    eager_celery,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    from accounts.models import Membership

    owner = UserFactory(email="owner@bank.test")
    Membership.objects.create(user=owner, customer=postpaid, role=Membership.Role.OWNER)
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=WIB)):
        services.guarantee_deposit(customer=postpaid, amount=10_000_000, reference="BCA-1")
        with django_capture_on_commit_callbacks(execute=True):
            send(postpaid, "a", units=27_000)  # 590 × 27.000 = 15.930.000: 79,65 %
        assert mailoutbox == []
        with django_capture_on_commit_callbacks(execute=True):
            send(postpaid, "b", units=200)  # 27.200 × 590 = 16.048.000: 80,24 %
        with django_capture_on_commit_callbacks(execute=True):
            send(postpaid, "c", units=100)
    assert len(mailoutbox) == 1
    assert sorted(mailoutbox[0].to) == ["ap@bank.test", "owner@bank.test"]
    assert "80%" in mailoutbox[0].subject
    with time_machine.travel(datetime(2026, 4, 1, 9, 0, tzinfo=WIB)), django_capture_on_commit_callbacks(execute=True):
        send(postpaid, "april", units=28_000)  # a new month: a new warning
    assert len(mailoutbox) == 2


def test_the_counter_follows_each_send_and_reversal_without_summing_charges(
    postpaid: Customer,
    django_assert_max_num_queries,  # type: ignore[no-untyped-def]
) -> None:
    services.guarantee_deposit(customer=postpaid, amount=10_000_000, reference="BCA-1")
    a = send(postpaid, "a", units=2)
    send(postpaid, "b", units=1, channel="wa")
    usage = MonthlyUsage.objects.get(customer=postpaid)
    assert usage.units == 3 and usage.units_by_route == {"sms:telkomsel": 2, "wa:": 1}
    services.reverse(charge=a, reason="refused by the SMSC")
    usage.refresh_from_db()
    assert usage.units == 1 and usage.units_by_route == {"sms:telkomsel": 0, "wa:": 1}
    with django_assert_max_num_queries(4):
        selectors.postpaid_position(customer=postpaid)


def test_a_new_month_starts_at_zero_in_jakarta_time(postpaid: Customer) -> None:
    services.guarantee_deposit(customer=postpaid, amount=10_000_000, reference="BCA-1")
    with time_machine.travel(datetime(2026, 3, 31, 23, 59, tzinfo=WIB)):
        send(postpaid, "march", units=5)
    with time_machine.travel(datetime(2026, 4, 1, 0, 0, 30, tzinfo=WIB)):
        send(postpaid, "april", units=1)
        assert selectors.postpaid_month(customer=postpaid).units == 1
    assert sorted(MonthlyUsage.objects.values_list("month", "units")) == [
        (datetime(2026, 3, 1).date(), 5),
        (datetime(2026, 4, 1).date(), 1),
    ]
