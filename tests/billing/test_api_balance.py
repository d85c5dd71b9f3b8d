from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.models import Customer
from billing import services
from tests.conftest import Cast, api_client

pytestmark = pytest.mark.django_db


def test_prepaid_balance_lists_usable_lots(cast: Cast) -> None:
    services.lot_create(customer=cast.acme, amount=2_500_000, reference="a")
    services.charge(customer=cast.acme, channel="sms", operator="telkomsel", units=1, reference="m")
    body = api_client(cast.acme_live_key).get("/api/v1/balance").json()
    assert body["mode"] == "prepaid"
    assert body["balance"] == 2_499_390
    [lot] = body["lots"]
    assert (lot["amount"], lot["remaining"], lot["tier"]) == (2_500_000, 2_499_390, 3)
    assert lot["expires_at"].endswith("+07:00")


def test_balance_is_per_customer(cast: Cast) -> None:
    services.lot_create(customer=cast.acme, amount=100_000, reference="a")
    assert api_client(cast.globex_live_key).get("/api/v1/balance").json() == {
        "mode": "prepaid",
        "balance": 0,
        "lots": [],
    }


def test_postpaid_balance_shows_the_month(cast: Cast) -> None:
    Customer.objects.filter(pk=cast.globex.pk).update(mode=Customer.Mode.POSTPAID)
    cast.globex.refresh_from_db()
    services.guarantee_deposit(customer=cast.globex, amount=10_000_000, reference="G-1")  # R-POST-1
    services.charge(customer=cast.globex, channel="sms", operator="telkomsel", units=3, reference="p1")
    body = api_client(cast.globex_live_key).get("/api/v1/balance").json()
    assert body["mode"] == "postpaid"
    month = body.pop("month")
    assert month.pop("month") == timezone.localtime().strftime("%Y-%m")
    assert month == {"units": 3, "tier": 1, "amount": 1950}
    assert body == {"mode": "postpaid", "guarantee": 10_000_000, "cap": 20_000_000, "cap_left": 20_000_000 - 1950}


def test_balance_needs_a_key() -> None:
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/balance").status_code == 401
