"""The dispatch pipeline: claims, retries with backoff, refusals, fallback,
delivery reports (forward-only, de-duplicated), the outbox sweep."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from billing import selectors as billing_selectors
from billing.models import Charge
from messaging import services
from messaging.models import Message, MessageStatusChange, PendingReport
from messaging.providers import registry
from messaging.providers.base import DeliveryReport, DeliveryState, OutboundMessage, Outcome, ProviderResult
from tests.conftest import Cast, api_client
from tests.messaging.dispatch_helpers import worker_loop
from tests.messaging.helpers import Scripted, post, queue_verification

pytestmark = pytest.mark.django_db


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
    settings.DISPATCH_BACKOFF_BASE = 0  # retry_after is only a lower bound now (Review 8.14): no wait at all
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


# --- Review 8.14: the retry budget is time, not attempts ----------------------------------------------

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=ZoneInfo("Asia/Jakarta"))
NOT_CONNECTED = ProviderResult(
    Outcome.RETRY, error_code="not_connected", error_message="not bound", retry_after=0.3, submitted=False
)


class Always(Scripted):
    """Answers every send with the same result."""

    def __init__(self, result: ProviderResult) -> None:
        super().__init__()
        self.result = result

    def send(self, message: OutboundMessage) -> ProviderResult:
        self.sent.append(message)
        return self.result


@pytest.fixture
def always(settings) -> Iterator[Always]:  # type: ignore[no-untyped-def]
    provider = Always(NOT_CONNECTED)
    registry.register("always", provider)
    settings.PROVIDER_SMS = "always"
    yield provider
    registry.reset()


def test_review_8_14_an_otp_is_retried_until_its_verification_expires(funded: Cast, always: Always, settings) -> None:  # type: ignore[no-untyped-def]
    """The SMSC is down for good: the OTP keeps being tried, waits capped at DISPATCH_BACKOFF_MAX and
    never shorter than the provider's retry_after, until no attempt fits before expiry; then failed,
    charge reversed (R-PRE-4). Before: failed after attempt 6, a few seconds in."""
    with time_machine.travel(T0, tick=False):
        message = queue_verification(funded, ttl=300)
    runs = worker_loop(message.id, T0)
    message.refresh_from_db()
    expires_at = message.verification.expires_at
    assert runs[-1][1] == "failed" and message.status == "failed"
    assert len(runs) > settings.DISPATCH_MAX_ATTEMPTS  # "not connected" attempts are no refusals
    assert len(runs) <= 25  # …and still a bounded number
    assert message.submits == 0
    assert all(when < expires_at for when, _ in runs)
    assert expires_at - runs[-1][0] <= timedelta(seconds=settings.DISPATCH_BACKOFF_MAX)  # tried until near the end
    waits = [(b[0] - a[0]).total_seconds() for a, b in zip(runs, runs[1:], strict=False)]
    assert all(0.3 <= wait <= settings.DISPATCH_BACKOFF_MAX for wait in waits)
    assert max(waits) > settings.DISPATCH_BACKOFF_MAX / 2  # it backed off to the cap
    assert Charge.objects.get(reference=message.id).reversed_at is not None
    assert billing_selectors.balance(customer=funded.acme) == 100_000
    last = MessageStatusChange.objects.filter(message=message).last()
    assert last.new == "failed" and "the code expires before the next attempt" in last.reason


def test_review_8_14_retry_after_is_only_a_lower_bound(funded: Cast, always: Always, settings) -> None:  # type: ignore[no-untyped-def]
    for retry_after, low, high in ((0.1, 1.0, 2.0), (20.0, 20.0, 20.0)):
        always.result = ProviderResult(Outcome.RETRY, error_code="0x00000058", retry_after=retry_after)
        with time_machine.travel(T0, tick=False):
            message = queue_verification(funded, to=f"0812-3456-{int(retry_after * 10):04d}")
            assert services.message_dispatch(message_id=message.id) == "retry"
        message.refresh_from_db()
        wait = (message.next_attempt_at - T0).total_seconds()
        assert low <= wait <= high, (retry_after, wait)  # DISPATCH_BACKOFF_BASE 2: the first wait is 1-2 s


def test_review_8_14_the_attempt_ceiling_counts_only_attempts_that_reached_the_provider(
    funded: Cast,
    scripted: Scripted,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.DISPATCH_MAX_ATTEMPTS = 2
    refused = ProviderResult(Outcome.RETRY, error_code="0x00000008", error_message="SMSC system error")
    scripted.results = [NOT_CONNECTED] * 4 + [refused] * 2
    with time_machine.travel(T0, tick=False):
        message = queue_verification(funded)
    runs = worker_loop(message.id, T0)
    message.refresh_from_db()
    assert [r for _, r in runs] == ["retry"] * 5 + ["failed"]
    assert (message.attempts, message.submits, message.status) == (6, 2, "failed")
    assert "2 attempts reached the provider" in MessageStatusChange.objects.filter(message=message).last().reason
    assert Charge.objects.get(reference=message.id).reversed_at is not None


def test_review_8_14_a_messages_message_is_retried_for_message_retry_window(
    funded: Cast,
    always: Always,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.MESSAGE_RETRY_WINDOW = 120
    with time_machine.travel(T0, tick=False):
        response = post(
            api_client(funded.acme_live_key), "/api/v1/messages", {"to": "0812-3456-7890", "text": "Kode OTP 482913"}
        )
    message_id = response.json()["id"]
    runs = worker_loop(message_id, T0)
    assert runs[-1][1] == "failed"
    assert all(when < T0 + timedelta(seconds=120) for when, _ in runs)
    assert T0 + timedelta(seconds=120) - runs[-1][0] <= timedelta(seconds=settings.DISPATCH_BACKOFF_MAX)
    assert Charge.objects.get(reference=message_id).reversed_at is not None


def test_review_8_14_a_message_found_queued_past_its_window_is_failed_unsent(
    funded: Cast,
    always: Always,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    with time_machine.travel(T0, tick=False):
        response = post(
            api_client(funded.acme_live_key), "/api/v1/messages", {"to": "0812-3456-7890", "text": "Kode OTP 482913"}
        )
    message_id = response.json()["id"]
    later = T0 + timedelta(seconds=settings.MESSAGE_RETRY_WINDOW + 1)  # the broker lost it; the sweep finds it
    with time_machine.travel(later, tick=False):
        assert services.message_dispatch(message_id=message_id) == "failed"
    assert always.sent == []
    assert Message.objects.get(pk=message_id).error_code == "retry_window_over"
    assert Charge.objects.get(reference=message_id).reversed_at is not None


def test_review_8_14_fallback_starts_when_the_channel_is_judged_down_and_the_primary_stops(
    funded: Cast,
    always: Always,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    """R-PRE-4: the SMS is failed and reversed, the code goes out on WhatsApp; never both."""
    with time_machine.travel(T0, tick=False):
        message = queue_verification(funded, fallback=["wa"])
    runs = worker_loop(message.id, T0)
    message.refresh_from_db()
    down = timedelta(seconds=settings.FALLBACK_AFTER_DOWN)
    last_try, result = runs[-1]
    slack = timedelta(seconds=NOT_CONNECTED.retry_after or 0)  # the provider's lower bound may push it past
    assert result == "failed" and T0 + down <= last_try <= T0 + down + slack  # a last try when judged down
    assert all(when <= T0 + down + slack for when, _ in runs)
    assert message.status == "failed" and message.sealed == ""
    assert "FALLBACK_AFTER_DOWN" in MessageStatusChange.objects.filter(message=message).last().reason
    fallback = Message.objects.get(fallback_of=message)
    assert (fallback.channel, fallback.status, fallback.price) == ("wa", "queued", 350)
    assert Charge.objects.get(reference=message.id).reversed_at is not None
    assert billing_selectors.balance(customer=funded.acme) == 100_000 - 350
    sends = len(always.sent)
    with time_machine.travel(T0 + down + timedelta(seconds=5), tick=False):
        assert services.message_dispatch(message_id=message.id) == "not-claimed"  # the primary never goes again
        assert services.message_dispatch(message_id=fallback.id) == "sent"
    assert len(always.sent) == sends


# --- Review 8.15: delivered_at within sense ---------------------------------------------------------


def test_review_8_15_delivered_at_never_precedes_sent_at_nor_follows_now(funded: Cast, scripted: Scripted) -> None:
    scripted.results = [
        ProviderResult(Outcome.ACCEPTED, provider_message_id="early"),
        ProviderResult(Outcome.ACCEPTED, provider_message_id="late"),
    ]
    with time_machine.travel(T0, tick=False):
        early = queue_verification(funded)
        late = queue_verification(funded, to="0817-1234-5678")
        services.message_dispatch(message_id=early.id)
        services.message_dispatch(message_id=late.id)
    with time_machine.travel(T0 + timedelta(seconds=40), tick=False):
        # An SMSC's done date has minute precision: 09:59 for a message sent at 10:00:00.
        for pid, when in (("early", T0 - timedelta(minutes=1)), ("late", T0 + timedelta(days=1))):
            services.delivery_record(
                DeliveryReport(
                    provider="scripted", provider_message_id=pid, state=DeliveryState.DELIVERED, occurred_at=when
                )
            )
    early.refresh_from_db()
    late.refresh_from_db()
    assert early.delivered_at == early.sent_at == T0
    assert late.delivered_at == T0 + timedelta(seconds=40)


# --- Review 8.16: a receipt kept after the worker looked ------------------------------------------------


def test_review_8_16_the_sweep_applies_a_receipt_whose_id_turned_up(funded: Cast, scripted: Scripted) -> None:
    """A receipt committed as pending after the worker's own look (the race's losing order) is
    applied by the next sweep, not left pending for a day and then forgotten."""
    message = queue_verification(funded)
    assert services.message_dispatch(message_id=message.id) == "sent"
    PendingReport.objects.create(provider="scripted", provider_message_id="p1", state="delivered")
    result = services.outbox_sweep()
    message.refresh_from_db()
    assert result["receipts"] == 1 and message.status == "delivered"
    assert not PendingReport.objects.exists()
    assert services.outbox_sweep()["receipts"] == 0
