from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from tests.conftest import Cast
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def signed_in(email: str) -> Client:
    client = Client()
    response = client.post("/login/", {"username": email, "password": TEST_PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return client


def test_login_page_is_indonesian_by_default(cast: Cast) -> None:
    response = Client().get("/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'lang="id"' in html
    assert "Masuk" in html


def test_language_switch_to_english(cast: Cast) -> None:
    client = Client()
    client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    html = client.get("/login/").content.decode()
    assert 'lang="en"' in html
    assert "Sign in" in html


def test_home_requires_sign_in(cast: Cast) -> None:
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_owner_sees_own_customer(cast: Cast) -> None:
    html = signed_in(cast.owner.email).get("/").content.decode()
    assert "Acme Shop" in html
    assert "Globex Pay" not in html
    assert cast.acme_live_key[:17] in html
    assert cast.acme_live_key not in html  # never the whole key


def test_other_customers_owner_never_sees_acme(cast: Cast) -> None:
    client = signed_in(cast.stranger.email)
    html = client.get("/").content.decode()
    assert "Globex Pay" in html and "Acme Shop" not in html
    client.post("/switch-customer/", {"customer": "acme"})
    html = client.get("/").content.decode()
    assert "Acme Shop" not in html


def test_user_without_membership_sees_no_customer(cast: Cast) -> None:
    UserFactory(email="lonely@x.test")
    response = signed_in("lonely@x.test").get("/")
    assert response.status_code == 403
    assert "Acme Shop" not in response.content.decode()


def test_wrong_password_is_refused(cast: Cast) -> None:
    response = Client().post("/login/", {"username": cast.owner.email, "password": "nope"})
    assert response.status_code == 200
    assert "_auth_user_id" not in Client().session


def test_logout(cast: Cast) -> None:
    client = signed_in(cast.owner.email)
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_password_reset_sends_a_working_link(cast: Cast) -> None:
    response = Client().post("/password-reset/", {"email": cast.owner.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    link = next(line for line in body.splitlines() if "/reset/" in line).strip()
    path = link.split("testserver", 1)[1]
    client = Client()
    form = client.get(path, follow=True)
    assert form.status_code == 200
    new_password = "a-brand-new-passphrase-42"
    done = client.post(form.redirect_chain[-1][0], {"new_password1": new_password, "new_password2": new_password})
    assert done.status_code == 302
    assert Client().post("/login/", {"username": cast.owner.email, "password": new_password}).status_code == 302


def test_an_english_browser_still_gets_indonesian_until_the_user_switches(cast: Cast) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert "Masuk" in client.get("/login/").content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert "Sign in" in client.get("/login/").content.decode()
