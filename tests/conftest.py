"""The named cast (style.md #16): two customers, an owner, a developer, a staff user."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.utils import translation
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import ApiKey, Customer, Membership, User
from tests.factories import CustomerFactory, UserFactory


@dataclass
class Cast:
    acme: Customer
    globex: Customer
    owner: User  # owner of acme
    developer: User  # developer at acme
    stranger: User  # owner of globex
    staff: User
    acme_live_key: str
    acme_test_key: str
    globex_live_key: str


@pytest.fixture
def cast(db: None) -> Cast:
    acme = CustomerFactory(name="Acme Shop", slug="acme")
    globex = CustomerFactory(name="Globex Pay", slug="globex")
    owner = UserFactory(email="owner@acme.test")
    developer = UserFactory(email="dev@acme.test")
    stranger = UserFactory(email="owner@globex.test")
    staff = UserFactory(email="staff@otp.test", is_staff=True, is_superuser=True)
    Membership.objects.create(user=owner, customer=acme, role=Membership.Role.OWNER)
    Membership.objects.create(user=developer, customer=acme, role=Membership.Role.DEVELOPER)
    Membership.objects.create(user=stranger, customer=globex, role=Membership.Role.OWNER)
    return Cast(
        acme=acme,
        globex=globex,
        owner=owner,
        developer=developer,
        stranger=stranger,
        staff=staff,
        acme_live_key=account_services.api_key_create(customer=acme).secret,
        acme_test_key=account_services.api_key_create(customer=acme, mode=ApiKey.Mode.TEST).secret,
        globex_live_key=account_services.api_key_create(customer=globex).secret,
    )


def api_client(secret: str | None = None) -> APIClient:
    client = APIClient()
    if secret:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def acme_api(cast: Cast) -> APIClient:
    return api_client(cast.acme_live_key)


@pytest.fixture
def globex_api(cast: Cast) -> APIClient:
    return api_client(cast.globex_live_key)


def _ensure_shipped_price_list() -> None:
    from pathlib import Path

    from billing import services
    from billing.models import PriceList
    from billing.pricing import clear_cache

    if not PriceList.objects.filter(effective_from="2023-11-01").exists():
        csv = Path(__file__).resolve().parents[1] / "billing" / "data" / "price-list-2023-11-01.csv"
        services.price_list_import(data=csv.read_bytes(), allow_past=True, name="Price list 01 November 2023")
    clear_cache()


@pytest.fixture(autouse=True)
def _english_outside_requests() -> Iterator[None]:
    """Review 8.19: code run outside a request (a service called by a test, as
    by a staff command: ``otpportal.commands.in_english``) speaks English;
    a request speaks its own language (the dashboard's or the API's middleware)."""
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _price_list_present(request: pytest.FixtureRequest) -> None:
    """Every database test finds the offer's price list (R-PL-1), as the data
    migration leaves it. Transactional tests flush every table when they end,
    and a test that runs after one on the same worker would otherwise find
    no price list in force."""
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    if marker is None and not names & {"db", "transactional_db"}:
        return
    transactional = "transactional_db" in names or bool(marker and marker.kwargs.get("transaction"))
    request.getfixturevalue("transactional_db" if transactional else "db")
    _ensure_shipped_price_list()


@pytest.fixture
def shipped_price_list(transactional_db: None) -> None:
    """Explicit form of the above, for transactional tests that name it."""
    _ensure_shipped_price_list()


@pytest.fixture
def fresh_providers() -> Iterator[None]:
    """Providers built anew for the test and closed after it (a bind to a test SMSC must not
    outlive its server), and the database connections that the test's threads opened closed."""
    from django.db import connections

    from messaging.providers import registry, smpp

    registry.reset()
    smpp.close_providers()
    yield
    registry.reset()
    smpp.close_providers()
    connections.close_all()


@pytest.fixture
def without_redis(settings) -> None:  # type: ignore[no-untyped-def]
    """Limits and marks in the database or the process: the test does not depend on Redis."""
    settings.REDIS_URL = ""


@pytest.fixture
def smsc() -> Iterator[object]:
    """The project's local SMSC (``devservers.smsc``) on a free loopback port, with the test
    account ``otp`` / ``secret`` and receipts 50 ms after each submit. Modules that need the
    SMS channel pointed at it define their own ``smsc`` over this one's settings."""
    from devservers.smsc import SmscServer

    server = SmscServer(credentials={"otp": "secret"}, receipt_delay=0.05)
    server.start()
    yield server
    server.stop()
