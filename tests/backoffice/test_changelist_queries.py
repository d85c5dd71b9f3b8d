"""Issue 13: the back office's lists cost a fixed number of queries (no N+1):
each is read with a few rows and again with many more, and both cost the
same, under a pinned ceiling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from billing import services as billing
from messaging.models import Message, WebhookDelivery
from senderids import services as sender_ids
from tests.backoffice.conftest import NUMBER, World
from tests.billing.postpaid_months import invoice_month
from tests.factories import CustomerFactory
from tests.helpers import topup_request
from tests.senderids.helpers import upload

pytestmark = pytest.mark.django_db

# url -> the queries its page costs (session, user, the list, its count, its filters), pinned
PAGES = {
    "/admin/": 12,
    "/admin/accounts/customer/": 6,
    "/admin/messaging/message/": 10,
    "/admin/messaging/message/?attention=stuck": 10,
    "/admin/billing/invoice/": 6,
    "/admin/billing/invoice/?paper=queue": 6,
    "/admin/billing/ledgerentry/": 8,
    "/admin/billing/topuprequest/?status__exact=pending": 8,
    "/admin/senderids/registration/?waiting=yes": 8,
    "/admin/billing/guaranteerefund/": 6,
    "/admin/messaging/webhookdelivery/": 7,
    "/admin/auditlog/logentry/": 9,
    "/admin/reports/revenue/?month=2025-05": 5,
    "/admin/reports/providers/": 6,
    "/admin/reports/reconciliation/": 5,
}


def grow(world: World) -> None:
    """Many more rows of every kind on those lists."""
    cast = world.cast
    for n in range(4):
        customer = CustomerFactory(name=f"Extra {n}", slug=f"extra-{n}")
        billing.lot_create(customer=customer, amount=1_000_000, reference=f"EXTRA-{n}")
        billing.charge(customer=customer, channel="sms", operator="telkomsel", units=1, reference=f"ex-{n}")
        Message.objects.create(customer=customer, to=NUMBER, channel="sms", operator="xl", body="Kode ******")
        topup_request(cast, reference=f"BCA-EXTRA-{n}")
        WebhookDelivery.objects.create(event=world.delivery.event, endpoint=world.delivery.endpoint)
    sender_ids.sender_id_apply(
        customer=cast.acme,
        name="TOKOLAIN",
        brand="Toko Lain",
        operators=["three", "indosat", "smartfren"],
        form=upload(),
        applied_by=cast.owner,
        accept_fees=True,
    )
    for month in (6, 7, 8):
        invoice_month(cast.globex, 2025, month)


def test_the_lists_cost_the_same_for_few_and_many_rows(
    as_role: Callable[[str], Client], world: World, django_assert_max_num_queries: Any
) -> None:
    client = as_role("superuser")
    few: dict[str, int] = {}
    for url in PAGES:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200, url
        few[url] = len(queries)
    grow(world)
    for url, ceiling in PAGES.items():
        with django_assert_max_num_queries(ceiling), CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200, url
        assert len(queries) == few[url], (url, few[url], len(queries), [q["sql"][:120] for q in queries])
