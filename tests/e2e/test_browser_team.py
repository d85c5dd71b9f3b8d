"""The team and sign-in security pages in a real browser (Debian's Chromium
driven by Playwright, ``tests/e2e/browser.py``): the owner invites a member
by email with a role, the invitee joins from the emailed link with a
password of their own and sees only what their role allows; the owner turns
on two-factor sign-in and signs in again with password and code.

Each test saves a screenshot under var/screenshots/ (git-ignored)."""

from __future__ import annotations

import re
from base64 import b32encode

import pytest
from django.core import mail
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Browser, Page, expect

from accounts.models import Membership
from tests.accounts.team_helpers import INVITE_LINK, code_from_secret, fresh_code
from tests.conftest import Cast
from tests.e2e.browser import DEADLINE_MS, nav_labels, shot, sign_in, sign_out, tr
from tests.e2e.browser import browser_fixture as browser_fixture  # noqa: F401 - registers the fixtures
from tests.e2e.browser import context_fixture as context_fixture  # noqa: F401
from tests.e2e.browser import eager_dispatch_fixture as eager_dispatch_fixture  # noqa: F401
from tests.e2e.browser import page_fixture as page_fixture  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shipped_price_list")]

NEW_PASSWORD = "lantern-orchard-7421-Bromo"

# role: (a page the role opens and its navigation label, a page it may not open and its label)
LIMITS = {
    Membership.Role.DEVELOPER: (("/messaging/api-keys/", "API keys"), ("/billing/", "Balance")),
    Membership.Role.BILLING: (("/billing/", "Balance"), ("/messaging/api-keys/", "API keys")),
}


@pytest.mark.parametrize("role", [Membership.Role.DEVELOPER, Membership.Role.BILLING])
def test_an_invited_member_joins_from_the_email_and_sees_only_their_role(  # type: ignore[no-untyped-def]
    cast: Cast, browser: Browser, live_server, page: Page, request, role: str
) -> None:
    email = f"{role}.new@acme.test"
    sign_in(page, cast.owner.email)
    page.goto("/account/team/")
    page.fill("#id_email", email)
    page.check(f"input[name=role][value={role}]")
    page.click("form[action$='/team/invite/'] button[type=submit]")
    page.wait_for_url("**/account/team/")
    expect(page.locator("main .messages")).to_contain_text(email)
    expect(page.locator("section[aria-labelledby=invitations-title] table")).to_contain_text(email)

    assert len(mail.outbox) == 1, [m.subject for m in mail.outbox]
    assert mail.outbox[0].to == [email]
    link = INVITE_LINK.search(mail.outbox[0].body)
    assert link, mail.outbox[0].body
    path = "/" + link.group(0).split("/", 3)[3]

    # The invitee, in a browser of their own: the link, a password, and in.
    invitee = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    invitee.set_default_timeout(DEADLINE_MS)
    try:
        them = invitee.new_page()
        them.goto(path)
        expect(them.locator("main h1")).to_contain_text("Acme Shop")
        expect(them.locator("main")).to_contain_text(email)
        them.fill("#id_full_name", "Nadia Putri")
        them.fill("#id_password1", NEW_PASSWORD)
        them.fill("#id_password2", NEW_PASSWORD)
        them.click("main form button[type=submit]")
        them.wait_for_url(re.compile(r"/$"))
        expect(them.locator("main .messages")).to_contain_text("Acme Shop")
        membership = Membership.objects.get(user__email=email, customer=cast.acme)
        assert membership.role == role

        # Their own password signs them in again.
        sign_out(them)
        sign_in(them, email, NEW_PASSWORD)
        expect(them.locator("header .who")).to_have_text(email)
        (allowed, allowed_label), (refused, refused_label) = LIMITS[role]
        labels = nav_labels(them)
        assert tr(allowed_label) in labels and tr(refused_label) not in labels, labels
        assert tr("Team") not in labels, labels  # owners only
        response = them.goto(refused)
        assert response is not None and response.status in (403, 404), (refused, response and response.status)
        shot(them, request)
        response = them.goto("/account/team/")
        assert response is not None and response.status in (403, 404)
        response = them.goto(allowed)
        assert response is not None and response.status == 200
    finally:
        invitee.close()

    # The owner's team page lists them with their role.
    page.goto("/account/team/")
    row = page.locator(f"#members tr[data-email='{email}']")
    expect(row.locator("select[name=role]")).to_have_value(role)


def test_two_factor_sign_in_is_turned_on_and_asked_at_the_next_sign_in(cast: Cast, page: Page, request) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, cast.owner.email)
    page.goto("/account/security/")
    page.click("main a[href$='/security/two-factor/enrol/']")
    page.wait_for_url("**/account/security/two-factor/enrol/")
    expect(page.locator("main .qr svg")).to_be_visible()  # the QR code, drawn inline
    secret = page.locator("#totp-secret").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
    device = TOTPDevice.objects.get(user=cast.owner, confirmed=False)
    assert b32encode(device.bin_key).decode().rstrip("=") == secret  # the page shows the device's key
    page.fill("#id_code", code_from_secret(secret))  # what the authenticator app shows
    page.click("main form button[type=submit]")

    expect(page.locator("main h1")).to_have_text(tr("Recovery codes"))
    expect(page.locator("main .notice.ok")).to_have_text(tr("Two-factor sign-in is on."))
    codes = re.findall(r"\b[a-z2-7]{4}-[a-z2-7]{4}\b", page.locator("#recovery-codes").inner_text())
    assert len(codes) >= 5, codes
    device.refresh_from_db()
    assert device.confirmed
    shot(page, request, "recovery-codes")

    sign_out(page)
    sign_in(page, cast.owner.email, lands="/account/two-factor/")  # the password alone is not enough
    expect(page.locator("main h1")).to_have_text(tr("Two-factor sign-in"))
    response = page.goto("/messaging/api-keys/")
    assert response is not None
    page.wait_for_url(re.compile(r"/account/two-factor/\?next="))  # no page before the code
    page.fill("#id_code", fresh_code(device))
    page.click("main form button[type=submit]")
    page.wait_for_url("**/messaging/api-keys/")  # back where they were going
    expect(page.locator("header .who")).to_have_text(cast.owner.email)
    page.goto("/account/security/")
    expect(page.locator("main")).not_to_contain_text(tr("Turn on two-factor sign-in"))
    shot(page, request)
