"""Issue 12, two-factor sign-in for customers (django-otp): enrolment with a
QR code and one code, recovery codes shown once, the code asked at every
sign-in, turning it off with a current code, and owners requiring it for the
whole team."""

from __future__ import annotations

import pytest
from django.test import Client
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services
from accounts.models import ActivityEvent, Customer
from otpportal.errors import ServiceError
from tests.accounts.team_helpers import english, enrol, fresh_code, member, signed_in
from tests.conftest import Cast

pytestmark = pytest.mark.django_db

ENROL = "/account/security/two-factor/enrol/"
VERIFY = "/account/two-factor/"


def test_enrolment_shows_a_qr_code_and_needs_one_right_code(cast: Cast) -> None:
    client = english(signed_in(cast.developer.email))
    page = client.get(ENROL)
    html = page.content.decode()
    assert page.status_code == 200 and "<svg" in html and 'id="totp-secret"' in html
    assert "no-store" in page["Cache-Control"]
    device = TOTPDevice.objects.get(user=cast.developer, confirmed=False)
    assert client.get(ENROL).status_code == 200
    assert TOTPDevice.objects.get(user=cast.developer, confirmed=False).pk == device.pk  # a reload keeps the key
    wrong = client.post(ENROL, {"device": device.pk, "code": "000000"})
    assert wrong.status_code == 400 and "not valid" in wrong.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    device.throttle_reset()  # django-otp made the next try wait after the wrong code
    response = client.post(ENROL, {"device": device.pk, "code": fresh_code(device)})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    device.refresh_from_db()
    assert device.confirmed
    codes = StaticToken.objects.filter(device__user=cast.developer).values_list("token", flat=True)
    assert len(codes) == 10
    html = response.content.decode()
    for code in codes:
        assert f"{code[:4]}-{code[4:]}" in html  # shown once, grouped
    assert ActivityEvent.objects.filter(customer=cast.acme, action="two_factor_on", user=cast.developer).exists()
    assert client.get("/messaging/api-keys/").status_code == 200  # this session proved the code
    security = client.get("/account/security/").content.decode()
    assert "10 recovery codes are left" in security and codes[0] not in security  # never shown again


def test_the_next_sign_in_asks_for_the_code_before_any_page(cast: Cast) -> None:
    enrol(signed_in(cast.developer.email), cast.developer)
    client = signed_in(cast.developer.email)
    for url in ("/", "/messaging/api-keys/", "/account/security/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(f"{VERIFY}?next="), url
    inbox = client.get("/messaging/sandbox/inbox/", HTTP_ACCEPT="application/json")
    assert inbox.status_code == 403 and inbox.json()["error"]["code"] == "permission_denied"
    assert client.post(VERIFY, {"code": "123", "next": "/messaging/api-keys/"}).status_code == 400
    assert client.get("/messaging/api-keys/").status_code == 302  # still not through
    device = TOTPDevice.objects.get(user=cast.developer)
    device.throttle_reset()
    response = client.post(VERIFY, {"code": fresh_code(device), "next": "/messaging/api-keys/"})
    assert response.status_code == 302 and response["Location"] == "/messaging/api-keys/"
    assert client.get("/messaging/api-keys/").status_code == 200
    actions = set(ActivityEvent.objects.filter(user=cast.developer).values_list("action", flat=True))
    assert {"sign_in", "two_factor_failed", "two_factor_passed"} <= actions


def test_the_code_page_never_redirects_off_site(cast: Cast) -> None:
    enrol(signed_in(cast.owner.email), cast.owner)
    client = signed_in(cast.owner.email)
    device = TOTPDevice.objects.get(user=cast.owner)
    response = client.post(VERIFY, {"code": fresh_code(device), "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/"


def test_a_recovery_code_signs_in_once(cast: Cast) -> None:
    codes = enrol(signed_in(cast.developer.email), cast.developer)
    assert len(codes) == 10
    client = english(signed_in(cast.developer.email))
    response = client.post(VERIFY, {"code": codes[0].upper(), "next": "/"}, follow=True)
    assert response.status_code == 200 and "9 are left" in response.content.decode()
    again = signed_in(cast.developer.email)
    assert again.post(VERIFY, {"code": codes[0], "next": "/"}).status_code == 400


def test_after_a_wrong_code_even_the_right_one_is_refused_for_a_while(cast: Cast) -> None:
    """django-otp's throttle: after a wrong code the device refuses every code for a growing wait."""
    enrol(signed_in(cast.developer.email), cast.developer)
    StaticDevice.objects.filter(user=cast.developer).delete()  # only the app's codes
    client = signed_in(cast.developer.email)
    assert client.post(VERIFY, {"code": "000000"}).status_code == 400
    device = TOTPDevice.objects.get(user=cast.developer)
    assert device.throttling_failure_count == 1 and device.verify_is_allowed()[0] is False
    assert client.post(VERIFY, {"code": fresh_code(device)}).status_code == 400  # refused while throttled
    assert client.get("/").status_code == 302


def test_turning_it_off_needs_a_current_code(cast: Cast) -> None:
    client = english(signed_in(cast.developer.email))
    enrol(client, cast.developer)
    response = client.post("/account/security/two-factor/disable/", {"code": "000000"}, follow=True)
    assert "not valid" in response.content.decode()
    assert TOTPDevice.objects.filter(user=cast.developer, confirmed=True).exists()
    device = TOTPDevice.objects.get(user=cast.developer)
    device.throttle_reset()
    client.post("/account/security/two-factor/disable/", {"code": fresh_code(device)})
    assert not TOTPDevice.objects.filter(user=cast.developer).exists()
    assert not StaticDevice.objects.filter(user=cast.developer).exists()
    assert signed_in(cast.developer.email).get("/messaging/api-keys/").status_code == 200  # password alone again
    assert ActivityEvent.objects.filter(customer=cast.acme, action="two_factor_off").exists()


def test_new_recovery_codes_replace_the_old_ones(cast: Cast) -> None:
    client = signed_in(cast.developer.email)
    old = enrol(client, cast.developer)
    device = TOTPDevice.objects.get(user=cast.developer)
    response = client.post("/account/security/two-factor/recovery-codes/", {"code": fresh_code(device)})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    new = StaticToken.objects.filter(device__user=cast.developer).values_list("token", flat=True)
    assert len(new) == 10 and not set(new) & {code.replace("-", "") for code in old}


# --- The team's requirement -----------------------------------------------------------------


def test_an_owner_requires_it_only_with_an_app_of_their_own(cast: Cast) -> None:
    client = english(signed_in(cast.owner.email))
    response = client.post("/account/team/two-factor/", {"required": "on"}, follow=True)
    assert "for yourself first" in response.content.decode()
    assert not Customer.objects.get(pk=cast.acme.pk).require_two_factor
    enrol(client, cast.owner)
    assert client.post("/account/team/two-factor/", {"required": "on"}).status_code == 302
    assert Customer.objects.get(pk=cast.acme.pk).require_two_factor
    assert ActivityEvent.objects.filter(customer=cast.acme, action="team_two_factor_on", user=cast.owner).exists()
    developer = signed_in(cast.developer.email)
    enrol(developer, cast.developer)  # the team requires it now
    assert developer.post("/account/team/two-factor/", {"required": ""}).status_code == 403  # owners only
    assert Customer.objects.get(pk=cast.acme.pk).require_two_factor


def test_members_without_an_app_are_sent_to_enrolment_before_any_page(cast: Cast) -> None:
    clerk = member(cast.acme, "billing", "clerk@acme.test")
    Customer.objects.filter(pk=cast.acme.pk).update(require_two_factor=True)  # as an owner with an app would
    client = signed_in(clerk.email)
    for url in ("/", "/billing/", "/account/security/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(f"{ENROL}?next="), url
    page = english(client).get(ENROL)
    assert page.status_code == 200 and "requires two-factor sign-in" in page.content.decode()
    enrol(client, clerk)
    assert client.get("/billing/").status_code == 200
    assert signed_in(cast.stranger.email).get("/").status_code == 200  # Globex does not require it


def test_requiring_it_needs_the_owners_own_app_in_the_service_too(cast: Cast) -> None:
    with pytest.raises(ServiceError):
        services.customer_set_require_two_factor(customer=cast.acme, required=True, actor=cast.owner)


def test_an_unconfirmed_or_foreign_device_cannot_be_confirmed(cast: Cast) -> None:
    other = signed_in(cast.owner.email)
    other.get(ENROL)
    theirs = TOTPDevice.objects.get(user=cast.owner)
    client = signed_in(cast.developer.email)
    response = client.post(ENROL, {"device": theirs.pk, "code": fresh_code(theirs)})
    assert response.status_code == 400
    assert not TOTPDevice.objects.filter(confirmed=True).exists()


def test_an_anonymous_visit_to_the_code_page_signs_in_first() -> None:
    response = Client().get(VERIFY)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
