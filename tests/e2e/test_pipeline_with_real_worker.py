"""Issue 4's end-to-end proof: a real Celery worker on Redis (not eager mode)
sends, the sandbox delivers, codes are checked, fallback happens, signed
webhooks arrive; a killed worker loses nothing and charges nothing twice; an
OTP over SMPP survives an SMSC outage (Review 8.14)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
import time_machine
from django.utils import timezone

from billing import selectors as billing_selectors
from billing import services as billing
from billing.models import Charge
from devservers.smsc import SmscServer
from devservers.wa_cloud import CallbackReceiver
from messaging import services
from messaging.models import Message, MessageStatusChange, SandboxMessage
from messaging.services.events import verify
from tests.conftest import Cast, api_client
from tests.e2e.conftest import Worker
from tests.helpers import wait_for
from tests.messaging.helpers import post

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis, pytest.mark.xdist_group("e2e")]
TO = "+6281234567890"


def code_from_sandbox(message_id: str) -> str:
    row = wait_for(lambda: SandboxMessage.objects.filter(message_id=message_id).first())
    match = re.search(r"\b(\d{4,10})\b", row.text)  # type: ignore[union-attr]
    assert match
    return match.group(1)


@pytest.fixture
def worker_env(worker_env: dict[str, str], settings) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Review 8.7: webhook URLs on 127.0.0.1 are refused by default (SSRF); this
    module's receiver listens there, so its worker and its requests allow them."""
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    return {**worker_env, "WEBHOOK_ALLOW_PRIVATE_HOSTS": "true"}


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    with CallbackReceiver() as server:
        yield server


def test_verification_lifecycle_with_a_real_worker(cast: Cast, worker: Worker, receiver: CallbackReceiver) -> None:
    billing.lot_create(customer=cast.acme, amount=100_000, reference="bank-1")
    client = api_client(cast.acme_live_key)
    secret = post(client, "/api/v1/webhooks", {"url": receiver.url}).json()["secret"]

    started = post(client, "/api/v1/verifications", {"to": "0812-3456-7890", "reference": "order-1"}).json()
    code = code_from_sandbox(started["message_id"])
    wait_for(lambda: Message.objects.get(pk=started["message_id"]).status == "delivered")

    wrong = "000000" if code != "000000" else "111111"
    check = f"/api/v1/verifications/{started['id']}/check"
    assert post(client, check, {"code": wrong}).json()["valid"] is False
    assert post(client, check, {"code": code}).json() == {
        "id": started["id"],
        "valid": True,
        "status": "approved",
        "attempts_left": 3,
    }
    assert post(client, check, {"code": code}).json()["valid"] is False  # reused

    # signed webhooks: sent, delivered, approved
    wait_for(lambda: len(receiver.requests) >= 3)
    kinds = sorted((r.json["type"], r.json["data"]["status"]) for r in receiver.requests)
    assert kinds == [("message.status", "delivered"), ("message.status", "sent"), ("verification.status", "approved")]
    assert all(verify(secret, r.body, r.header("X-OTP-Signature") or "") for r in receiver.requests)
    assert billing_selectors.balance(customer=cast.acme) == 100_000 - 650


def test_resend_and_expiry_with_a_real_worker(cast: Cast, worker: Worker) -> None:
    billing.lot_create(customer=cast.acme, amount=100_000, reference="bank-1")
    client = api_client(cast.acme_live_key)
    started = post(client, "/api/v1/verifications", {"to": "0812-3456-7890", "ttl": 60}).json()
    first_code = code_from_sandbox(started["message_id"])
    later = timezone.now() + timezone.timedelta(seconds=31)
    with time_machine.travel(later, tick=True):
        resent = post(client, f"/api/v1/verifications/{started['id']}/resend", {"channel": "wa"}).json()
        assert resent["sends"] == 2 and resent["channel"] == "wa"
    second_code = code_from_sandbox(resent["message_id"])
    assert SandboxMessage.objects.get(message_id=resent["message_id"]).channel == "wa"
    with time_machine.travel(timezone.now() + timezone.timedelta(seconds=200), tick=False):
        body = post(client, f"/api/v1/verifications/{started['id']}/check", {"code": second_code}).json()
    assert body["valid"] is False and body["status"] == "expired"
    assert first_code  # the first code was delivered too
    assert Charge.objects.filter(customer=cast.acme, reversed_at__isnull=True).count() == 2


def test_fallback_after_a_permanent_refusal(cast: Cast, worker_env: dict[str, str]) -> None:
    worker_env["SANDBOX_FAIL_NUMBERS"] = f"sms:{TO}"  # the sandbox refuses SMS to this number for good
    w = Worker(worker_env)
    w.start()
    try:
        billing.lot_create(customer=cast.acme, amount=100_000, reference="bank-1")
        client = api_client(cast.acme_live_key)
        started = post(client, "/api/v1/verifications", {"to": TO, "fallback": ["wa"]}).json()
        sms = wait_for(lambda: Message.objects.filter(pk=started["message_id"], status="rejected").first())
        fallback = wait_for(lambda: Message.objects.filter(fallback_of=sms, status="delivered").first())
        assert fallback.channel == "wa"  # type: ignore[union-attr]
        code = code_from_sandbox(fallback.id)  # type: ignore[union-attr]
        assert post(client, f"/api/v1/verifications/{started['id']}/check", {"code": code}).json()["valid"] is True
        assert Charge.objects.get(reference=sms.id).reversed_at is not None  # type: ignore[union-attr]
        assert billing_selectors.balance(customer=cast.acme) == 100_000 - 350  # only WhatsApp is paid
    finally:
        w.stop()


def test_a_worker_killed_mid_batch_loses_nothing_and_charges_once(cast: Cast, worker_env: dict[str, str]) -> None:
    worker_env["SANDBOX_SEND_DELAY"] = "0.3"  # each send takes a while: the kill lands mid-flight
    billing.lot_create(customer=cast.acme, amount=1_000_000, reference="bank-1")
    client = api_client(cast.acme_live_key)
    first = Worker(worker_env)
    first.start()
    ids = [
        post(client, "/api/v1/messages", {"to": f"0812-3456-{7000 + i}", "text": f"Kode OTP Anda {100000 + i}"}).json()[
            "id"
        ]
        for i in range(30)
    ]
    wait_for(lambda: Message.objects.filter(pk__in=ids, status__in=["sent", "delivered"]).count() >= 3)
    first.kill()
    unfinished = Message.objects.filter(pk__in=ids).exclude(status__in=Message.FINAL).count()
    assert unfinished > 0, "the kill came too late to prove anything"

    second = Worker(worker_env)
    second.start()
    try:

        def all_final() -> bool:
            services.outbox_sweep()  # what beat runs every 15 s
            return Message.objects.filter(pk__in=ids).exclude(status__in=Message.FINAL).count() == 0

        wait_for(all_final, timeout=60, interval=0.5)
    finally:
        second.stop()
    assert set(Message.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"delivered"}
    assert Charge.objects.filter(reference__in=ids).count() == 30  # charged once each
    assert billing_selectors.balance(customer=cast.acme) == 1_000_000 - 30 * 630  # tier 2 (R-PL-2)
    assert billing.reconcile() == []


# --- Review 8.14: SMS over SMPP to the local SMSC, which is down when the OTP is requested ----------
# (in this module, not a module of its own: the end-to-end tests share one broker prefix and must
# run one after the other, which ``--dist loadfile`` only guarantees within a module)

OUTAGE = 8.0  # seconds; the old schedule (the bind's back-off, 6 attempts) gave up within about two


def retries(message_id: str) -> int:
    return MessageStatusChange.objects.filter(
        message_id=message_id, new="queued", reason__contains="not_connected"
    ).count()


def test_review_8_14_an_otp_survives_an_smsc_outage_with_a_real_worker(cast: Cast, worker_env: dict[str, str]) -> None:
    with SmscServer() as probe:
        port = probe.port  # free again once the probe stops: the SMSC is down
    worker_env.update(
        PROVIDER_SMS="smpp",
        SMPP_ACCOUNTS=f"smpp://otp:secret@127.0.0.1:{port}/?name=main&tps=0",
        DISPATCH_BACKOFF_BASE="0.2",
        DISPATCH_BACKOFF_MAX="1",  # the production schedule (2 s doubling to 30 s), scaled down
        SMPP_BACKOFF_MAX="0.5",
    )
    billing.lot_create(customer=cast.acme, amount=100_000, reference="bank-1")
    worker = Worker(worker_env)
    worker.start()
    smsc: SmscServer | None = None
    try:
        started = time.monotonic()
        body = post(api_client(cast.acme_live_key), "/api/v1/verifications", {"to": "0812-3456-7890"}).json()
        message_id = body["message_id"]
        wait_for(lambda: retries(message_id) >= 2, timeout=15)
        time.sleep(max(0.0, OUTAGE - (time.monotonic() - started)))
        assert Message.objects.get(pk=message_id).status in ("queued", "sending")  # still trying
        smsc = SmscServer(port=port, receipt_delay=0.05)
        smsc.start()
        wait_for(lambda: Message.objects.get(pk=message_id).status == "delivered", timeout=30)
        assert len(smsc.accepted()) == 1  # one copy
    finally:
        worker.stop()
        if smsc is not None:
            smsc.stop()
    assert retries(message_id) > 6  # more tries than the old DISPATCH_MAX_ATTEMPTS allowed
    assert Message.objects.get(pk=message_id).submits == 1
    assert Charge.objects.get(reference=message_id).reversed_at is None
