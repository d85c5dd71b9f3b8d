"""The dispatch pipeline against the local SMSC misbehaving, over real sockets (Review 8.14, 8.16):
an outage, an SMSC down past the code's expiry, receipts that overtake their submit_sm_resp."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, connections, transaction

from billing import selectors as billing_selectors
from billing import services as billing
from billing.models import Charge
from devservers.smsc import SmscServer
from messaging import services
from messaging.models import Message, MessageStatusChange, PendingReport
from messaging.providers import registry, smpp
from messaging.providers.base import DeliveryReport, DeliveryState, OutboundMessage, Outcome, ProviderResult
from tests.conftest import Cast, api_client
from tests.helpers import api_key_for, wait_for
from tests.messaging.dispatch_helpers import worker_in_real_time, worker_loop
from tests.messaging.helpers import post

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_price_list", "fresh_providers", "without_redis"),
    pytest.mark.postgres,
]


@pytest.fixture(autouse=True)
def _over_smpp(settings) -> None:  # type: ignore[no-untyped-def]
    settings.PROVIDER_SMS = "smpp"


@pytest.fixture
def funded(cast: Cast) -> Cast:
    billing.lot_create(customer=cast.acme, amount=1_000_000, reference="bank-1")  # tier 2: 630 per SMS
    return cast


def free_port() -> int:
    """A port the SMSC can listen on later; nothing listens there now."""
    with SmscServer() as probe:
        return probe.port


def use_smsc(settings, port: int) -> None:  # type: ignore[no-untyped-def]
    settings.SMPP_ACCOUNTS = [f"smpp://otp:secret@127.0.0.1:{port}/?name=main&tps=0"]


def reasons(message_id: str) -> list[str]:
    return list(MessageStatusChange.objects.filter(message_id=message_id).values_list("reason", flat=True))


def test_review_8_14_an_otp_survives_a_short_smsc_outage(funded: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    """The SMSC is down when the OTP is sent and comes back 4 s later: the OTP is delivered.
    Before: with the bind's back-off as the retry schedule, attempt 6 failed it within a second or two."""
    settings.DISPATCH_BACKOFF_BASE = 0.1
    settings.DISPATCH_BACKOFF_MAX = 0.5  # short settings: the same schedule as 2 s / 30 s, scaled down
    settings.SMPP_BACKOFF_MAX = 0.2
    port = free_port()
    use_smsc(settings, port)
    body = post(api_client(funded.acme_live_key), "/api/v1/verifications", {"to": "0812-3456-7890"}).json()
    restarted: list[SmscServer] = []

    def outage_ends(elapsed: float) -> None:
        if not restarted and elapsed > 4.0:
            restarted.append(SmscServer(port=port, receipt_delay=0.05))
            restarted[0].start()

    try:
        results = worker_in_real_time(body["message_id"], timeout=20, every=outage_ends)
        assert results[-1] == "sent"
        assert results.count("retry") > settings.DISPATCH_MAX_ATTEMPTS  # more tries than the old ceiling
        wait_for(lambda: Message.objects.get(pk=body["message_id"]).status == "delivered", timeout=10)
        [submit] = restarted[0].accepted()  # exactly one copy went out
    finally:
        for server in restarted:
            server.stop()
    message = Message.objects.get(pk=body["message_id"])
    assert (message.submits, message.provider_message_id) == (1, submit.message_id)
    assert sum("not_connected" in r for r in reasons(message.id)) == results.count("retry")
    assert Charge.objects.get(reference=message.id).reversed_at is None


def test_review_8_14_an_smsc_down_past_the_expiry_fails_the_otp_and_reverses_it(
    funded: Cast,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    """Nothing listens for the whole life of the code: a bounded number of attempts, none after
    the expiry, then failed and the charge reversed (R-PRE-4). Time-machine plays the minute."""
    use_smsc(settings, free_port())
    t0 = datetime(2026, 3, 1, 10, 0, tzinfo=ZoneInfo("Asia/Jakarta"))
    with time_machine.travel(t0, tick=False):
        body = post(api_client(funded.acme_live_key), "/api/v1/verifications", {"to": "0812-3456-7890", "ttl": 60})
    message_id = body.json()["message_id"]
    runs = worker_loop(message_id, t0)
    assert runs[-1][1] == "failed"
    assert len(runs) <= 12
    assert all(when < t0 + timedelta(seconds=60) for when, _ in runs)
    assert t0 + timedelta(seconds=60) - runs[-1][0] <= timedelta(seconds=settings.DISPATCH_BACKOFF_MAX)  # to the end
    message = Message.objects.get(pk=message_id)
    assert (message.status, message.submits, message.error_code) == ("failed", 0, "not_connected")
    assert Charge.objects.get(reference=message_id).reversed_at is not None
    assert billing_selectors.balance(customer=funded.acme) == 1_000_000


def test_review_8_16_receipts_that_overtake_their_submit_resp_all_end_delivered(
    funded: Cast,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    """An SMSC that sends each receipt before its submit_sm_resp, to the receiving bind (what
    ``smpp_bind`` keeps open) while four worker threads send on their transmitter bind: every
    one of 100 messages ends delivered, with no sweep and no receipt left pending. Before:
    some stayed ``sent`` for good (the race is pinned deterministically below)."""
    settings.PUMPING_MIN_NUMBERS = 10_000  # 100 numbers in one range are this test, not pumping
    settings.SMPP_WORKER_BIND_MODE = "transmitter"
    api_key = api_key_for(funded.acme_live_key)
    ids = [
        services.message_send(api_key=api_key, to=f"0812-3456-{7000 + n}", text=f"Kode OTP Anda {100000 + n}").id
        for n in range(100)
    ]
    with SmscServer(receipts_first=True) as smsc:
        use_smsc(settings, smsc.port)
        [account] = smpp.accounts_from_settings()
        receiver = smpp.SmppProvider(account, on_report=services.receipt_record, mode="transceiver")
        stop = threading.Event()
        binding = threading.Thread(target=receiver.run_forever, args=(stop,))
        binding.start()
        failures: list[BaseException] = []

        def worker(share: list[str]) -> None:
            try:
                for message_id in share:
                    # "not-claimed": another thread's batch took it (issue 11), sent once all the same
                    assert services.message_dispatch(message_id=message_id) in ("sent", "not-claimed")
            except BaseException as exc:  # reported below
                failures.append(exc)
            finally:
                connections.close_all()

        try:
            wait_for(lambda: receiver.connected, timeout=5)
            threads = [threading.Thread(target=worker, args=(ids[n::4],)) for n in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert not failures, failures
            assert len(smsc.accepted()) == 100 == len({s.destination_addr for s in smsc.accepted()})

            def settled() -> bool:
                return Message.objects.filter(pk__in=ids).exclude(status="delivered").count() == 0

            try:
                wait_for(settled, timeout=30, interval=0.1)
            except AssertionError as exc:  # say where they stopped: the status of each and what is pending
                statuses = sorted(Message.objects.filter(pk__in=ids).values_list("status", flat=True))
                pending = list(PendingReport.objects.values_list("provider_message_id", "state"))
                raise AssertionError(f"not all delivered: {statuses}; pending reports {pending}") from exc
        finally:
            stop.set()
            binding.join(10)
            receiver.close()
    assert not PendingReport.objects.exists()


class Accepts:
    """A provider that accepts every message as ``race-1``."""

    name = "scripted"

    def send(self, message: OutboundMessage) -> ProviderResult:
        return ProviderResult(Outcome.ACCEPTED, provider_message_id="race-1")


def _insert_waiting() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO \"messaging_pendingreport\"%%'"
        )
        return cursor.fetchone()[0] > 0


def test_review_8_16_a_receipt_kept_after_the_workers_look_is_applied_at_once(
    funded: Cast,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    """The losing order, forced with a table lock: the receipt finds no reference and its
    PendingReport insert waits; the worker commits the reference and finds no pending receipt;
    then the insert goes through. The receipt side looks again after committing, so the message
    is delivered at once, without the sweep."""
    registry.register("scripted", Accepts())
    settings.PROVIDER_SMS = "scripted"
    body = post(api_client(funded.acme_live_key), "/api/v1/verifications", {"to": "0812-3456-7890"}).json()
    locked, release = threading.Event(), threading.Event()
    outcome: list[str] = []

    def hold_the_table() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("LOCK TABLE messaging_pendingreport IN SHARE MODE")  # blocks inserts
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    def receipt() -> None:
        try:
            report = DeliveryReport(provider="scripted", provider_message_id="race-1", state=DeliveryState.DELIVERED)
            outcome.append(services.receipt_record(report))
        finally:
            connection.close()

    holder, receiver = threading.Thread(target=hold_the_table), threading.Thread(target=receipt)
    holder.start()
    assert locked.wait(5)
    receiver.start()
    try:
        wait_for(_insert_waiting, timeout=5, interval=0.01)  # the receipt found no reference and waits
        assert services.message_dispatch(message_id=body["message_id"]) == "sent"  # found no pending receipt
        assert PendingReport.objects.count() == 0
    finally:
        release.set()
        holder.join(5)
        receiver.join(5)
    assert outcome == ["applied"]
    assert Message.objects.get(pk=body["message_id"]).status == "delivered"
    assert not PendingReport.objects.exists()
