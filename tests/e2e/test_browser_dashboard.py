"""The dashboard in a real browser (Debian's Chromium driven by Playwright):
the demo owner signs in, reads Indonesian, switches to English, sends a test
OTP from the sandbox page and sees it arrive."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from billing import services as billing
from tests.conftest import Cast
from tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shipped_price_list")]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def page(live_server, eager_dispatch) -> Iterator[object]:  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "Debian's chromium is required (make test installs it)"
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs an event loop in this thread
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
        yield context.new_page()
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    _end_other_sessions()


def _end_other_sessions() -> None:
    """The live server's keep-alive threads may still hold a connection; end
    them so the test database can be dropped at the end of the run."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture
def eager_dispatch(settings) -> Iterator[None]:  # type: ignore[no-untyped-def]
    from otpportal.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    settings.REDIS_URL = ""
    yield
    app.conf.task_always_eager = old


def test_owner_signs_in_switches_language_and_sends_a_test_otp(cast: Cast, live_server, page) -> None:  # type: ignore[no-untyped-def]
    billing.lot_create(customer=cast.acme, amount=500_000, reference="bank-1")
    page.goto(f"{live_server.url}/login/")
    assert page.locator("html").get_attribute("lang") == "id"  # an English browser still gets Indonesian
    page.fill("#id_username", cast.owner.email)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("button.primary")
    page.wait_for_url(f"{live_server.url}/")
    assert "Acme Shop" in page.content() and "Globex Pay" not in page.content()
    assert page.get_by_role("link", name="Saldo", exact=True).is_visible()

    page.click("button[value=en]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("link", name="Balance", exact=True).is_visible()

    page.goto(f"{live_server.url}/messaging/sandbox/")
    page.fill("main input[name=to]", "0812-3456-7890")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/messaging/sandbox/")
    inbox = page.locator("main table").last.inner_text()
    assert "+6281234567890" in inbox and "Kode OTP Anda" in inbox
