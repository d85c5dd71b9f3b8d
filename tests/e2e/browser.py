"""The dashboard in a real browser: Debian's Chromium driven by Playwright.

A plain module, not a conftest (as ``tests/helpers.py``): a test module
imports the fixtures it uses. One Chromium per module (``browser``), a fresh
context (cookies, storage) per test (``page``), against pytest-django's
in-process live server, with Celery tasks run eagerly inside its requests
(``eager_dispatch``), so a test send reaches the sandbox inbox at once and
an email lands in ``django.core.mail.outbox``.

Never a fixed wait: every step waits on the page's state (Playwright's
``expect`` and auto-waiting locators, with the deadline below).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone, translation
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from accounts.models import ApiKey
from billing import services as billing
from messaging import services as messaging
from messaging.models import Message, Verification, WebhookEndpoint
from tests.conftest import Cast
from tests.factories import TEST_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DEADLINE_MS = 10_000  # a shared 2-core machine: generous, and only ever spent when something is wrong
TELKOMSEL = "0812-3456-7890"
TELKOMSEL_E164 = "+6281234567890"
XL = "0817-9876-5432"
XL_E164 = "+6281798765432"

expect.set_options(timeout=DEADLINE_MS)

# The dashboard's main pages (one per navigation entry that matters), for the
# whole-site passes (translations, narrow screens).
MAIN_PAGES = {
    "home": "/",
    "messages": "/messaging/messages/",
    "verifications": "/messaging/verifications/",
    "sandbox": "/messaging/sandbox/",
    "api-keys": "/messaging/api-keys/",
    "webhooks": "/messaging/webhooks/",
    "quick-start": "/messaging/quick-start/",
    "pricing": "/messaging/pricing/",
    "balance": "/billing/",
    "sender-ids": "/sender-ids/",
    "team": "/account/team/",
    "security": "/account/security/",
    "activity": "/account/activity/",
}


@pytest.fixture(name="browser", scope="module")
def browser_fixture() -> Iterator[Browser]:
    """``browser``: one headless Chromium for the module's tests."""
    assert os.path.exists(CHROMIUM), "Debian's chromium is required (make test installs it)"
    old = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs an event loop in this thread
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()
    if old is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = old


@pytest.fixture(name="eager_dispatch")
def eager_dispatch_fixture(settings: Any) -> Iterator[None]:
    """``eager_dispatch``: Celery tasks run inside the request that queues them."""
    from otpportal.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    settings.REDIS_URL = ""
    yield
    app.conf.task_always_eager = old


@pytest.fixture(name="context")
def context_fixture(browser: Browser, live_server: Any, eager_dispatch: None) -> Iterator[BrowserContext]:
    """``context``: a fresh browser profile (no cookies) for one test, on a desktop screen."""
    context = browser.new_context(
        locale="en-US", viewport={"width": 1280, "height": 900}, base_url=live_server.url, service_workers="block"
    )
    context.set_default_timeout(DEADLINE_MS)
    before = database_sessions()
    yield context
    context.close()
    end_other_sessions(keep=before)


@pytest.fixture(name="page")
def page_fixture(context: BrowserContext) -> Page:
    """``page``: one tab of ``context``; relative URLs go to the live server."""
    return context.new_page()


def database_sessions() -> set[int]:
    """The backend ids of every session on the test database now."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return set()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        return {row[0] for row in cursor.fetchall()}


def end_other_sessions(keep: set[int] = frozenset()) -> None:  # type: ignore[assignment]
    """The live server's keep-alive threads may still hold a connection; end
    them so the test database can be flushed and dropped. Only sessions opened
    during the test (not in ``keep``) and not this one: the test's own
    connection must survive for the next test."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND NOT (pid = ANY(%s))",
                [sorted(keep)],
            )


# --- Steps ------------------------------------------------------------------------------------


def tr(msgid: str, language: str = "id") -> str:
    """What the dashboard shows for ``msgid`` in ``language``."""
    with translation.override(language):
        return str(translation.gettext(msgid))


def sign_in(page: Page, email: str, password: str = TEST_PASSWORD, *, lands: str = "/") -> None:
    """Through the sign-in page; waits for the page it leads to."""
    page.goto("/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("main button.primary")
    page.wait_for_url(re.compile(re.escape(lands) + r"(\?.*)?$"))


def sign_out(page: Page) -> None:
    page.click("header form[action='/logout/'] button")
    page.wait_for_url(re.compile(r"/(login/)?(\?.*)?$"))
    expect(page.locator("header .who")).to_have_count(0)


def nav_labels(page: Page) -> list[str]:
    return [text.strip() for text in page.locator("#mainnav a").all_inner_texts()]


def shot(page: Page, request: pytest.FixtureRequest, suffix: str = "") -> Path:
    """A screenshot of what the page shows, under var/screenshots/, named after the test."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.-]+", "-", request.node.name).strip("-")
    path = SCREENSHOTS / f"{name}{'-' + suffix if suffix else ''}.png"
    page.screenshot(path=str(path))
    return path


# --- Data the pages show ------------------------------------------------------------------------


def acme_test_key(cast: Cast) -> ApiKey:
    return ApiKey.objects.filter(customer=cast.acme, mode=ApiKey.Mode.TEST, revoked_at__isnull=True).first()  # type: ignore[return-value]


def send_test_code(cast: Cast, to: str = TELKOMSEL) -> tuple[Verification, Message]:
    """A test verification through the same service as the API (sent at once: ``eager_dispatch``)."""
    return messaging.verification_start(api_key=acme_test_key(cast), to=to, reference="e2e")


def live_traffic(cast: Cast, days: int = 5) -> None:
    """Delivered live SMS over the last few days, for the home page's chart and rates."""
    now = timezone.now()
    Message.objects.bulk_create(
        Message(
            customer=cast.acme,
            to=TELKOMSEL_E164,
            operator="telkomsel",
            channel="sms" if day % 2 else "wa",
            status="delivered",
            is_test=False,
            body="Kode ••••••",
            created_at=now - timedelta(days=day),
        )
        for day in range(days)
        for _ in range(day + 1)
    )


def busy_account(cast: Cast) -> None:
    """An account with something on every main page: deposits, test sends to
    two numbers, live traffic, a webhook endpoint (made after the sends: no
    delivery is attempted) and the cast's keys and members."""
    billing.lot_create(customer=cast.acme, amount=2_500_000, reference="BCA-0001")
    billing.lot_create(customer=cast.acme, amount=500_000, reference="BCA-0002")
    send_test_code(cast, TELKOMSEL)
    send_test_code(cast, XL)
    live_traffic(cast)
    WebhookEndpoint.objects.create(
        customer=cast.acme,
        url="https://hooks.acme.example.co.id/otp-portal/webhooks/receive-every-event",
        events=["message.status", "verification.status"],
        secret="whsec_e2e",
    )
