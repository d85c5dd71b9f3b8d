"""R-PL: the shipped list, tier boundaries, CSV validation, dated lists."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import time_machine

from accounts.models import Customer
from billing import services
from billing.models import Price, PriceList
from billing.pricing import parse_price_list_csv, table_for, table_in_force
from otpportal.errors import ServiceError
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

CSV = (Path(__file__).resolve().parents[2] / "billing" / "data" / "price-list-2023-11-01.csv").read_text()

# R-PL-2, the table in domain-rules.md, row by row.
RULE_TABLE = {
    1: (650, 690, 770, 350, 450),
    2: (630, 670, 750, 340, 430),
    3: (610, 650, 730, 330, 420),
    4: (600, 640, 720, 320, 400),
    5: (590, 630, 710, 310, 375),
    6: (580, 620, 700, 300, 350),
}


def test_the_offers_list_ships_effective_2023_11_01() -> None:
    price_list = PriceList.objects.get()
    assert price_list.effective_from == date(2023, 11, 1)
    assert Price.objects.filter(price_list=price_list).count() == 42


@pytest.mark.parametrize("tier", sorted(RULE_TABLE))
def test_every_price_matches_the_rule_table(tier: int) -> None:
    table = table_in_force(date(2026, 1, 1))
    telkomsel, xl_indosat_three, smartfren, wa, wa_official = RULE_TABLE[tier]
    assert table.unit_price(tier, "sms", "telkomsel") == telkomsel
    for operator in ("xl", "indosat", "three"):
        assert table.unit_price(tier, "sms", operator) == xl_indosat_three
    assert table.unit_price(tier, "sms", "smartfren") == smartfren
    assert table.unit_price(tier, "wa", "") == wa
    assert table.unit_price(tier, "wa_official", "") == wa_official
    assert table.unit_price(tier, "wa", "telkomsel") == wa  # WhatsApp has no operator price


@pytest.mark.parametrize(
    ("deposit", "tier"),
    [
        (1, 1),
        (499_999, 1),
        (500_000, 2),
        (1_999_999, 2),
        (2_000_000, 3),
        (7_999_999, 3),
        (8_000_000, 4),
        (29_999_999, 4),
        (30_000_000, 5),
        (99_999_999, 5),
        (100_000_000, 6),
        (5_000_000_000, 6),
    ],
)
def test_prepaid_tier_boundaries(deposit: int, tier: int) -> None:
    assert table_in_force(date(2026, 1, 1)).prepaid_tier(deposit) == tier


@pytest.mark.parametrize(
    ("units", "tier"),
    [
        (0, 1),
        (999, 1),
        (1_000, 2),
        (4_999, 2),
        (5_000, 3),
        (9_999, 3),
        (10_000, 4),
        (24_999, 4),
        (25_000, 5),
        (99_999, 5),
        (100_000, 6),
        (10_000_000, 6),
    ],
)
def test_postpaid_tier_boundaries(units: int, tier: int) -> None:
    assert table_in_force(date(2026, 1, 1)).postpaid_tier(units) == tier


def _without(predicate) -> str:  # type: ignore[no-untyped-def]
    lines = CSV.strip().splitlines()
    return "\n".join([lines[0]] + [line for line in lines[1:] if not predicate(line)]) + "\n"


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        (_without(lambda line: line.split(",")[1] == "4"), "lacks tier(s) 4"),
        (
            _without(lambda line: ",wa_official," in line and line.split(",")[1] == "2"),
            "Tier 2 lacks a price for wa_official",
        ),
        (
            _without(lambda line: ",smartfren," in line and line.split(",")[1] == "6"),
            "Tier 6 lacks a price for sms smartfren",
        ),
        (CSV.replace(",sms,three,", ",sms,axis,"), "unknown operator 'axis'"),
        (CSV.replace(",wa,,", ",telegram,,"), "unknown channel 'telegram'"),
        (CSV.replace("2023-11-01,2,500000,", "2023-11-01,2,400000,"), "overlap"),
        (CSV.replace("2023-11-01,2,500000,", "2023-11-01,2,600000,"), "gap"),
        (CSV.replace(",650\n", ",6x0\n", 1), "not a whole number"),
        (CSV.replace(",650\n", ",0\n", 1), "must be positive"),
        (CSV.replace("2023-11-01,6,100000000,,", "2023-11-01,6,100000000,200000000,"), "last tier"),
        ("tier,channel\n1,sms\n", "lacks the column"),
        (CSV.replace(",wa,,350\n", ",wa\n", 1), "does not have the 9 columns"),
        (CSV.replace(",wa,,350\n", ",wa,,350,extra\n", 1), "does not have the 9 columns"),
        (CSV.encode("utf-16"), "not UTF-8"),
    ],
)
def test_a_bad_csv_is_refused_with_the_problem_named(csv_text: str | bytes, message: str) -> None:
    with pytest.raises(ServiceError) as exc:
        parse_price_list_csv(csv_text)
    assert message in exc.value.message


def test_a_bad_csv_writes_nothing() -> None:
    broken = CSV.replace("2023-11-01", "2030-01-01").replace(",sms,three,", ",sms,axis,")
    with pytest.raises(ServiceError):
        services.price_list_import(data=broken)
    assert PriceList.objects.count() == 1


def test_a_new_list_must_start_in_the_future() -> None:
    with time_machine.travel("2026-05-10 12:00 +0700"), pytest.raises(ServiceError) as exc:
        services.price_list_import(data=CSV, effective_from=date(2026, 5, 10))
    assert "after today" in exc.value.message


def test_a_new_list_takes_effect_on_its_date_and_never_reprices_the_past() -> None:
    """R-PL-1."""
    customer = CustomerFactory(mode=Customer.Mode.PREPAID)
    dearer = CSV.replace("2023-11-01", "2026-06-01").replace(",sms,telkomsel,610", ",sms,telkomsel,700")
    with time_machine.travel("2026-05-10 12:00 +0700"):
        services.price_list_import(data=dearer)
        services.lot_create(customer=customer, amount=2_000_000, reference="t1")
        before = services.charge(customer=customer, channel="sms", operator="telkomsel", units=1, reference="a")
    with time_machine.travel("2026-05-31 23:59:59 +0700"):
        still_old = services.charge(customer=customer, channel="sms", operator="telkomsel", units=1, reference="b")
    with time_machine.travel("2026-06-01 00:00:00 +0700"):
        new = services.charge(customer=customer, channel="sms", operator="telkomsel", units=1, reference="c")
    assert (before.unit_price, still_old.unit_price, new.unit_price) == (610, 610, 700)
    before.refresh_from_db()
    assert before.amount == 610


def test_a_list_in_force_cannot_be_deleted() -> None:
    with pytest.raises(ServiceError, match="read-only"):
        services.price_list_delete(price_list=PriceList.objects.get())


def test_a_list_by_id_is_read_once_in_force_and_again_while_still_to_come(django_assert_num_queries) -> None:
    """R-PL-1: a list in force never changes, so ``table_for`` (the CSV of an
    invoice, its unit prices) keeps it; a list still to come may be corrected
    by staff until its day, so it is read again each time."""
    shipped = PriceList.objects.get()
    assert table_for(shipped.pk).unit_price(3, "sms", "telkomsel") == 610
    with django_assert_num_queries(0):
        assert table_for(shipped.pk).unit_price(3, "sms", "telkomsel") == 610
    dearer = CSV.replace("2023-11-01", "2026-06-01").replace(",sms,telkomsel,610", ",sms,telkomsel,700")
    with time_machine.travel("2026-05-10 12:00 +0700"):
        services.price_list_import(data=dearer)
        coming = PriceList.objects.get(effective_from=date(2026, 6, 1))
        assert table_for(coming.pk).unit_price(3, "sms", "telkomsel") == 700
        Price.objects.filter(price_list=coming, tier=3, channel="sms", operator="telkomsel").update(unit_price=720)
        assert table_for(coming.pk).unit_price(3, "sms", "telkomsel") == 720
    with time_machine.travel("2026-06-01 00:00:00 +0700"):
        assert table_for(coming.pk).unit_price(3, "sms", "telkomsel") == 720
        with django_assert_num_queries(0):
            assert table_for(coming.pk).unit_price(3, "sms", "telkomsel") == 720
