"""Issue 12: what customers read. No internal rule numbers ("(R-PRE-2)",
"(R-CH-3)") in a page or an email: they belong in code, tests and staff
help. Every dashboard page a signed-in owner can open is rendered and read,
as are the customer emails; every customer-facing template's source is
scanned too (a branch a test does not reach still ships)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from billing import notifications
from billing import services as billing
from messaging import services
from tests.billing.postpaid_months import document_key, english, invoice_month, make_postpaid
from tests.conftest import Cast
from tests.helpers import (
    api_key_for,
    media_root_fixture,  # noqa: F401 - autouse: uploads land in a temporary folder
    signed_in,
    topup_request,
)
from tests.senderids.helpers import apply

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager")]

ROOT = Path(__file__).resolve().parents[2]
RULE = re.compile(r"R-[A-Z]{2,5}-\d")
DASHBOARD_NAMESPACES = ("dashboard", "billing", "messaging", "senderids", "account")
# Staff-only templates (the Django admin, the back office, staff sign-in) may cite rules.
STAFF_PARTS = {"admin", "backoffice", "staff"}


def url_names(namespaces: tuple[str, ...] = DASHBOARD_NAMESPACES) -> Iterator[tuple[str, list[str]]]:
    """("namespace:name", its URL arguments) for every dashboard page."""

    def walk(patterns: list[Any], namespace: str | None) -> Iterator[tuple[str, list[str]]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and namespace in namespaces and pattern.name:
                yield f"{namespace}:{pattern.name}", list(pattern.pattern.converters)

    yield from walk(get_resolver().url_patterns, None)


def visit_every_page(client: Client, arguments: dict[str, Any]) -> dict[str, str]:
    """Every GET page of the dashboard that renders HTML, by URL name → its HTML."""
    pages = {}
    for name, needed in url_names():
        if any(arg not in arguments for arg in needed):
            continue
        url = reverse(name, kwargs={arg: arguments[arg] for arg in needed})
        response = client.get(url)
        if response.status_code in (302, 403, 404, 405) or "text/html" not in response.get("Content-Type", ""):
            continue
        assert response.status_code in (200, 400), (url, response.status_code)
        pages[name] = b"".join(response.streaming_content).decode() if response.streaming else response.content.decode()
    return pages


@pytest.fixture
def busy_owner(cast: Cast, django_capture_on_commit_callbacks) -> tuple[Client, dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Acme's owner with a deposit, a delivered verification and a sender-ID application."""
    billing.lot_create(customer=cast.acme, amount=2_500_000, reference="BCA-1")
    with django_capture_on_commit_callbacks(execute=True):
        verification, message = services.verification_start(
            api_key=api_key_for(cast.acme_live_key), to="+6281234567890"
        )
    application = apply(cast)
    arguments = {
        "message_id": message.id,
        "verification_id": verification.id,
        "sender_id": application.sender_id.pk,
        "locale": "id",
    }
    return signed_in(cast.owner.email), arguments


def test_no_page_a_prepaid_owner_opens_shows_a_rule_number(busy_owner: tuple[Client, dict[str, Any]]) -> None:
    client, arguments = busy_owner
    for language in ("id", "en"):
        client.post("/i18n/setlang/", {"language": language, "next": "/"})
        pages = visit_every_page(client, arguments)
        for expected in (
            "dashboard:home",
            "billing:balance",
            "billing:topup",
            "messaging:message",
            "messaging:pricing",
        ):
            assert expected in pages, expected
        found = {name: RULE.findall(html) for name, html in pages.items() if RULE.search(html)}
        assert found == {}, language


def test_no_page_a_postpaid_owner_opens_shows_a_rule_number(cast: Cast) -> None:
    acme = make_postpaid(cast.acme)
    invoice = invoice_month(acme, 2025, 10)
    client = english(signed_in(cast.owner.email))
    pages = visit_every_page(client, {"number": document_key(invoice)})
    assert {"billing:balance", "billing:invoices", "billing:invoice", "dashboard:home"} <= set(pages)
    assert {name: RULE.findall(html) for name, html in pages.items() if RULE.search(html)} == {}


def test_the_customer_emails_carry_no_rule_number(cast: Cast) -> None:
    """Rendered as sent (Indonesian), one of each kind billing sends a prepaid customer."""
    lot = billing.lot_create(customer=cast.acme, amount=750_000, reference="BCA-1")
    notifications.deliver("low_balance", customer_id=cast.acme.pk, balance=150_000, threshold=200_000)
    notifications.deliver("expiry_warning", lot_id=lot.pk, days=7)
    notifications.deliver("inactivity_warning", customer_id=cast.acme.pk, deadline="2026-05-31", days=30, balance=1000)
    for reason in ("expiry", "inactivity"):
        notifications.deliver("forfeited", customer_id=cast.acme.pk, amount=320_500, reason=reason)
    approved = topup_request(cast, reference="BCA-9")
    billing.topup_request_approve(request=approved, reviewed_by=cast.staff, note="OK")
    notifications.deliver("topup_decided", request_id=approved.pk)
    rejected = topup_request(cast, reference="BCA-10")
    billing.topup_request_reject(request=rejected, reviewed_by=cast.staff, note="Unreadable")
    notifications.deliver("topup_decided", request_id=rejected.pk)
    customer_mail = [m for m in mail.outbox if "owner@acme.test" in m.to]
    assert len(customer_mail) >= 7
    for message in customer_mail:
        assert not RULE.search(message.subject + message.body), (message.subject, RULE.findall(message.body))


def customer_templates() -> Iterator[Path]:
    for path in sorted({*ROOT.glob("templates/**/*"), *ROOT.glob("*/templates/**/*")}):
        relative = path.relative_to(ROOT)
        if (
            path.is_file()
            and relative.parts[0] not in {".venv", "var", "tests"}
            and not STAFF_PARTS & set(relative.parts)
        ):
            yield path


def without_comments(source: str) -> str:
    source = re.sub(r"\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}", "", source, flags=re.S)
    return re.sub(r"\{#.*?#\}", "", source, flags=re.S)


def test_no_customer_facing_template_cites_a_rule_number() -> None:
    """Pages, partials, emails (billing, sender IDs, sign-in) and PDFs: every branch, not only those rendered above."""
    templates = list(customer_templates())
    assert any(p.match("billing/templates/billing/email/*.txt") for p in templates)
    assert any(p.match("senderids/templates/senderids/email/*.txt") for p in templates)
    assert any(p.name == "password_reset_email.html" for p in templates)
    cited = {str(p.relative_to(ROOT)): RULE.findall(without_comments(p.read_text())) for p in templates}
    assert {path: rules for path, rules in cited.items() if rules} == {}
