"""Staff create an API key in the admin and see it once; revoke; customers."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts import selectors
from accounts.models import ApiKey, Customer
from tests.conftest import Cast
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db


def staff_client(cast: Cast) -> Client:
    client = Client()
    assert (
        client.post(
            "/admin/login/", {"username": cast.staff.email, "password": TEST_PASSWORD, "next": "/admin/"}
        ).status_code
        == 302
    )
    return client


def test_staff_create_a_key_and_see_it_once(cast: Cast) -> None:
    client = staff_client(cast)
    response = client.post(
        "/admin/accounts/apikey/add/", {"customer": cast.acme.pk, "name": "backend", "mode": "live"}, follow=True
    )
    assert response.status_code == 200
    html = response.content.decode()
    secret = re.search(r"(otp_live_[A-Za-z0-9_\-]{43})", html)
    assert secret, html[:2000]
    api_key = selectors.api_key_for_secret(secret.group(1))
    assert api_key is not None and api_key.name == "backend" and api_key.created_by == cast.staff
    # the key's page never shows it again
    page = client.get(f"/admin/accounts/apikey/{api_key.pk}/change/").content.decode()
    assert secret.group(1) not in page and api_key.prefix in page


def test_staff_revoke_keys(cast: Cast) -> None:
    client = staff_client(cast)
    api_key = ApiKey.objects.get(prefix=cast.acme_live_key[:17])
    client.post("/admin/accounts/apikey/", {"action": "revoke", "_selected_action": [api_key.pk]})
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert selectors.api_key_for_secret(cast.acme_live_key) is None


def test_customer_admin_pages_and_suspend(cast: Cast) -> None:
    client = staff_client(cast)
    assert client.get("/admin/accounts/customer/").status_code == 200
    assert client.get(f"/admin/accounts/customer/{cast.acme.pk}/change/").status_code == 200
    assert client.get("/admin/accounts/user/").status_code == 200
    assert client.get("/admin/accounts/membership/").status_code == 200
    client.post("/admin/accounts/customer/", {"action": "suspend", "_selected_action": [cast.acme.pk]})
    assert Customer.objects.get(pk=cast.acme.pk).status == "suspended"


def test_members_cannot_use_the_admin(cast: Cast) -> None:
    client = Client()
    client.post("/admin/login/", {"username": cast.owner.email, "password": TEST_PASSWORD, "next": "/admin/"})
    assert client.get("/admin/accounts/apikey/").status_code == 302
