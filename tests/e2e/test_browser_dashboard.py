"""The dashboard in a real browser (Debian's Chromium driven by Playwright,
``tests/e2e/browser.py``): the owner signs in and reads Indonesian, switches
to English, sees the balance and the chart, makes an API key, sends a test
code from the sandbox's "try it" panel, sees it arrive without a reload and
checks it, finds the message and its timeline, uses the price calculator;
and every main page is translated and fits a phone's screen.

Each test saves a screenshot under var/screenshots/ (git-ignored)."""

from __future__ import annotations

import re

import polib
import pytest
from playwright.sync_api import Page, expect

from accounts.models import ApiKey
from billing import services as billing
from messaging import phones
from messaging.models import Message, Verification
from tests.conftest import Cast
from tests.e2e.browser import (
    MAIN_PAGES,
    ROOT,
    TELKOMSEL,
    TELKOMSEL_E164,
    XL,
    busy_account,
    live_traffic,
    nav_labels,
    send_test_code,
    shot,
    sign_in,
    tr,
)
from tests.e2e.browser import browser_fixture as browser_fixture  # noqa: F401 - registers the fixtures
from tests.e2e.browser import context_fixture as context_fixture  # noqa: F401
from tests.e2e.browser import eager_dispatch_fixture as eager_dispatch_fixture  # noqa: F401
from tests.e2e.browser import page_fixture as page_fixture  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shipped_price_list")]


def rupiah(amount: int) -> str:
    return f"Rp {amount:,}".replace(",", ".")


def test_owner_signs_in_switches_language_and_sends_a_test_otp(cast: Cast, page: Page, request) -> None:  # type: ignore[no-untyped-def]
    billing.lot_create(customer=cast.acme, amount=500_000, reference="bank-1")
    sign_in(page, cast.owner.email)
    assert page.locator("html").get_attribute("lang") == "id"  # an English browser still gets Indonesian
    assert "Acme Shop" in page.content() and "Globex Pay" not in page.content()
    assert page.get_by_role("link", name="Saldo", exact=True).is_visible()

    page.click("button[value=en]")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("link", name="Balance", exact=True)).to_be_visible()

    page.goto("/messaging/sandbox/")
    page.fill("#id_to", "0812-3456-7890")
    page.click("#try-send button[type=submit]")
    # The form is sent by developers.js (JSON) and the inbox polls: wait on the page, never on a clock.
    expect(page.locator("#try-result")).to_have_class(re.compile(r"\bok\b"))
    inbox = page.locator("#sandbox-inbox")
    expect(inbox).to_be_visible()
    expect(inbox.locator("tbody tr")).to_have_count(1)
    expect(inbox).to_contain_text(TELKOMSEL_E164)
    expect(inbox).to_contain_text("Kode OTP Anda")
    shot(page, request)


def test_home_shows_the_balance_and_the_30_day_chart(cast: Cast, page: Page, request) -> None:  # type: ignore[no-untyped-def]
    billing.lot_create(customer=cast.acme, amount=500_000, reference="bank-1")
    billing.lot_create(customer=cast.globex, amount=9_900_000, reference="globex-1")
    live_traffic(cast, days=5)  # 15 live sends over five days
    sign_in(page, cast.owner.email)

    balance = page.locator("section[aria-labelledby=money-title]")
    expect(balance.locator("h2")).to_have_text(tr("Balance"))
    expect(balance.locator(".big.money")).to_have_text(rupiah(500_000))
    expect(page.locator("main")).not_to_contain_text(rupiah(9_900_000))  # never another customer's money

    chart = page.locator("section[aria-labelledby=chart-heading]")
    svg = chart.locator("svg.chart")  # drawn on the server, inline
    expect(svg).to_be_visible()
    expect(chart.locator("svg.chart > title")).to_have_text(tr("Sends per day and channel"))
    assert svg.locator("rect").count() >= 5  # a bar segment per day and channel with traffic
    assert svg.evaluate("e => e.getBoundingClientRect().width") > 300
    expect(chart.locator("h2")).to_contain_text("30")
    expect(page.locator("dl.stats")).to_contain_text("15")  # the last 30 days' count
    shot(page, request)


def test_a_new_api_key_is_shown_once_with_a_copy_button(cast: Cast, page: Page, request) -> None:  # type: ignore[no-untyped-def]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, cast.owner.email)
    page.goto("/messaging/api-keys/")
    page.check("input[name=mode][value=test]")
    page.fill("#id_name", "web shop staging")
    page.click("form[action$='/api-keys/create/'] button[type=submit]")

    secret = page.locator("#new-key")
    expect(secret).to_have_text(re.compile(r"^otp_test_\S{20,}$"))
    key = secret.inner_text().strip()
    expect(page.locator("main .notice.warn")).to_have_text(
        tr("Copy it now: it is shown only this once. We keep only a hash and cannot show it again.")
    )
    copy = page.locator("button[data-copy='#new-key']")
    expect(copy).to_be_visible()  # hidden without JavaScript, shown by developers.js
    expect(copy).to_have_text(tr("Copy key"))
    copy.click()
    expect(copy).to_have_text(tr("Copied"))
    assert page.evaluate("navigator.clipboard.readText()") == key
    shot(page, request)

    # The key works (the API knows it) ...
    me = page.request.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status == 200, me.text()
    # ... and is never shown again: the list has its prefix only, the database a hash.
    created = ApiKey.objects.get(customer=cast.acme, name="web shop staging")
    page.goto("/messaging/api-keys/")
    expect(page.locator("main table")).to_contain_text(f"{created.prefix}…")
    assert key not in page.content()
    assert key not in {str(value) for value in ApiKey.objects.filter(pk=created.pk).values().get().values()}


def test_try_it_sends_a_code_that_appears_without_a_reload_and_checks_it(cast: Cast, page: Page, request) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, cast.owner.email)
    page.goto("/messaging/sandbox/")
    expect(page.locator("#sandbox-empty")).to_be_visible()
    page.evaluate("window.samePage = true")  # gone if the page reloads
    page.fill("#id_to", TELKOMSEL)
    page.click("#try-send button[type=submit]")

    expect(page.locator("#try-result")).to_have_class(re.compile(r"\bok\b"))
    row = page.locator("#sandbox-rows tr", has_text=TELKOMSEL_E164)
    expect(row).to_have_count(1)  # the poll brought it
    expect(page.locator("#sandbox-empty")).to_be_hidden()
    assert page.evaluate("window.samePage") is True
    found = re.search(r"Kode OTP Anda (\d{6})\b", row.locator(".sandbox-text").inner_text())
    assert found, row.inner_text()
    code = found.group(1)

    check = page.locator("#try-check")
    expect(check).to_be_visible()
    wrong = "000000" if code != "000000" else "111111"
    check.locator("[name=code]").fill(wrong)
    check.locator("button[type=submit]").click()
    result = page.locator("#try-check-result")
    expect(result).to_have_class(re.compile(r"\bwarn\b"))
    check.locator("[name=code]").fill(code)
    check.locator("button[type=submit]").click()
    expect(result).to_have_text(tr("The code is right: the verification is approved."))
    expect(result).to_have_class(re.compile(r"\bok\b"))
    assert page.evaluate("window.samePage") is True
    verification = Verification.objects.get(customer=cast.acme)
    assert verification.status == Verification.Status.APPROVED and verification.is_test
    shot(page, request)


def test_the_message_is_found_by_number_and_its_timeline_is_in_indonesian(cast: Cast, page: Page, request) -> None:  # type: ignore[no-untyped-def]
    _verification, message = send_test_code(cast, TELKOMSEL)
    send_test_code(cast, XL)
    sign_in(page, cast.owner.email)
    page.goto("/messaging/messages/")
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(2)

    page.fill("main form.filters [name=to]", TELKOMSEL)
    page.click("main form.filters button[type=submit]")
    page.wait_for_url(re.compile(r"[?&]to=0812"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(message.id)

    rows.first.locator(f"a:has-text('{message.id}')").click()
    page.wait_for_url(f"**/messaging/messages/{message.id}/")
    expect(page.locator("h1")).to_contain_text(message.id)
    timeline = page.locator("ol.timeline")
    expect(timeline.locator("li").first).to_contain_text(tr("Accepted and queued for sending."))
    expect(timeline.locator("li").first).to_contain_text(tr("Your API request"))
    message.refresh_from_db()
    status = str(Message.Status(message.status).label)
    expect(timeline.locator("li").last).to_contain_text(tr(status))
    text = timeline.inner_text()
    for english in ("Accepted and queued for sending.", "Your API request", "Sending service", status):
        if tr(english) != english:
            assert english not in text, (english, text)
    timeline.scroll_into_view_if_needed()
    shot(page, request)


def test_the_price_calculator_updates_as_you_type(cast: Cast, page: Page, request) -> None:  # type: ignore[no-untyped-def]
    billing.lot_create(customer=cast.acme, amount=2_500_000, reference="bank-1")  # tier 3 (R-PL-2)
    sms = billing.quote(customer=cast.acme, channel="sms", operator="telkomsel", units=1)
    sms_xl = billing.quote(customer=cast.acme, channel="sms", operator="xl", units=1)
    assert sms.unit_price != sms_xl.unit_price
    sign_in(page, cast.owner.email)
    page.goto("/messaging/pricing/")
    address = page.url
    page.evaluate("window.samePage = true")
    sms_row = page.locator("#quote-rows tr").filter(has=page.locator("td", has_text=re.compile(r"^SMS$")))

    page.fill("#id_to", TELKOMSEL)
    page.fill("#id_text", "Kode OTP Anda 482913")
    expect(page.locator("#quote-operator")).to_have_text(phones.Operator.TELKOMSEL.label)
    expect(page.locator("#quote-tier")).to_have_text(str(sms.tier))
    expect(page.locator("#quote-characters")).to_have_text("20")
    expect(sms_row.locator("td")).to_have_text(
        ["SMS", tr("Standard (GSM-7)"), "1", rupiah(sms.unit_price), rupiah(sms.unit_price)]
    )

    page.fill("#id_text", "a" * 161)  # R-SEG: two SMS parts
    expect(sms_row.locator("td").nth(2)).to_have_text("2")
    expect(sms_row.locator("td").nth(4)).to_have_text(rupiah(2 * sms.unit_price))
    expect(page.locator("#quote-characters")).to_have_text("161")

    page.fill("#id_text", "Kode 482913 🙂")  # an emoji: Unicode
    expect(sms_row.locator("td").nth(1)).to_have_text(tr("Unicode (UCS-2)"))
    expect(sms_row.locator("td").nth(2)).to_have_text("1")

    page.fill("#id_to", XL)  # another operator, another price
    expect(page.locator("#quote-operator")).to_have_text(phones.Operator.XL.label)
    expect(sms_row.locator("td").nth(4)).to_have_text(rupiah(sms_xl.unit_price))
    assert page.url == address and page.evaluate("window.samePage") is True  # nothing was submitted
    shot(page, request)


# --- Every main page -------------------------------------------------------------------------------

# Names that stay as they are; "English" is also the message-language choice's
# endonym (the sandbox's language list names each language in itself).
ALWAYS_ENGLISH = {
    "API",
    "OTP",
    "SMS",
    "Webhook",
    "Webhooks",
    "Sandbox",
    "CSV",
    "PDF",
    "ID",
    "URL",
    "WhatsApp",
    "English",
}


def english_msgids() -> set[str]:
    """The English msgids of the Indonesian catalogue whose translation
    differs (a fuzzy entry counts: Django does not use it), without
    placeholders, very short ones or names that stay English."""
    catalogue = polib.pofile(str(ROOT / "locale" / "id" / "LC_MESSAGES" / "django.po"))
    same: set[str] = set()
    differ: set[str] = set()
    for entry in catalogue:
        if entry.obsolete:
            continue
        pairs = [(entry.msgid, entry.msgstr)]
        if entry.msgid_plural:
            forms = entry.msgstr_plural or {}
            pairs = [(entry.msgid, forms.get(0, "")), (entry.msgid_plural, forms.get(0, ""))]
        for msgid, msgstr in pairs:
            if msgstr == msgid and not entry.fuzzy:
                same.add(msgid)
            else:
                differ.add(msgid)
    return {
        msgid
        for msgid in differ - same
        if len(msgid) > 3 and msgid not in ALWAYS_ENGLISH and not re.search(r"%[(\w]|\{", msgid)
    }


def untranslated(text: str, msgids: set[str]) -> list[str]:
    """Visible fragments (lines, cells, parts between " · ") that are an English msgid."""
    fragments = {part.strip() for line in re.split(r"[\n\t]| · ", text) for part in [line] if part.strip()}
    found = sorted(fragments & msgids)
    # A sentence inside a longer line (a link or a badge beside it) is English too.
    found += sorted(
        msgid
        for msgid in msgids
        if msgid not in found and msgid.count(" ") >= 3 and re.search(rf"(?<!\w){re.escape(msgid)}(?!\w)", text)
    )
    return found


def test_no_main_page_shows_an_english_text_in_indonesian(cast: Cast, page: Page, request) -> None:  # type: ignore[no-untyped-def]
    busy_account(cast)
    msgids = english_msgids()
    assert len(msgids) > 1000  # the catalogue was read
    sign_in(page, cast.owner.email)
    english: dict[str, list[str]] = {}
    for name, path in MAIN_PAGES.items():
        response = page.goto(path)
        assert response is not None and response.status == 200, (path, response and response.status)
        assert page.locator("html").get_attribute("lang") == "id", path
        found = untranslated(page.inner_text("body"), msgids)
        if found:
            english[name] = found
    shot(page, request)
    assert not english, f"English text on Indonesian pages: {english}"

    # And the switch to English works on each of them: the navigation reads English.
    page.click("button[value=en]")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    labels = nav_labels(page)
    assert {"Home", "Messages", "Balance", "API keys", "Team", "Sign-in security"} <= set(labels), labels
    assert not set(labels) & {tr(label) for label in ("Messages", "Balance", "API keys", "Team")}
    assert len(untranslated(page.inner_text("body"), msgids)) > 10  # the check does see English when it is there


# The page's width against the screen's and, to say what is too wide, the first
# elements that pass its right edge (not those scrolling inside a table).
MEASURE = """() => {
    const limit = window.innerWidth;
    const wide = [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > limit + 1 && !e.closest('.table-wrap, table'))
        .slice(0, 5)
        .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + [...e.classList].join('.'));
    return {scroll: document.documentElement.scrollWidth, inner: limit, wide};
}"""
# Set from script: the content security policy ignores a style="" attribute in inserted HTML.
WIDE_BLOCK = (
    "const p = document.createElement('p'); p.textContent = 'x'; p.style.width = '600px';"
    " document.querySelector('main').append(p)"
)


def test_every_main_page_fits_a_375_px_wide_phone(cast: Cast, page: Page, request) -> None:  # type: ignore[no-untyped-def]
    busy_account(cast)
    page.set_viewport_size({"width": 375, "height": 812})
    sign_in(page, cast.owner.email)
    page.click("button[value=en]")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    too_wide: dict[str, object] = {}
    for name, path in MAIN_PAGES.items():
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        assert page.locator("html").get_attribute("lang") == "en", path
        widths = page.evaluate(MEASURE)
        if widths["scroll"] > widths["inner"]:
            too_wide[name] = widths
            shot(page, request, name)
    shot(page, request)
    assert not too_wide, f"Pages wider than a 375 px screen: {too_wide}"
    # The measure does see a page that is too wide.
    page.evaluate(WIDE_BLOCK)
    assert page.evaluate(MEASURE)["scroll"] > 375
