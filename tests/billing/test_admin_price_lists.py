"""Staff load price lists from CSV in the admin (R-PL-1, R-PL-2)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from billing import services
from billing.models import Price, PriceList, PriceTier
from billing.pricing import jakarta_date
from otpportal.celery import app
from tests.conftest import Cast
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db

SHIPPED_CSV = (Path(__file__).resolve().parents[2] / "billing" / "data" / "price-list-2023-11-01.csv").read_text()
ADD_URL = "/admin/billing/pricelist/add/"


@pytest.fixture(autouse=True)
def eager_tasks() -> Iterator[None]:
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def staff(cast: Cast) -> Client:
    client = Client()
    response = client.post("/login/", {"username": cast.staff.email, "password": TEST_PASSWORD})
    assert response.status_code == 302
    return client


def future_day(days: int = 30) -> date:
    return jakarta_date(timezone.now()) + timedelta(days=days)


def csv_for(day: date, text: str = SHIPPED_CSV) -> str:
    return text.replace("2023-11-01", day.isoformat())


def upload(client: Client, text: str, **fields: str) -> object:
    data = {"csv_file": SimpleUploadedFile("prices.csv", text.encode(), content_type="text/csv"), **fields}
    return client.post(ADD_URL, data)


def counts() -> tuple[int, int, int]:
    return PriceList.objects.count(), PriceTier.objects.count(), Price.objects.count()


def test_shipped_list_is_in_force_in_the_changelist(staff: Client) -> None:
    html = staff.get("/admin/billing/pricelist/").content.decode()
    assert "Price list 01 November 2023" in html
    assert 'alt="True"' in html  # in force
    assert ">42<" in html  # 6 tiers x (5 SMS operators + 2 WhatsApp)


def test_csv_upload_creates_a_future_list(staff: Client, cast: Cast) -> None:
    day = future_day()
    cheaper = csv_for(day).replace(",sms,telkomsel,650", ",sms,telkomsel,640")
    response = upload(staff, cheaper, name="Promo", effective_from="")
    assert response.status_code == 302, response.content.decode()[:2000]
    price_list = PriceList.objects.get(effective_from=day)
    assert price_list.name == "Promo"
    assert price_list.source_filename == "prices.csv"
    assert price_list.uploaded_by == cast.staff
    assert price_list.tiers.count() == 6
    assert price_list.prices.count() == 42
    assert price_list.prices.get(tier=1, channel="sms", operator="telkomsel").unit_price == 640
    html = staff.get("/admin/billing/pricelist/").content.decode()
    assert 'alt="False"' in html  # the new list is not in force yet


def test_effective_date_override_wins_over_the_csv(staff: Client) -> None:
    day = future_day(45)
    response = upload(staff, csv_for(future_day(10)), effective_from=day.isoformat())
    assert response.status_code == 302
    assert PriceList.objects.filter(effective_from=day).exists()
    assert not PriceList.objects.filter(effective_from=future_day(10)).exists()


def _without_tier_6(text: str) -> str:
    header, *rows = text.splitlines()
    return "\n".join([header, *(row for row in rows if row.split(",")[1] != "6")]) + "\n"


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        # Review 8.19: the use case's messages, in Indonesian (the back office's default)
        pytest.param(_without_tier_6, "tidak memiliki tier 6", id="missing-tier"),
        pytest.param(
            lambda t: t.replace(",sms,three,", ",sms,tri,", 1), "tidak dikenal untuk SMS", id="unknown-operator"
        ),
        pytest.param(
            lambda t: t.replace(",2,500000,1999999,", ",2,400000,1999999,"), "tumpang tindih", id="overlapping-bounds"
        ),
        pytest.param(lambda t: t.replace(",wa,,350", ",wa,,abc"), "bukan bilangan bulat", id="bad-price"),
        pytest.param(lambda t: t.split("\n", 1)[0] + "\n", "CSV tidak berisi baris", id="header-only"),
        pytest.param(lambda t: t + "2030-01-01,1,0,499999,0,999\n", "Baris 44 memiliki 6 kolom", id="short-row"),
    ],
)
def test_bad_csv_shows_the_error_and_writes_nothing(staff: Client, mangle: object, message: str) -> None:
    before = counts()
    text = mangle(csv_for(future_day()))  # type: ignore[operator]
    assert text != csv_for(future_day())
    response = upload(staff, text)
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert 'class="errornote"' in html
    assert counts() == before


def test_a_file_that_is_not_utf8_is_refused(staff: Client) -> None:
    before = counts()
    data = {
        "csv_file": SimpleUploadedFile("prices.csv", b"\xff\xfe" + "é".encode("utf-16-le"), content_type="text/csv")
    }
    response = staff.post(ADD_URL, data)
    assert response.status_code == 200
    assert "bukan teks UTF-8" in response.content.decode()
    assert counts() == before


def test_a_list_that_would_reprice_today_is_refused(staff: Client) -> None:
    """R-PL-1: a new list takes effect after today; it never reprices the past."""
    before = counts()
    response = upload(staff, csv_for(jakarta_date(timezone.now())))
    assert response.status_code == 200
    assert "harus berlaku setelah hari ini" in response.content.decode()  # Review 8.19
    assert counts() == before


def test_a_second_list_for_the_same_day_is_refused(staff: Client) -> None:
    day = future_day()
    assert upload(staff, csv_for(day)).status_code == 302
    before = counts()
    response = upload(staff, csv_for(day))
    assert response.status_code == 200
    assert "sudah ada" in response.content.decode()  # Review 8.19
    assert counts() == before


def test_in_force_list_shows_prices_read_only(staff: Client) -> None:
    shipped = PriceList.objects.get(effective_from=date(2023, 11, 1))
    response = staff.get(f"/admin/billing/pricelist/{shipped.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "650" in html and "350" in html and "99999999" in html.replace(".", "").replace(",", "")
    assert 'name="_save"' not in html
    assert "/delete/" not in html
    assert 'name="prices-0-unit_price"' not in html  # no editable inline


def test_in_force_list_can_be_neither_changed_nor_deleted(staff: Client) -> None:
    """R-PL-1."""
    shipped = PriceList.objects.get(effective_from=date(2023, 11, 1))
    before = counts()
    change = staff.post(f"/admin/billing/pricelist/{shipped.pk}/change/", {"name": "Hacked"})
    assert change.status_code == 403
    assert staff.get(f"/admin/billing/pricelist/{shipped.pk}/delete/").status_code == 403
    assert staff.post(f"/admin/billing/pricelist/{shipped.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = staff.post(
        "/admin/billing/pricelist/", {"action": "delete_selected", "_selected_action": [shipped.pk], "post": "yes"}
    )
    assert bulk.status_code in (200, 302)
    assert counts() == before
    shipped.refresh_from_db()
    assert shipped.name == "Price list 01 November 2023"


def test_future_list_can_be_deleted(staff: Client, cast: Cast) -> None:
    day = future_day()
    future = services.price_list_import(data=csv_for(day), uploaded_by=cast.staff)
    confirm = staff.get(f"/admin/billing/pricelist/{future.pk}/delete/")
    assert confirm.status_code == 200
    response = staff.post(f"/admin/billing/pricelist/{future.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not PriceList.objects.filter(pk=future.pk).exists()
    assert not PriceTier.objects.filter(price_list_id=future.pk).exists()
    assert not Price.objects.filter(price_list_id=future.pk).exists()
    assert PriceList.objects.filter(effective_from=date(2023, 11, 1)).exists()


def test_future_list_is_not_editable_either(staff: Client, cast: Cast) -> None:
    future = services.price_list_import(data=csv_for(future_day()), uploaded_by=cast.staff)
    response = staff.post(f"/admin/billing/pricelist/{future.pk}/change/", {"name": "Renamed"})
    assert response.status_code == 403
    future.refresh_from_db()
    assert future.name != "Renamed"


def test_add_page_explains_the_rules(staff: Client) -> None:
    html = staff.get(ADD_URL).content.decode()
    assert 'type="file"' in html and 'name="csv_file"' in html
    assert "R-PL-1" in html and "R-PL-2" in html


def test_non_staff_cannot_reach_the_price_list_admin(cast: Cast) -> None:
    client = Client()
    client.post("/login/", {"username": cast.owner.email, "password": TEST_PASSWORD})
    response = client.get(ADD_URL)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
