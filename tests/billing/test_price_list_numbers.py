"""Numbers in a price-list CSV (Review 8.2, R-PL-1/R-PL-2): thousands
separators are understood, a fractional part or an ambiguous separator is
refused by name (line, column, value, why) and so is an implausible unit
price; a refused file writes nothing, through the service and the admin."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from billing import services
from billing.models import Price, PriceList, PriceTier
from billing.pricing import PriceListValueError, jakarta_date, parse_price_list_csv, parse_whole_number
from tests.helpers import staff_fixture  # noqa: F401 - registers the ``staff`` fixture

pytestmark = pytest.mark.django_db

SHIPPED_CSV = (Path(__file__).resolve().parents[2] / "billing" / "data" / "price-list-2023-11-01.csv").read_text()
FIRST_PRICE = ",sms,telkomsel,650\n"  # line 2: tier 1, SMS Telkomsel


def future_csv(text: str = SHIPPED_CSV) -> str:
    return text.replace("2023-11-01", (jakarta_date(timezone.now()) + timedelta(days=30)).isoformat())


def counts() -> tuple[int, int, int]:
    return PriceList.objects.count(), PriceTier.objects.count(), Price.objects.count()


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("650", 650),
        (" 650 ", 650),
        ("1.000", 1_000),  # Indonesian thousands separator
        ("1,000", 1_000),
        ("1.000.000", 1_000_000),
        ("1,000,000", 1_000_000),
        ("100.000.000", 100_000_000),
        ("0", 0),
    ],
)
def test_review_8_2_whole_numbers_with_thousands_separators_are_read(text: str, number: int) -> None:
    assert parse_whole_number(text, column="unit_price", line=2) == number


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("650.00", "has a fractional part"),  # was read as 65.000: a silent 100x price
        ("650,5", "has a fractional part"),
        ("1.00", "has a fractional part"),
        ("1.000,50", "has a fractional part"),
        ("1,000.50", "has a fractional part"),
        ("1,0000", "has an ambiguous thousands separator"),
        ("1000.000", "has an ambiguous thousands separator"),
        ("1.000.00", "has an ambiguous thousands separator"),
        ("1.000,000", "mixes '.' and ','"),
        ("1,000.000", "mixes '.' and ','"),
        ("-650", "may not be negative"),
        ("6x0", "is not a whole number"),
        ("1 000", "is not a whole number"),
        ("+650", "is not a whole number"),
        ("٦٥٠", "is not a whole number"),  # Arabic-Indic digits, which int() would take
        ("", "is not a whole number"),
    ],
)
def test_review_8_2_anything_else_is_refused_with_line_column_value_and_why(text: str, why: str) -> None:
    with pytest.raises(PriceListValueError) as refused:
        parse_whole_number(text, column="unit_price", line=7)
    error = refused.value
    assert (error.code, error.line, error.column, error.value) == ("invalid_request", 7, "unit_price", text)
    assert why in error.reason
    assert error.message.startswith(f"Line 7, column unit_price: {text!r} {why}")
    assert error.details == {"line": 7, "column": "unit_price", "value": text, "reason": error.reason}


@pytest.mark.parametrize(("price", "ok"), [("1", True), ("100000", True), ("100.000", True), ("100001", False)])
def test_review_8_2_unit_prices_outside_rp_1_to_100_000_are_implausible(price: str, ok: bool) -> None:
    text = SHIPPED_CSV.replace(FIRST_PRICE, f',sms,telkomsel,"{price}"\n', 1)
    if ok:
        assert parse_price_list_csv(text).prices[(1, "sms", "telkomsel")] == int(price.replace(".", ""))
        return
    with pytest.raises(PriceListValueError) as refused:
        parse_price_list_csv(text)
    assert (refused.value.line, refused.value.column) == (2, "unit_price")
    assert "not a plausible unit price: outside Rp 1–100.000" in refused.value.message


@pytest.mark.parametrize(
    ("cell", "why"),
    [
        ("650.00", "has a fractional part"),
        ('"650,5"', "has a fractional part"),
        ("650.000", "not a plausible unit price"),  # Rp 650.000 per SMS: a typo for 650
        ("650000", "not a plausible unit price"),
    ],
)
def test_review_8_2_the_service_refuses_a_bad_price_and_writes_nothing(cell: str, why: str) -> None:
    before = counts()
    with pytest.raises(PriceListValueError) as refused:
        services.price_list_import(data=future_csv(SHIPPED_CSV.replace(FIRST_PRICE, f",sms,telkomsel,{cell}\n", 1)))
    assert (refused.value.line, refused.value.column) == (2, "unit_price")
    assert why in refused.value.message
    assert counts() == before


def test_review_8_2_deposit_and_unit_bounds_take_separators_but_no_price_range() -> None:
    """Bounds follow the number parsing (deposits reach 100.000.000 and
    beyond) but not the unit-price range."""
    text = (
        SHIPPED_CSV.replace(",2,500000,1999999,1000,4999,", ',2,500.000,1.999.999,"1,000","4,999",')
        .replace(",5,30000000,99999999,", ",5,30.000.000,99.999.999,")
        .replace(",6,100000000,,100000,,", ',6,"100,000,000",,100.000,,')
    )
    price_list = services.price_list_import(data=future_csv(text))
    tiers = {t.tier: t for t in price_list.tiers.all()}
    assert (tiers[2].prepaid_min, tiers[2].prepaid_max, tiers[2].postpaid_min, tiers[2].postpaid_max) == (
        500_000,
        1_999_999,
        1_000,
        4_999,
    )
    assert (tiers[5].prepaid_min, tiers[5].prepaid_max) == (30_000_000, 99_999_999)
    assert (tiers[6].prepaid_min, tiers[6].prepaid_max, tiers[6].postpaid_min) == (100_000_000, None, 100_000)


def test_review_8_2_a_bound_with_decimals_is_refused_by_column() -> None:
    before = counts()
    text = SHIPPED_CSV.replace(",2,500000,1999999,", ",2,500000.00,1999999,")
    with pytest.raises(PriceListValueError) as refused:
        services.price_list_import(data=future_csv(text))
    assert refused.value.column == "prepaid_deposit_min"
    assert refused.value.line == 9  # the first tier-2 row
    assert counts() == before


# --- through the admin upload page ------------------------------------------

ADD_URL = "/admin/billing/pricelist/add/"


def upload(client: Client, text: str) -> str:
    data = {"csv_file": SimpleUploadedFile("prices.csv", text.encode(), content_type="text/csv")}
    response = client.post(ADD_URL, data)
    assert response.status_code == 200, response.status_code  # the form again, with the error
    return response.content.decode()


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        # Review 8.19: in the back office's language (Indonesian by default)
        ("650.00", "Baris 2, kolom unit_price: &#x27;650.00&#x27; memiliki bagian pecahan"),
        ("1.00", "Baris 2, kolom unit_price: &#x27;1.00&#x27; memiliki bagian pecahan"),
        ('"1,0000"', "Baris 2, kolom unit_price: &#x27;1,0000&#x27; memiliki pemisah ribuan yang ambigu"),
        ('"1.000,000"', "Baris 2, kolom unit_price: &#x27;1.000,000&#x27; mencampur"),
        ("650.000", "Baris 2, kolom unit_price: &#x27;650.000&#x27; bukan harga satuan yang wajar"),
    ],
)
def test_review_8_2_admin_upload_names_the_bad_cell_and_writes_nothing(staff: Client, cell: str, shown: str) -> None:
    before = counts()
    html = upload(staff, future_csv(SHIPPED_CSV.replace(FIRST_PRICE, f",sms,telkomsel,{cell}\n", 1)))
    assert shown in html
    assert 'class="errornote"' in html
    assert counts() == before


def test_review_8_2_admin_upload_takes_thousands_separators(staff: Client) -> None:
    text = future_csv(SHIPPED_CSV.replace(",6,100000000,,", ",6,100.000.000,,"))
    response = staff.post(ADD_URL, {"csv_file": SimpleUploadedFile("prices.csv", text.encode())})
    assert response.status_code == 302
    price_list = PriceList.objects.exclude(effective_from=date(2023, 11, 1)).get()
    assert price_list.tiers.get(tier=6).prepaid_min == 100_000_000
    assert price_list.prices.get(tier=1, channel="sms", operator="telkomsel").unit_price == 650
