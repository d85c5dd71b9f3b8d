"""Issue 13: the money views (the monthly revenue report and its CSV, the
reconciliation result with a link to each difference) and provider health
(bind state from smpp_bind's heartbeat, throughput, submit errors, delivery
rate, messages waiting)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import F, Sum
from django.test import Client
from django.utils import timezone

from billing import services as billing
from billing.models import Charge, DepositLot, Reconciliation
from devservers.smsc import SmscServer
from messaging.management.commands.smpp_bind import heartbeat
from messaging.models import Message, SmppBindStatus
from messaging.providers.smpp import SmppAccount, SmppProvider
from tests.backoffice.conftest import NUMBER, World
from tests.billing.postpaid_months import at

pytestmark = pytest.mark.django_db


# --- Revenue -------------------------------------------------------------------------------


def test_the_revenue_csv_adds_up_to_the_months_charges(as_role: Callable[[str], Client], world: World) -> None:
    """One GROUP BY per channel, operator and mode; reversed charges left out (R-PRE-4)."""
    acme = world.cast.acme
    with at("2025-05-20T10:00"):
        billing.lot_create(customer=acme, amount=5_000_000, reference="MAY-LOT")
        for n, (channel, operator, units) in enumerate(
            [("sms", "telkomsel", 2), ("sms", "telkomsel", 1), ("sms", "xl", 3), ("wa", "", 1), ("wa_official", "", 1)]
        ):
            billing.charge(customer=acme, channel=channel, operator=operator, units=units, reference=f"may-{n}")
        reversed_charge = billing.charge(customer=acme, channel="sms", operator="indosat", units=1, reference="may-r")
        billing.reverse(charge=reversed_charge, reason="refused by the SMSC")
    with at("2025-06-02T10:00"):
        billing.charge(customer=acme, channel="sms", operator="telkomsel", units=1, reference="june-0")
    finance = as_role("finance")
    response = finance.get("/admin/reports/revenue.csv?month=2025-05")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    may = Charge.objects.filter(created_at__year=2025, created_at__month=5, reversed_at__isnull=True)
    totals = may.aggregate(amount=Sum("amount"), units=Sum("units"))
    assert sum(int(r["amount_rp"]) for r in rows) == totals["amount"]
    assert sum(int(r["units"]) for r in rows) == totals["units"]
    assert sum(int(r["messages"]) for r in rows) == may.count()
    lines = {(r["channel"], r["operator"], r["mode"]): int(r["units"]) for r in rows}
    assert lines[("sms", "telkomsel", "prepaid")] == 3 and lines[("sms", "xl", "prepaid")] == 3
    assert ("sms", "indosat", "prepaid") not in lines  # reversed
    assert ("sms", "telkomsel", "postpaid") in lines  # Globex's May invoice month
    page = finance.get("/admin/reports/revenue/?month=2025-05").content.decode()
    assert "Download CSV" in page and "2025-06" in page


# --- Reconciliation ------------------------------------------------------------------------


def test_the_reconciliation_page_links_each_difference(as_role: Callable[[str], Client], world: World) -> None:
    acme = world.cast.acme
    lot = DepositLot.objects.get(customer=acme, reference="ACME-BCA-1")
    DepositLot.objects.filter(pk=lot.pk).update(remaining=F("remaining") - 1_000)  # a projection gone wrong
    finance = as_role("finance")
    assert finance.post("/admin/reports/reconciliation/").status_code == 302
    latest = Reconciliation.objects.get()
    assert latest.mismatch_count == 1 and latest.mismatches[0]["customer_slug"] == "acme"
    page = finance.get("/admin/reports/reconciliation/").content.decode()
    assert 'data-mismatches="1"' in page
    assert f"/admin/accounts/customer/{acme.pk}/change/" in page
    assert f"/admin/billing/ledgerentry/?customer__id__exact={acme.pk}&amp;book__exact=deposit" in page
    assert f"/admin/billing/depositlot/{lot.pk}/change/" in page
    assert "Rp 1.000" in page  # the difference
    support = as_role("support")
    assert support.get("/admin/reports/reconciliation/").status_code == 200
    assert "Run the reconciliation now" not in support.get("/admin/reports/reconciliation/").content.decode()
    index = finance.get("/admin/").content.decode()
    assert "customers do not reconcile" in index


def test_the_daily_task_keeps_its_result(world: World) -> None:
    from billing.tasks import reconcile

    assert reconcile() == {"mismatches": 0}
    assert Reconciliation.objects.get().ok


# --- Provider health -----------------------------------------------------------------------


@pytest.fixture
def smpp_settings(settings: Any) -> Any:
    settings.PROVIDER_SMS = "smpp"
    settings.SMPP_ACCOUNTS = [
        "smpp://otp:secret@127.0.0.1:2775/?name=main",
        "smpp://otp:secret@127.0.0.1:2776/?name=tsel",
    ]
    settings.SMS_ROUTES = ["telkomsel=tsel", "default=main"]
    return settings


def message(
    world: World, *, operator: str, status: str, minutes_ago: float, error: str = "", provider: str = "smpp"
) -> None:
    row = Message.objects.create(
        customer=world.cast.acme,
        to=NUMBER,
        channel="sms",
        operator=operator,
        body="Kode ******",
        status=status,
        provider=provider,
        error_code=error,
    )
    Message.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))


def test_provider_health_per_smpp_account(as_role: Callable[[str], Client], world: World, smpp_settings: Any) -> None:
    for status in ("delivered", "delivered", "delivered", "undelivered"):
        message(world, operator="telkomsel", status=status, minutes_ago=2)
    message(world, operator="telkomsel", status="queued", minutes_ago=1, error="rate_limited")
    message(world, operator="xl", status="failed", minutes_ago=1, error="no_response")
    message(world, operator="xl", status="sent", minutes_ago=30)  # outside a 5-minute window
    now = timezone.now()
    SmppBindStatus.objects.create(
        account="tsel", process="web-1:10", mode="transceiver", state="bound", state_since=now, last_seen=now
    )
    SmppBindStatus.objects.create(
        account="main",
        process="web-1:11",
        mode="transceiver",
        state="bound",
        state_since=now - timedelta(hours=1),
        last_seen=now - timedelta(minutes=2),
    )
    page = as_role("operations").get("/admin/reports/providers/?minutes=5").content.decode()
    tsel = _row(page, "tsel")
    assert (tsel["sent"], tsel["errors"], tsel["waiting"]) == ("4", "1", "1")
    assert "75 %" in tsel["html"]  # 3 delivered of 4 reported
    assert "0.8" in tsel["html"]  # 4 sent in 5 minutes
    main = _row(page, "main")
    assert (main["sent"], main["errors"], main["waiting"]) == ("0", "1", "0")
    assert 'data-account="main" data-state="bound" data-silent="yes"' in page  # the process stopped beating
    assert 'data-account="tsel" data-state="bound" data-silent="no"' in page
    assert 'data-provider="sandbox"' in page  # the WhatsApp channels, quiet


def _row(page: str, account: str) -> dict[str, str]:
    import re

    match = re.search(
        rf'<tr data-provider="smpp" data-account="{account}" data-sent="(\d+)" data-errors="(\d+)" '
        rf'data-waiting="(\d+)">(.*?)</tr>',
        page,
        re.S,
    )
    assert match, account
    return {"sent": match.group(1), "errors": match.group(2), "waiting": match.group(3), "html": match.group(4)}


def test_smpp_bind_beats_with_each_binds_state(smsc: SmscServer, settings: Any, db: None) -> None:
    """The heartbeat over a real bind to the local SMSC: bound, then stopped."""
    account = SmppAccount.from_url(f"smpp://otp:secret@127.0.0.1:{smsc.port}/?name=main")
    provider = SmppProvider(account, on_report=lambda report: None, mode="transceiver")
    try:
        assert provider.connect()
        heartbeat([provider])
        row = SmppBindStatus.objects.get(account="main")
        assert (row.state, row.mode, row.last_error) == ("bound", "transceiver", "")
    finally:
        provider.close()
    heartbeat([provider], stopped=True)
    assert SmppBindStatus.objects.get(account="main").state == "stopped"
    settings.SMPP_ACCOUNTS = [f"smpp://otp:secret@127.0.0.1:{smsc.port}/?name=main"]
    call_command("smpp_bind", once_seconds=0.5, stdout=StringIO())
    rows = SmppBindStatus.objects.filter(account="main")
    assert rows.count() == 1 and rows.get().state == "stopped"  # this process's row, updated in place


def test_a_bind_that_cannot_connect_beats_not_bound_with_its_error(db: None) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    account = SmppAccount.from_url(f"smpp://otp:secret@127.0.0.1:{port}/?name=down")
    provider = SmppProvider(account, on_report=lambda report: None, mode="transceiver", connect_timeout=0.5)
    try:
        assert not provider.connect()
        heartbeat([provider])
    finally:
        provider.close()
    row = SmppBindStatus.objects.get(account="down")
    assert row.state == "connecting" and row.last_error
