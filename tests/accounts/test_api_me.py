from __future__ import annotations

import pytest

from tests.conftest import Cast, api_client

pytestmark = pytest.mark.django_db


def test_me_describes_the_keys_customer_and_key(cast: Cast) -> None:
    response = api_client(cast.acme_live_key).get("/api/v1/me")
    assert response.status_code == 200
    assert response.json() == {
        "customer": {"slug": "acme", "name": "Acme Shop", "mode": "prepaid", "status": "active"},
        "key": {"prefix": cast.acme_live_key[:17], "mode": "live"},
    }


def test_me_with_a_test_key_says_test(cast: Cast) -> None:
    body = api_client(cast.acme_test_key).get("/api/v1/me").json()
    assert body["key"]["mode"] == "test"
    assert body["key"]["prefix"].startswith("otp_test_")


def test_each_key_sees_only_its_own_customer(cast: Cast) -> None:
    acme = api_client(cast.acme_live_key).get("/api/v1/me").json()
    globex = api_client(cast.globex_live_key).get("/api/v1/me").json()
    assert acme["customer"]["slug"] == "acme"
    assert globex["customer"]["slug"] == "globex"


def test_me_answers_suspended_customers_with_their_status(cast: Cast) -> None:
    from accounts.models import Customer

    Customer.objects.filter(pk=cast.acme.pk).update(status=Customer.Status.SUSPENDED)
    body = api_client(cast.acme_live_key).get("/api/v1/me").json()
    assert body["customer"]["status"] == "suspended"


def test_me_is_read_only(cast: Cast) -> None:
    response = api_client(cast.acme_live_key).post("/api/v1/me", {}, format="json")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
