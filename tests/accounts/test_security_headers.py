"""Issue 14 (hostile input), security headers.

- Under production settings (a ``manage.py shell`` of its own, as ``test_settings`` runs
  ``check --deploy``): HTTP is redirected to HTTPS, and an HTTPS answer carries HSTS (a year,
  subdomains, preload), ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``, the
  referrer policy and the content security policy.
- Every dashboard page (resolved from the URL configuration, as the role table does) that
  answers HTML carries the dashboard's policy, self only, no ``'unsafe-inline'`` or
  ``'unsafe-eval'``, and its HTML has nothing that policy would block: no inline
  ``<script>``, no ``style`` attribute, no ``<style>`` block, no ``on…=`` handler, no
  ``javascript:`` link. That is the browser-free check that the pages keep working.
- The admin and the API docs keep working under their own policies (``otpportal.csp``):
  scripts from ``'self'`` only and no inline script in their HTML; Swagger UI's start-up
  script is served as a file.
"""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from tests.accounts.test_role_access_table import dashboard_urls
from tests.accounts.test_settings import PRODUCTION, run_django
from tests.conftest import Cast
from tests.helpers import signed_in

CSP = "Content-Security-Policy"

PRODUCTION_PROBE = """
import json
from django.test import Client
client = Client(HTTP_HOST="otp.example.com")
plain = client.get("/login/")
secure = client.get("/login/", secure=True)
print("PROBE" + json.dumps({
    "plain": [plain.status_code, plain.get("Location", "")],
    "secure": [secure.status_code, dict(secure.headers)],
}))
"""


def _directives(header: str) -> dict[str, list[str]]:
    parts = (part.strip().split() for part in header.split(";") if part.strip())
    return {words[0]: words[1:] for words in parts}


def test_issue_14_production_answers_carry_hsts_nosniff_frame_denial_and_the_csp() -> None:
    """Issue 14: the headers a browser gets from production (DEBUG off, TESTING off)."""
    result = run_django(["shell", "-c", PRODUCTION_PROBE], PRODUCTION)
    assert result.returncode == 0, result.stderr[-2000:]
    probe = json.loads(result.stdout.split("PROBE", 1)[1])
    assert probe["plain"] == [301, "https://otp.example.com/login/"]
    status, headers = probe["secure"]
    assert status == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    policy = _directives(headers[CSP])
    assert policy["default-src"] == ["'self'"] and policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[a-z][^>]*\sstyle\s*=", re.IGNORECASE)
STYLE_BLOCK = re.compile(r"<style\b", re.IGNORECASE)
HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE)
JS_LINK = re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)


def _blocked_by_a_strict_policy(html: str) -> list[str]:
    checks = {
        "inline script": INLINE_SCRIPT,
        "style attribute": STYLE_ATTRIBUTE,
        "style block": STYLE_BLOCK,
        "event handler": HANDLER,
        "javascript: link": JS_LINK,
    }
    return [f"{what}: {match.group(0)[:120]}" for what, pattern in checks.items() if (match := pattern.search(html))]


@pytest.mark.django_db
def test_issue_14_every_dashboard_page_has_the_strict_policy_and_nothing_it_would_block(cast: Cast) -> None:
    """Issue 14: each dashboard page the owner opens (GET, HTML; the pages with an object
    opened with a real one as well), plus the sign-in page and the 403 and 404 pages."""
    from billing import services as billing
    from tests.conftest import api_client
    from tests.senderids.helpers import apply

    billing.lot_create(customer=cast.acme, amount=2_500_000, reference="CSP")
    started = api_client(cast.acme_test_key).post("/api/v1/verifications", {"to": "+6281234567890"}, format="json")
    sender_id = apply(cast).sender_id.pk
    owner = signed_in(cast.owner.email)
    pages = {"login": ("/login/", Client())} | {name: (path, owner) for name, path in dashboard_urls().items()}
    pages |= {
        "a verification": (f"/messaging/verifications/{started.json()['id']}/", owner),
        "a message": (f"/messaging/messages/{started.json()['message_id']}/", owner),
        "a sender ID": (f"/sender-ids/{sender_id}/", owner),
        "a page for owners only, as a developer (403)": ("/account/team/", signed_in(cast.developer.email)),
    }
    checked, wrong = [], []
    for name, (path, client) in sorted(pages.items()):
        response = client.get(path, HTTP_ACCEPT="text/html")
        assert response["X-Content-Type-Options"] == "nosniff", name
        assert response["X-Frame-Options"] == "DENY", name
        policy = _directives(response[CSP])
        for directive in ("default-src", "script-src", "style-src", "img-src", "connect-src"):
            if policy.get(directive) != ["'self'"]:
                wrong.append(f"{name}: {directive} {policy.get(directive)}")
        if policy.get("frame-ancestors") != ["'none'"] or policy.get("object-src") != ["'none'"]:
            wrong.append(f"{name}: {response[CSP]}")
        if response.status_code in (301, 302, 405) or "text/html" not in response["Content-Type"]:
            continue  # a redirect, a POST-only page, a download: no page to render
        checked.append(name)
        wrong += [f"{name}: {problem}" for problem in _blocked_by_a_strict_policy(response.content.decode())]
    assert wrong == []
    assert len(checked) >= 30, checked
    assert {"dashboard:home", "billing:balance", "messaging:sandbox", "messaging:pricing", "a sender ID"} <= set(
        checked
    )


@pytest.mark.django_db
def test_issue_14_the_meters_and_the_chart_are_drawn_without_style_attributes(cast: Cast) -> None:
    """Issue 14: the pages that had inline styles (the postpaid cap meter, the template
    previews) render them with SVG attributes and classes now."""
    from tests.billing.postpaid_months import make_postpaid

    make_postpaid(cast.acme)
    owner = signed_in(cast.owner.email)
    for path in ("/", "/billing/", "/messaging/templates/"):
        html = owner.get(path).content.decode()
        assert _blocked_by_a_strict_policy(html) == [], path
    assert re.search(
        r'<div class="meter[^"]*"[^>]*><svg [^>]*><rect width="\d+" height="1"/></svg></div>',
        owner.get("/").content.decode(),
    )


@pytest.mark.django_db
def test_issue_14_the_admin_keeps_working_under_its_own_policy(cast: Cast) -> None:
    """Issue 14: scripts self only, no inline script in its pages; inline styles allowed
    (the back office's ``<style>`` blocks)."""
    staff = signed_in(cast.staff.email)
    for path in ("/admin/", "/admin/accounts/customer/", f"/admin/accounts/customer/{cast.acme.pk}/change/"):
        response = staff.get(path)
        assert response.status_code == 200, path
        policy = _directives(response[CSP])
        assert policy["script-src"] == ["'self'"] and policy["default-src"] == ["'self'"], path
        assert policy["style-src"] == ["'self'", "'unsafe-inline'"] and policy["frame-ancestors"] == ["'none'"]
        assert not INLINE_SCRIPT.search(response.content.decode()), path


@pytest.mark.django_db
def test_issue_14_the_api_docs_keep_working_under_their_own_policy() -> None:
    """Issue 14: Swagger UI's page has no inline script; its start-up script is a file of
    ours that points at the schema; the bundles and the schema are served from here."""
    page = Client().get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    policy = _directives(page[CSP])
    assert policy["script-src"] == ["'self'"] and policy["connect-src"] == ["'self'"]
    assert "'unsafe-inline'" in policy["style-src"] and not INLINE_SCRIPT.search(html)
    sources = re.findall(r'<script src="([^"]+)"', html)
    assert len(sources) == 3 and all(src.startswith("/") for src in sources), sources
    script = Client().get(sources[-1].replace("&amp;", "&"))
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert "/api/v1/schema/" in script.content.decode()
    for bundle in sources[:2]:
        assert Client().get(bundle).status_code == 200, bundle
