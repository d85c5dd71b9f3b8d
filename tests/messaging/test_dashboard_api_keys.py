"""API keys in the dashboard: list, create (the secret shown once, on the
response page only), revoke. Owners and developers only."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts import services as account_services
from accounts.models import ApiKey, Membership
from accounts.selectors import hash_secret
from tests.conftest import Cast, api_client
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

SECRET = re.compile(r"otp_(?:live|test)_[A-Za-z0-9_-]{40,}")


def signed_in(email: str) -> Client:
    client = Client()
    response = client.post("/login/", {"username": email, "password": TEST_PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return client


def billing_member(cast: Cast) -> str:
    user = UserFactory(email="finance@acme.test")
    Membership.objects.create(user=user, customer=cast.acme, role=Membership.Role.BILLING)
    return user.email


def create(client: Client, mode: str, name: str = "") -> str:
    response = client.post("/messaging/api-keys/create/", {"mode": mode, "name": name})
    assert response.status_code == 200, response.content[:500]
    assert "no-store" in response["Cache-Control"]
    found = SECRET.findall(response.content.decode())
    assert len(found) == 1
    return found[0]


def test_keys_page_lists_own_keys_only(cast: Cast) -> None:
    response = signed_in(cast.owner.email).get("/messaging/api-keys/")
    assert response.status_code == 200
    html = response.content.decode()
    for api_key in ApiKey.objects.filter(customer=cast.acme):
        assert api_key.prefix in html
    globex_key = ApiKey.objects.get(customer=cast.globex)
    assert globex_key.prefix not in html
    assert cast.acme_live_key not in html and cast.acme_test_key not in html  # never the secrets


def test_create_shows_the_secret_once_and_it_authenticates(cast: Cast) -> None:
    client = signed_in(cast.developer.email)
    secret = create(client, "live", name="web shop")
    assert secret.startswith("otp_live_")
    api_key = ApiKey.objects.get(customer=cast.acme, name="web shop")
    assert api_key.key_hash == hash_secret(secret) and api_key.created_by == cast.developer
    assert not ApiKey.objects.filter(key_hash=secret).exists()  # stored hashed
    me = api_client(secret).get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["key"] == {"prefix": api_key.prefix, "mode": "live"}
    assert me.json()["customer"]["slug"] == "acme"
    html = client.get("/messaging/api-keys/").content.decode()
    assert api_key.prefix in html and secret not in html  # the list never shows it again


def test_create_a_test_key(cast: Cast) -> None:
    secret = create(signed_in(cast.owner.email), "test")
    assert secret.startswith("otp_test_")
    assert api_client(secret).get("/api/v1/me").json()["key"]["mode"] == "test"


def test_a_bad_mode_is_a_form_error(cast: Cast) -> None:
    count = ApiKey.objects.count()
    response = signed_in(cast.owner.email).post("/messaging/api-keys/create/", {"mode": "gold"})
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()
    assert ApiKey.objects.count() == count


def test_revoke_makes_the_key_fail(cast: Cast) -> None:
    client = signed_in(cast.owner.email)
    secret = create(client, "live")
    api_key = ApiKey.objects.get(key_hash=hash_secret(secret))
    assert api_client(secret).get("/api/v1/me").status_code == 200
    response = client.post(f"/messaging/api-keys/{api_key.pk}/revoke/")
    assert response.status_code == 302 and response["Location"] == "/messaging/api-keys/"
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert api_client(secret).get("/api/v1/me").status_code == 401
    html = client.get("/messaging/api-keys/").content.decode()
    assert f"/messaging/api-keys/{api_key.pk}/revoke/" not in html  # no button for a revoked key
    assert "dicabut" in html  # the message, in Indonesian


def test_another_customers_key_cannot_be_revoked(cast: Cast) -> None:
    globex_key = ApiKey.objects.get(customer=cast.globex)
    response = signed_in(cast.owner.email).post(f"/messaging/api-keys/{globex_key.pk}/revoke/")
    assert response.status_code == 404
    globex_key.refresh_from_db()
    assert globex_key.revoked_at is None
    assert api_client(cast.globex_live_key).get("/api/v1/me").status_code == 200


def test_the_billing_role_is_forbidden(cast: Cast) -> None:
    client = signed_in(billing_member(cast))
    count = ApiKey.objects.count()
    assert client.get("/messaging/api-keys/").status_code == 403
    assert client.post("/messaging/api-keys/create/", {"mode": "live"}).status_code == 403
    acme_key = ApiKey.objects.filter(customer=cast.acme).first()
    assert acme_key is not None
    assert client.post(f"/messaging/api-keys/{acme_key.pk}/revoke/").status_code == 403
    acme_key.refresh_from_db()
    assert acme_key.revoked_at is None and ApiKey.objects.count() == count


def test_actions_are_post_only_with_csrf(cast: Cast) -> None:
    client = signed_in(cast.owner.email)
    api_key = ApiKey.objects.filter(customer=cast.acme).first()
    assert api_key is not None
    assert client.get("/messaging/api-keys/create/").status_code == 405
    assert client.get(f"/messaging/api-keys/{api_key.pk}/revoke/").status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = client.cookies  # signed in, but posting without the CSRF token
    assert strict.post(f"/messaging/api-keys/{api_key.pk}/revoke/").status_code == 403
    api_key.refresh_from_db()
    assert api_key.revoked_at is None


def test_a_key_revoked_elsewhere_reads_revoked(cast: Cast) -> None:
    created = account_services.api_key_create(customer=cast.acme, name="old integration")
    account_services.api_key_revoke(api_key=created.api_key)
    client = signed_in(cast.owner.email)
    client.post("/i18n/setlang/", {"language": "en", "next": "/messaging/api-keys/"})
    html = client.get("/messaging/api-keys/").content.decode()
    assert "old integration" in html and "Revoked" in html and "Create a key" in html
