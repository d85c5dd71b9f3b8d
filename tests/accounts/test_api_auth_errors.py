"""Every authentication failure answers 401 in the contract's error shape."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import Customer
from tests.conftest import Cast, api_client

pytestmark = pytest.mark.django_db


def assert_unauthenticated(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "unauthenticated"
    assert body["error"]["message"]
    assert body["error"]["details"] == {}
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_missing_key(cast: Cast) -> None:
    assert_unauthenticated(APIClient().get("/api/v1/me"))


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer a b", "Basic dXNlcjpwYXNz", "Token otp_live_x", "otp_live_abc", "Bearer \u00e9\u00e9"],
)
def test_malformed_header(cast: Cast, header: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert_unauthenticated(client.get("/api/v1/me"))


def test_unknown_key(cast: Cast) -> None:
    assert_unauthenticated(api_client("otp_live_" + "A" * 43).get("/api/v1/me"))


def test_key_with_a_foreign_prefix(cast: Cast) -> None:
    assert_unauthenticated(api_client("sk_live_" + "A" * 43).get("/api/v1/me"))


def test_very_long_key(cast: Cast) -> None:
    assert_unauthenticated(api_client("otp_live_" + "A" * 5000).get("/api/v1/me"))


def test_revoked_key(cast: Cast) -> None:
    from django.utils import timezone

    from accounts.models import ApiKey

    ApiKey.objects.filter(prefix=cast.acme_live_key[:17]).update(revoked_at=timezone.now())
    assert_unauthenticated(api_client(cast.acme_live_key).get("/api/v1/me"))


def test_terminated_customer_key(cast: Cast) -> None:
    Customer.objects.filter(pk=cast.acme.pk).update(status=Customer.Status.TERMINATED)
    assert_unauthenticated(api_client(cast.acme_live_key).get("/api/v1/me"))
