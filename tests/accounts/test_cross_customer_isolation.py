"""Issue 14 (hostile input): every customer-owned API endpoint and every dashboard page,
tried by Acme with other customers' object ids, answers 404 or 403 and never their data.

The URL names come from the URL configuration (as in ``test_role_access_table``), so a new
endpoint or page without an entry in ``TABLE`` fails here. Each entry says how to try it:

- ``Foreign``: a request that names another customer's object (a verification, a message,
  an invoice, a sender ID, a webhook endpoint or delivery, an API key, an invitation, a
  member, a statement…): the answer is 404 or 403, with none of that customer's data;
- ``Own``: a page or endpoint without an object id in its path (a list, a form, an export):
  whatever it answers, it shows none of the other customers' data (followed through a
  redirect), even when the request names their objects in its query or form;
- ``NotCustomerData``: no customer's data behind it (the schema), with the reason.

After all the requests, the other customers' rows are exactly as before (nothing checked,
canceled, revoked, deleted, resent or re-roled). The other half of the issue's line ("with
a member of another role") is ``test_role_access_table``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import unquote, urlencode

import pytest
from django.test import Client
from django.urls import get_resolver
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import ApiKey, Invitation, Membership
from billing import services as billing
from billing.models import Invoice, Statement, TopUpRequest
from messaging import services as messaging
from messaging.models import Message, MessageTemplate, SandboxMessage, Verification, WebhookDelivery, WebhookEndpoint
from senderids.models import Registration, SenderId
from tests.accounts.test_role_access_table import _patterns, dashboard_urls
from tests.billing.postpaid_months import at, document_key, invoice_month, make_postpaid
from tests.conftest import Cast, api_client
from tests.factories import CustomerFactory
from tests.helpers import media_root_fixture, png_proof, signed_in  # noqa: F401 - media_root: uploads in tmp
from tests.messaging.helpers import sandbox_code
from tests.senderids.helpers import apply

pytestmark = pytest.mark.django_db

GLOBEX_NUMBER = "+6281299900001"
GLOBEX_TEST_NUMBER = "+6281299900002"


@dataclass(frozen=True)
class Foreign:
    """A request naming another customer's object: 404 or 403, none of its data."""

    method: str
    path: str  # formatted with the other customers' objects (``Theirs``)
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Own:
    """A page or endpoint of Acme's own (no object id in the path): none of the other
    customers' data in the answer, whatever its status."""

    method: str = "GET"
    path: str | None = None  # default: the URL's own path (``dashboard_urls``)
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NotCustomerData:
    reason: str


Entry = Foreign | Own | NotCustomerData

V = "/api/v1/verifications/{verification}"
INV = "/api/v1/invoices/{invoice}"
API: dict[str, list[Entry] | NotCustomerData] = {
    "api:me": [Own(path="/api/v1/me")],
    "api:balance": [Own(path="/api/v1/balance")],
    "api:verifications": [
        Own(path="/api/v1/verifications"),
        Own(path=f"/api/v1/verifications?to=%2B{GLOBEX_NUMBER[1:]}"),
    ],
    "api:verification": [Foreign("GET", V), Foreign("GET", "/api/v1/verifications/{test_verification}")],
    "api:verification-check": [
        Foreign("POST", V + "/check", {"code": "{test_code}"}),
        Foreign("POST", "/api/v1/verifications/{test_verification}/check", {"code": "{test_code}"}),
    ],
    "api:verification-check-by-number": [
        Foreign("POST", "/api/v1/verifications/check", {"to": GLOBEX_TEST_NUMBER, "code": "{test_code}"}),
        Foreign("POST", "/api/v1/verifications/check", {"to": GLOBEX_NUMBER, "code": "123456"}),
    ],
    "api:verification-resend": [Foreign("POST", V + "/resend")],
    "api:verification-cancel": [Foreign("POST", V + "/cancel")],
    "api:messages": [Own(path="/api/v1/messages"), Own(path=f"/api/v1/messages?to=%2B{GLOBEX_NUMBER[1:]}")],
    "api:message": [Foreign("GET", "/api/v1/messages/{message}")],
    "api:quote": [Own(path=f"/api/v1/pricing/quote?to=%2B{GLOBEX_NUMBER[1:]}&text=Kode+1234")],
    "api:sandbox-messages": [Own(path="/api/v1/sandbox/messages"), Own(path="/api/v1/sandbox/messages?to={to}")],
    "api:webhooks": [Own(path="/api/v1/webhooks")],
    "api:webhook": [Foreign("DELETE", "/api/v1/webhooks/{endpoint}")],
    "api:invoices": [Own(path="/api/v1/invoices")],
    "api:invoice": [Foreign("GET", INV)],
    "api:invoice-pdf": [Foreign("GET", INV + "/pdf")],
    "api:invoice-csv": [Foreign("GET", INV + "/csv")],
    "api:sender-ids": [Own(path="/api/v1/sender-ids")],
    "api:sender-id": [Foreign("GET", "/api/v1/sender-ids/{sender_id}")],
    "api:schema": NotCustomerData("the OpenAPI schema: the same for everyone"),
    "api:docs": NotCustomerData("the API docs page (Swagger UI): the same for everyone"),
}

DASHBOARD: dict[str, list[Entry] | NotCustomerData] = {
    "dashboard:home": [Own()],
    "dashboard:switch_customer": [Own(method="POST", data={"customer": "{globex_slug}"})],
    "account:team": [Own()],
    "account:invite": [Own(method="POST", data={"email": "new@acme.test", "role": "developer"})],
    "account:invitation_cancel": [Foreign("POST", "/account/team/invitations/{invitation}/cancel/")],
    "account:member_role": [Foreign("POST", "/account/team/members/{membership}/role/", {"role": "billing"})],
    "account:member_remove": [Foreign("POST", "/account/team/members/{membership}/remove/")],
    "account:team_two_factor": [Own(method="POST", data={"required": "on"})],
    "account:activity": [Own()],
    "account:invitation_accept": NotCustomerData(
        "an invitation's link: its secret token is the credential, meant for whoever holds it"
    ),
    "account:security": [Own()],
    "account:password": [Own()],
    "account:two_factor_enrol": [Own()],
    "account:two_factor_disable": [Own(method="POST")],
    "account:recovery_codes": [Own()],
    "account:two_factor_verify": [Own()],
    "billing:balance": [Own()],
    "billing:threshold": [Own(method="POST", data={"threshold": "100000"})],
    "billing:ledger": [Own()],
    "billing:ledger_csv": [Own()],
    "billing:topup": [Own()],
    "billing:invoices": [Own()],
    "billing:invoice": [Foreign("GET", "/billing/invoices/{invoice}/")],
    "billing:invoice_pdf": [Foreign("GET", "/billing/invoices/{invoice}/pdf/")],
    "billing:invoice_csv": [Foreign("GET", "/billing/invoices/{invoice}/csv/")],
    "billing:statements": [Own()],
    "billing:statement_pdf": [Foreign("GET", "/billing/statements/{statement_month}/pdf/")],
    "messaging:messages": [Own(), Own(path=f"/messaging/messages/?to=%2B{GLOBEX_NUMBER[1:]}")],
    "messaging:messages_csv": [Own()],
    "messaging:message": [Foreign("GET", "/messaging/messages/{message}/")],
    "messaging:verifications": [Own(), Own(path=f"/messaging/verifications/?to=%2B{GLOBEX_NUMBER[1:]}")],
    "messaging:verifications_csv": [Own()],
    "messaging:verification": [
        Foreign("GET", "/messaging/verifications/{verification}/"),
        Foreign("GET", "/messaging/verifications/{test_verification}/"),
    ],
    "messaging:pricing": [Own()],
    "messaging:pricing_quote": [Own(path=f"/messaging/pricing/quote/?to=%2B{GLOBEX_NUMBER[1:]}&text=Kode+1234")],
    "messaging:sandbox": [Own(), Own(path="/messaging/sandbox/?to={to}")],
    "messaging:sandbox_send": [Own(method="POST", data={"to": GLOBEX_TEST_NUMBER})],
    "messaging:sandbox_inbox": [Own(), Own(path="/messaging/sandbox/inbox/?to={to}")],
    "messaging:try_send": [Own(method="POST", data={"to": GLOBEX_TEST_NUMBER})],
    # The try-it panel names a verification in its form: another customer's is not found.
    "messaging:try_check": [
        Own(method="POST", data={"verification": "{test_verification}", "code": "{test_code}"}),
    ],
    "messaging:webhooks": [Own()],
    "messaging:webhook_create": [Own(method="POST", data={"url": "https://example.test/acme"})],
    "messaging:delivery_resend": [Foreign("POST", "/messaging/webhooks/deliveries/{delivery}/resend/")],
    "messaging:webhook_delete": [Foreign("POST", "/messaging/webhooks/{endpoint}/delete/")],
    "messaging:webhook_test": [Foreign("POST", "/messaging/webhooks/{endpoint}/test/")],
    "messaging:templates": [Own()],
    # A locale, not an object: Acme's own text; Globex's text must stay (checked at the end).
    "messaging:template_set": [Own(method="POST", path="/messaging/templates/en/", data={"body": "Acme {{code}}"})],
    "messaging:template_delete": [Own(method="POST", path="/messaging/templates/en/delete/")],
    "messaging:api_keys": [Own()],
    "messaging:api_key_create": [Own(method="POST", data={"name": "acme", "mode": "test"})],
    "messaging:api_key_revoke": [Foreign("POST", "/messaging/api-keys/{api_key}/revoke/")],
    "messaging:quickstart": [Own()],
    "senderids:list": [Own()],
    "senderids:apply": [Own()],
    "senderids:appointment_form": [Own()],
    "senderids:detail": [Foreign("GET", "/sender-ids/{sender_id}/")],
    "senderids:uploaded_form": [Foreign("GET", "/sender-ids/{sender_id}/form/")],
    "senderids:reactivate": [
        Foreign("GET", "/sender-ids/{sender_id}/registrations/{registration}/reactivate/"),
        Foreign("POST", "/sender-ids/{sender_id}/registrations/{registration}/reactivate/", {"accept_fees": "on"}),
        # Acme's own sender ID with another customer's registration.
        Foreign("GET", "/sender-ids/{acme_sender_id}/registrations/{registration}/reactivate/"),
    ],
}


@dataclass
class Theirs:
    """The other customers' objects (Globex, prepaid; Initech, postpaid), their ids for the
    paths and the texts that must never reach Acme."""

    ids: dict[str, str]
    markers: list[str]
    snapshot: Callable[[], list[Any]]


def _body(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


@pytest.fixture
def eager(settings: Any, django_capture_on_commit_callbacks: Any) -> Iterator[Any]:
    """Celery tasks run inline, after commit, while the other customers' objects are made
    (the sandbox "sends" the test verification's code); limits counted in the database."""
    from otpportal.celery import app

    settings.REDIS_URL = ""
    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield django_capture_on_commit_callbacks
    app.conf.task_always_eager = old


@pytest.fixture
def theirs(cast: Cast, settings: Any, eager: Any) -> Theirs:
    billing.lot_create(customer=cast.acme, amount=2_500_000, reference="ACME-ISO")
    acme_sender = apply(cast, name="ACMEISO")
    # Globex (prepaid): a statement for October 2025, then this month's objects.
    with at("2025-10-05T10:00"):
        billing.lot_create(customer=cast.globex, amount=500_000, reference="GLOBEX-OCT-REF")
    with at("2025-11-01T00:05"):
        billing.statements_issue()
    billing.lot_create(customer=cast.globex, amount=2_000_000, reference="GLOBEX-LOT-REF")
    live = api_client(cast.globex_live_key)
    verification = live.post("/api/v1/verifications", {"to": GLOBEX_NUMBER}, format="json").json()
    message = live.post("/api/v1/messages", {"to": GLOBEX_NUMBER, "text": "Kode Globex 778899"}, format="json").json()
    test_key = account_services.api_key_create(customer=cast.globex, mode=ApiKey.Mode.TEST)
    with eager(execute=True):
        test_verification = (
            api_client(test_key.secret).post("/api/v1/verifications", {"to": GLOBEX_TEST_NUMBER}, format="json").json()
        )
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    endpoint = messaging.endpoint_create(customer=cast.globex, url="http://127.0.0.1:9/globex-hook-path")
    delivery = WebhookDelivery.objects.filter(endpoint=endpoint).first() or messaging.test_event_send(
        customer=cast.globex, endpoint_id=endpoint.id
    )
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    invitation = account_services.invitation_create(
        customer=cast.globex, email="invitee@globex.test", role="developer", invited_by=cast.stranger
    ).invitation
    messaging.template_set(customer=cast.globex, locale="en", body="Globex template {code}")
    billing.topup_request_create(
        customer=cast.globex,
        requested_by=cast.stranger,
        amount=1_000_000,
        proof=png_proof(),
        transfer_reference="GLOBEX-TRF-REF",
    )
    sender = apply(cast, customer=cast.globex, name="GLOBEXID", brand="Globex Brand", applied_by=cast.stranger)
    registration = Registration.objects.filter(application=sender.sender_id).first()
    # Initech (postpaid): an invoice for October 2025.
    initech = make_postpaid(CustomerFactory(name="Initech Corp", slug="initech"))
    invoice = invoice_month(initech, 2025, 10)
    statement = Statement.objects.get(customer=cast.globex)
    globex_key = ApiKey.objects.get(customer=cast.globex, mode=ApiKey.Mode.LIVE)
    ids = {
        "verification": verification["id"],
        "test_verification": test_verification["id"],
        "test_code": sandbox_code(GLOBEX_TEST_NUMBER),
        "message": message["id"],
        "endpoint": endpoint.id,
        "delivery": str(delivery.pk),
        "invitation": str(invitation.pk),
        "membership": str(Membership.objects.get(customer=cast.globex).pk),
        "api_key": str(globex_key.pk),
        "invoice": document_key(invoice),
        "statement_month": statement.period.strftime("%Y-%m"),
        "sender_id": sender.sender_id.pk,
        "registration": str(registration.pk),
        "acme_sender_id": acme_sender.sender_id.pk,
        "globex_slug": cast.globex.slug,
        "to": GLOBEX_TEST_NUMBER.replace("+", "%2B"),
    }
    markers = [
        verification["id"],
        test_verification["id"],
        message["id"],
        endpoint.id,
        "globex-hook-path",
        endpoint.secret,
        "invitee@globex.test",
        cast.stranger.email,
        "Globex template",
        "GLOBEX-TRF-REF",
        "GLOBEX-LOT-REF",
        "GLOBEX-OCT-REF",
        "GLOBEXID",
        "Globex Brand",
        "Globex Pay",
        "Initech",
        invoice.number,
        document_key(invoice),
        globex_key.prefix,
        test_key.api_key.prefix,
        GLOBEX_NUMBER,
        GLOBEX_NUMBER[1:],
        GLOBEX_TEST_NUMBER,
        "Kode Globex",
    ]
    others = [cast.globex, initech]

    def snapshot() -> list[Any]:
        return [
            list(model.objects.filter(**{lookup: others}).order_by("pk").values())
            for model, lookup in (
                (Verification, "customer__in"),
                (Message, "customer__in"),
                (SandboxMessage, "customer__in"),
                (WebhookEndpoint, "customer__in"),
                (WebhookDelivery, "endpoint__customer__in"),
                (ApiKey, "customer__in"),
                (Invitation, "customer__in"),
                (Membership, "customer__in"),
                (MessageTemplate, "customer__in"),
                (TopUpRequest, "customer__in"),
                (SenderId, "customer__in"),
                (Registration, "application__customer__in"),
                (Invoice, "customer__in"),
                (Statement, "customer__in"),
            )
        ]

    assert date(2025, 10, 1) == statement.period
    return Theirs(ids=ids, markers=markers, snapshot=snapshot)


def _api_names() -> set[str]:
    return {name for name, _route in _patterns(get_resolver()) if name.startswith("api:")}


def test_issue_14_every_api_endpoint_and_dashboard_page_has_an_entry() -> None:
    """Issue 14: a new endpoint or page fails here until it has an entry in the table."""
    api, pages = _api_names(), set(dashboard_urls())
    assert len(api) >= 20 and len(pages) > 50
    assert sorted(api ^ set(API)) == [], "add the API endpoint to API (or remove a stale entry)"
    assert sorted(pages ^ set(DASHBOARD)) == [], "add the page to DASHBOARD (or remove a stale entry)"


def _fill(text: str, ids: dict[str, str]) -> str:
    return text.format(**ids)


def _send(client: Client | APIClient, entry: Foreign | Own, path: str, ids: dict[str, str]) -> Any:
    data = {key: _fill(value, ids) for key, value in entry.data.items()}
    if isinstance(client, APIClient):
        if entry.method == "GET":
            return client.get(path)
        return client.generic(entry.method, path, json.dumps(data), content_type="application/json")
    if entry.method == "GET":
        return client.get(path, HTTP_ACCEPT="text/html")
    return client.generic(entry.method, path, urlencode(data), content_type="application/x-www-form-urlencoded")


def _try(
    label: str,
    client: Client | APIClient,
    entries: list[Entry] | NotCustomerData,
    own_path: str | None,
    theirs: Theirs,
) -> list[str]:
    wrong: list[str] = []
    if isinstance(entries, NotCustomerData):
        return wrong
    for entry in entries:
        assert not isinstance(entry, NotCustomerData)
        path = _fill(entry.path or own_path or "", theirs.ids)
        response = _send(client, entry, path, theirs.ids)
        bodies = [_body(response)]
        if isinstance(entry, Foreign) and response.status_code not in (403, 404):
            wrong.append(f"{label} {entry.method} {path}: {response.status_code}, expected 404 or 403")
        if isinstance(entry, Own) and response.status_code in (301, 302, 303) and isinstance(client, Client):
            bodies.append(_body(client.get(response["Location"], HTTP_ACCEPT="text/html")))
        asked = path + " " + " ".join(_fill(value, theirs.ids) for value in entry.data.values())
        asked += " " + unquote(asked)  # an id or number echoed back from the request is not a leak
        leaked = [m for m in theirs.markers if m not in asked and any(m in body for body in bodies)]
        if leaked:
            wrong.append(f"{label} {entry.method} {path}: {response.status_code} shows {leaked}")
    return wrong


def test_issue_14_acme_gets_404_or_403_and_never_another_customers_data(cast: Cast, theirs: Theirs) -> None:
    """Issue 14: Acme's live key, Acme's test key and Acme's owner try every endpoint and
    page with Globex's and Initech's ids: 404 or 403, none of their data, nothing of
    theirs changed."""
    before = theirs.snapshot()
    wrong: list[str] = []
    for key in (cast.acme_live_key, cast.acme_test_key):
        client = api_client(key)
        for name, entries in sorted(API.items()):
            wrong += _try(f"{name} ({key[:8]})", client, entries, None, theirs)
    owner = signed_in(cast.owner.email)
    paths = dashboard_urls()
    for name, entries in sorted(DASHBOARD.items()):
        wrong += _try(name, owner, entries, paths[name], theirs)
    assert wrong == []
    assert theirs.snapshot() == before, "a request by Acme changed another customer's rows"
    assert owner.get("/", HTTP_ACCEPT="text/html").context["current_customer"] == cast.acme
