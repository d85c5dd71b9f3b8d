"""Issue 12: each role sees only its pages, enforced on the server.

Every URL of the dashboard's namespaces is resolved from the URL
configuration, so a new page without an entry in ``accounts.roles.PAGES``
fails here. Each one is then requested as an owner, a developer and a
billing member of Acme: 403 exactly when the table says the role may not
open it (owner: everything; developer: the developer pages and the
messages; billing: the money pages and invoices)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts import roles
from accounts.models import Membership
from tests.accounts.team_helpers import member, signed_in
from tests.conftest import Cast

pytestmark = pytest.mark.django_db

NAMESPACES = ("dashboard", "account", "billing", "messaging", "senderids")
ARGUMENTS = {"int": "999999", "str": "x-unknown", "slug": "x-unknown", "path": "x-unknown"}


def _patterns(resolver: URLResolver, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str]]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else entry.namespace or namespace
            yield from _patterns(entry, prefix + str(entry.pattern), inner or "")
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}:{entry.name}" if namespace else entry.name, prefix + str(entry.pattern)


def _path(route: str) -> str:
    """A request path for a route, with made-up values for its arguments."""
    route = re.sub(r"<(?:(\w+):)?\w+>", lambda m: ARGUMENTS[m.group(1) or "str"], route)
    if route.startswith("^"):  # a regular expression route: none in the dashboard
        raise AssertionError(f"cannot build a path for {route}")
    return "/" + route


def dashboard_urls() -> dict[str, str]:
    """Every named URL of the dashboard's namespaces -> a path to request."""
    return {
        name: _path(route)
        for name, route in _patterns(get_resolver())
        if name.split(":", 1)[0] in NAMESPACES and ":" in name
    }


def test_every_dashboard_url_has_an_entry_in_the_role_table() -> None:
    urls = dashboard_urls()
    assert len(urls) > 50
    missing = sorted(set(urls) - set(roles.PAGES))
    assert missing == [], f"add these pages to accounts.roles.PAGES: {missing}"
    stale = sorted(set(roles.PAGES) - set(urls))
    assert stale == [], f"these entries of accounts.roles.PAGES name no URL: {stale}"


def test_a_page_missing_from_the_table_is_for_owners_only() -> None:
    assert roles.allows("messaging:some_new_page", "owner")
    assert not roles.allows("messaging:some_new_page", "developer")
    assert not roles.allows(None, "billing")


def _request(client: Client, path: str) -> int:
    """GET, or POST for a page that takes only POST (its 405)."""
    status = client.get(path, HTTP_ACCEPT="text/html").status_code
    if status == 405:
        status = client.post(path).status_code
    return status


@pytest.fixture
def clients(cast: Cast) -> dict[str, Client]:
    clerk = member(cast.acme, Membership.Role.BILLING, "clerk@acme.test")
    return {
        "owner": signed_in(cast.owner.email),
        "developer": signed_in(cast.developer.email),
        "billing": signed_in(clerk.email),
    }


@pytest.mark.parametrize("role", ["owner", "developer", "billing"])
def test_each_role_opens_exactly_the_pages_the_table_allows(role: str, clients: dict[str, Client]) -> None:
    client = clients[role]
    wrong = []
    for name, path in sorted(dashboard_urls().items()):
        allowed = roles.allows(name, role)
        status = _request(client, path)
        if (status == 403) == allowed:
            wrong.append(f"{name} {path}: {status}, allowed={allowed}")
    assert wrong == []


def test_the_table_says_what_the_issue_says() -> None:
    """Owner: everything; developer: developer pages + messages; billing: money pages + invoices."""
    everything = set(roles.PAGES)
    assert roles.pages_for("owner") == everything
    developer, billing = roles.pages_for("developer"), roles.pages_for("billing")
    for name in (
        "messaging:api_keys",
        "messaging:webhooks",
        "messaging:sandbox",
        "messaging:try_send",
        "messaging:quickstart",
        "messaging:templates",
        "messaging:messages",
        "messaging:verifications",
    ):
        assert name in developer and name not in billing, name
    for name in ("billing:balance", "billing:ledger", "billing:topup", "billing:invoices", "billing:statements"):
        assert name in billing and name not in developer, name
    for name in ("account:team", "account:invite", "account:member_role", "account:activity", "senderids:apply"):
        assert name not in developer and name not in billing, name


def test_signed_out_visitors_are_sent_to_sign_in() -> None:
    public = {"account:invitation_accept"}
    for name, path in dashboard_urls().items():
        if name in public:
            continue
        response = Client().get(path)
        if response.status_code == 405:
            response = Client().post(path)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), name
