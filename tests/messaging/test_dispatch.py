"""The dispatch pipeline: claims, retries with backoff, refusals, fallback,
delivery reports (forward-only, de-duplicated), the outbox sweep."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from billing import selectors as billing_selectors
from billing import services as billing
from billing.models import Charge
from messaging import services
from messaging.models import Message, MessageStatusChange, PendingReport
from messaging.providers import registry
from messaging.providers.base import DeliveryReport, DeliveryState, OutboundMessage, Outcome, ProviderResult
from tests.conftest import Cast, api_client
from tests.messaging.helpers import post

pytestmark = pytest.mark.django_db


class Scripted:
    """A provider that answers from a script and records what it was given."""

    name = "scripted"

    def __init__(self, *results: ProviderResult) -> None:
        self.results = list(results)
        self.sent: list[OutboundMessage] = []

    def send(self, message: OutboundMessage) -> ProviderResult:
        self.sent.append(message)
        result = (
            self.results.pop(0)
            if self.results
            else ProviderResult(Outcome.ACCEPTED, provider_message_id=f"p{len(self.sent)}")
        )
        return result


@pytest.fixture
def scripted(settings) -> Iterator[Scripted]:  # type: ignore[no-untyped-def]
    provider = Scripted()
    registry.register("scripted", provider)
    settings.PROVIDER_SMS = "scripted"
    yield provider
    registry.reset()


@pytest.fixture
def funded(cast: Cast) -> Cast:
    billing.lot_create(customer=cast.acme, amount=100_000, reference="bank-1")
    return cast


def queue_verification(cast: Cast, **data) -> Message:  # type: ignore[no-untyped-def]
    """Create without dispatching (on_commit callbacks are not run)."""
    response = post(api_client(cast.acme_live_key), "/api/v1/verifications", {"to": "0812-3456-7890", **data})
    assert response.status_code == 201, response.content
    return Message.objects.get(pk=response.json()["message_id"])


def history(message: Message) -> list[tuple[str, str]]:
    return list(MessageStatusChange.objects.filter(message=message).values_list("old", "new"))


def test_accepted_message_is_sent_with_the_provider_id(funded: Cast, scripted: Scripted) -> None:
    message = queue_verification(funded)
    assert services.message_dispatch(message_id=message.id) == "sent"
    message.refresh_from_db()
    assert (message.status, message.provider, message.provider_message_id) == ("sent", "scripted", "p1")
    assert scripted.sent[0].text.startswith("Acme Shop: Kode OTP Anda ")
    assert scripted.sent[0].code in scripted.sent[0].text and scripted.sent[0].sender_id == "OTPPORTAL"
    assert history(message) == [("", "queued"), ("queued", "sending"), ("sending", "sent")]


def test_only_one_claim_wins(funded: Cast, scripted: Scripted) -> None:
    message = queue_verification(funded)
    assert services.message_dispatch(message_id=message.id) == "sent"
    assert services.message_dispatch(message_id=message.id) == "not-claimed"
    assert len(scripted.sent) == 1


def test_transient_failure_is_retried_with_backoff(funded: Cast, scripted: Scripted, settings) -> None:  # type: ignore[no-untyped-def]
    scripted.results = [ProviderResult(Outcome.RETRY, error_code="0x00000058", error_message="throttled")]
    message = queue_verification(funded)
    with time_machine.travel("2026-03-01 10:00:00 +0700", tick=False):
        assert services.message_dispatch(message_id=message.id) == "retry"
        message.refresh_from_db()
        assert message.status == "queued" and message.attempts == 1
        wait = (message.next_attempt_at - timezone.now()).total_seconds()
        assert settings.DISPATCH_BACKOFF_BASE * 0.5 <= wait <= settings.DISPATCH_BACKOFF_BASE
        assert services.message_dispatch(message_id=message.id) == "not-claimed"  # not due yet
    with time_machine.travel("2026-03-01 10:00:05 +0700", tick=False):
        assert services.message_dispatch(message_id=message.id) == "sent"
    assert Charge.objects.filter(reference=message.id, reversed_at__isnull=True).count() == 1


def test_retries_run_out_into_failed_and_the_charge_is_reversed(funded: Cast, scripted: Scripted, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DISPATCH_MAX_ATTEMPTS = 2
    scripted.results = [ProviderResult(Outcome.RETRY, retry_after=0)] * 2
    message = queue_verification(funded)
    assert services.message_dispatch(message_id=message.id) == "retry"
    assert services.message_dispatch(message_id=message.id) == "failed"
    assert Charge.objects.get(reference=message.id).reversed_at is not None
    assert billing_selectors.balance(customer=funded.acme) == 100_000


def test_permanent_refusal_reverses_and_falls_back(funded: Cast, scripted: Scripted) -> None:
    """R-PRE-4: not charged; the fallback channel is charged at its own price."""
    scripted.results = [ProviderResult(Outcome.PERMANENT, error_code="0x0000000B", error_message="bad destination")]
    message = queue_verification(funded, fallback=["wa"])
    assert services.message_dispatch(message_id=message.id) == "rejected"
    message.refresh_from_db()
    assert message.status == "rejected" and message.error_code == "0x0000000B" and message.sealed == ""
    fallback = Message.objects.get(fallback_of=message)
    assert (fallback.channel, fallback.price, fallback.status) == ("wa", 350, "queued")
    assert Charge.objects.get(reference=message.id).reversed_at is not None
    assert billing_selectors.balance(customer=funded.acme) == 100_000 - 350
    # the same code goes out on the fallback channel
    assert services.message_dispatch(message_id=fallback.id) == "sent"
    from messaging.models import SandboxMessage

    assert scripted.sent[0].code in SandboxMessage.objects.get(message=fallback).text


def test_a_closed_verification_is_not_sent_and_not_charged(funded: Cast, scripted: Scripted) -> None:
    message = queue_verification(funded)
    services.verification_cancel(customer=funded.acme, verification_id=message.verification_id)
    assert services.message_dispatch(message_id=message.id) == "skipped"
    assert scripted.sent == []
    assert billing_selectors.balance(customer=funded.acme) == 100_000


def report(provider_id: str, state: DeliveryState, provider: str = "scripted") -> str:
    return services.delivery_record(DeliveryReport(provider=provider, provider_message_id=provider_id, state=state))


def test_reports_move_forward_only_and_apply_once(funded: Cast, scripted: Scripted) -> None:
    message = queue_verification(funded)
    services.message_dispatch(message_id=message.id)
    assert report("p1", DeliveryState.DELIVERED) == "applied"
    assert report("p1", DeliveryState.DELIVERED) == "ignored"  # duplicate
    assert report("p1", DeliveryState.SENT) == "ignored"  # late "sent" never overwrites "delivered"
    assert report("p1", DeliveryState.UNDELIVERED) == "ignored"
    message.refresh_from_db()
    assert message.status == "delivered" and message.delivered_at is not None
    assert history(message)[-1] == ("sent", "delivered")
    assert MessageStatusChange.objects.filter(message=message, new="delivered").count() == 1


def test_a_report_that_overtakes_the_submit_response_is_kept_and_applied(funded: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    class Racy(Scripted):
        def send(self, message: OutboundMessage) -> ProviderResult:
            report("fast-1", DeliveryState.DELIVERED)  # the receipt arrives first
            return ProviderResult(Outcome.ACCEPTED, provider_message_id="fast-1")

    registry.register("scripted", Racy())
    settings.PROVIDER_SMS = "scripted"
    message = queue_verification(funded)
    services.message_dispatch(message_id=message.id)
    message.refresh_from_db()
    assert message.status == "delivered"
    assert not PendingReport.objects.exists()
    registry.reset()


def test_unknown_receipts_are_kept_aside_not_applied(funded: Cast) -> None:
    assert report("nobody", DeliveryState.DELIVERED) == "pending"
    assert PendingReport.objects.count() == 1


def test_multipart_sms_is_delivered_when_every_part_is(funded: Cast, scripted: Scripted) -> None:
    scripted.results = [ProviderResult(Outcome.ACCEPTED, provider_message_id="a1", part_ids=("a1", "a2"))]
    message = queue_verification(funded)
    services.message_dispatch(message_id=message.id)
    report("a1", DeliveryState.DELIVERED)
    message.refresh_from_db()
    assert message.status == "sent"
    report("a2", DeliveryState.DELIVERED)
    message.refresh_from_db()
    assert message.status == "delivered"


def test_undelivered_stays_charged_and_falls_back(
    funded: Cast,
    scripted: Scripted,  # type: ignore[no-untyped-def]
    django_capture_on_commit_callbacks,
) -> None:
    message = queue_verification(funded, fallback=["wa_official"])
    services.message_dispatch(message_id=message.id)
    with django_capture_on_commit_callbacks(execute=True):
        report("p1", DeliveryState.UNDELIVERED)
    message.refresh_from_db()
    assert message.status == "undelivered"
    assert Charge.objects.get(reference=message.id).reversed_at is None  # REFUND_UNDELIVERED off (R-PRE-4)
    assert Message.objects.get(fallback_of=message).channel == "wa_official"


def test_sweep_requeues_stale_queued_and_retakes_lost_claims(
    funded: Cast,
    scripted: Scripted,
    settings,  # type: ignore[no-untyped-def]
    eager,
) -> None:
    with time_machine.travel("2026-03-01 10:00:00 +0700", tick=False):
        lost_in_broker = queue_verification(funded)
        killed_worker = queue_verification(funded, to="0817-1234-5678")
        Message.objects.filter(pk=killed_worker.pk).update(status="sending", claimed_at=timezone.now())
    with time_machine.travel("2026-03-01 10:00:20 +0700", tick=False):
        result = services.outbox_sweep()
        assert (result["requeued"], result["retaken"]) == (0, 0)  # too early for both
    with time_machine.travel(timezone.now() + timedelta(days=400), tick=False):
        pass
    with time_machine.travel("2026-03-01 10:03:00 +0700", tick=False):
        result = services.outbox_sweep()
    assert result["retaken"] == 1 and result["requeued"] >= 1
    for message in (lost_in_broker, killed_worker):
        message.refresh_from_db()
    assert lost_in_broker.status in ("sent", "delivered")
    assert Charge.objects.filter(reversed_at__isnull=True).count() == 2


def test_a_whatsapp_message_not_delivered_in_time_falls_back(funded: Cast, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PROVIDER_WA = "scripted"
    registry.register("scripted", Scripted())
    with time_machine.travel("2026-03-01 10:00:00 +0700", tick=False):
        message = queue_verification(funded, channel="wa", fallback=["sms"])
        services.message_dispatch(message_id=message.id)
    with time_machine.travel("2026-03-01 10:00:59 +0700", tick=False):
        assert services.outbox_sweep()["fallbacks"] == 0
    with time_machine.travel("2026-03-01 10:01:01 +0700", tick=False):
        assert services.outbox_sweep()["fallbacks"] == 1
        assert services.outbox_sweep()["fallbacks"] == 0  # once
    fallback = Message.objects.get(fallback_of=message)
    assert (fallback.channel, fallback.price) == ("sms", 650)
    assert Charge.objects.get(reference=message.id).reversed_at is None  # the first stays charged
    registry.reset()


def test_refund_undelivered_policy_gives_the_charge_back(
    funded: Cast,
    scripted: Scripted,
    settings,  # type: ignore[no-untyped-def]
    django_capture_on_commit_callbacks,
) -> None:
    """R-PRE-4 with REFUND_UNDELIVERED on."""
    settings.REFUND_UNDELIVERED = True
    message = queue_verification(funded)
    services.message_dispatch(message_id=message.id)
    with django_capture_on_commit_callbacks(execute=True):
        report("p1", DeliveryState.UNDELIVERED)
    assert Charge.objects.get(reference=message.id).reversed_at is not None
    assert billing_selectors.balance(customer=funded.acme) == 100_000


def test_sweep_forgets_old_secrets_and_stale_receipts(funded: Cast, scripted: Scripted) -> None:
    with time_machine.travel("2026-03-01 10:00:00 +0700", tick=False):
        message = queue_verification(funded)
        services.message_dispatch(message_id=message.id)
        report("nobody", DeliveryState.DELIVERED)
    message.refresh_from_db()
    assert message.sealed  # still needed: a fallback may resend the code
    with time_machine.travel("2026-03-02 10:00:01 +0700", tick=False):
        result = services.outbox_sweep()
    message.refresh_from_db()
    assert message.sealed == "" and result["unsealed"] == 1 and result["stale_reports"] == 1
    assert not PendingReport.objects.exists()


def test_sms_routes_pick_the_smpp_account_per_operator(settings) -> None:  # type: ignore[no-untyped-def]
    settings.PROVIDER_SMS = "smpp"
    settings.SMS_ROUTES = ["telkomsel=tsel", "default=main"]
    assert registry.provider_name_for(channel="sms", operator="telkomsel") == "smpp:tsel"
    assert registry.provider_name_for(channel="sms", operator="xl") == "smpp:main"
    assert registry.provider_name_for(channel="sms", operator="xl", is_test=True) == "sandbox"
    settings.PROVIDER_WA_OFFICIAL = "wa_cloud"
    assert registry.provider_name_for(channel="wa_official") == "wa_cloud"
    assert registry.provider_name_for(channel="wa") == "sandbox"
