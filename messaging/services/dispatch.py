"""The dispatch pipeline (architecture flows 2 and 3).

A worker claims a message with a conditional UPDATE from ``queued`` (style.md
#5), calls the channel's provider, and records the outcome. The message table
is the outbox: a periodic sweep re-enqueues anything left ``queued`` and
retakes ``sending`` claims whose worker died, so nothing is lost.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from billing import services as billing
from billing.models import Charge
from messaging.crypto import unseal
from messaging.models import Message, MessageStatusChange, PendingReport, ProviderReference, Verification
from messaging.providers import registry
from messaging.providers.base import DeliveryReport, DeliveryState, OutboundMessage, Outcome, ProviderResult
from messaging.services.events import message_event

logger = logging.getLogger(__name__)

# Forward-only ranking (style.md #4): a late "sent" never overwrites "delivered".
RANK = {"queued": 0, "sending": 1, "sent": 2, "delivered": 3, "undelivered": 3, "failed": 3, "rejected": 3}


def transition(message: Message, new: str, *, reason: str, actor: str, now: datetime, **fields: object) -> bool:
    """Move a message to ``new`` if the table allows it; write history and
    the customer's event. Returns False (and changes nothing) otherwise."""
    old = message.status
    if new not in Message.MOVES[old]:
        logger.info("message %s: %s -> %s refused (%s)", message.id, old, new, reason)
        return False
    updated = Message.objects.filter(pk=message.pk, status=old).update(status=new, updated_at=now, **fields)
    if not updated:
        return False
    message.status = new
    message.updated_at = now
    for key, value in fields.items():
        setattr(message, key, value)
    MessageStatusChange.objects.create(
        message=message, old=old, new=new, reason=reason[:300], actor=actor, created_at=now
    )
    message_event(message)
    return True


def _outbound(message: Message) -> OutboundMessage:
    text, code = unseal(message.sealed)
    return OutboundMessage(
        id=message.id,
        to=message.to,
        channel=message.channel,
        text=text,
        operator=message.operator,
        sender_id=message.sender_id,
        encoding=message.encoding,
        code=code,
        locale=message.verification.locale if message.verification_id else "id",
    )


def _backoff(attempt: int) -> float:
    """Exponential with full jitter: base × 2^(n-1), between 50 % and 100 %."""
    ceiling = settings.DISPATCH_BACKOFF_BASE * (2 ** max(0, attempt - 1))
    return min(300.0, ceiling * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not security


def message_dispatch(*, message_id: str, now: datetime | None = None) -> str:
    """Claim, send, record. Safe to call twice: only one claim succeeds."""
    now = now or timezone.now()
    claimed = Message.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + timedelta(seconds=1)),
        pk=message_id,
        status=Message.Status.QUEUED,
    ).update(status=Message.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1, updated_at=now)
    if not claimed:
        return "not-claimed"
    message = Message.objects.select_related("verification", "customer").get(pk=message_id)
    MessageStatusChange.objects.create(
        message=message,
        old="queued",
        new="sending",
        reason=f"attempt {message.attempts}",
        actor="worker",
        created_at=now,
    )
    verification = message.verification
    if verification is not None and (
        verification.status != Verification.Status.PENDING or verification.expires_at <= now
    ):
        # Nobody can use this code any more: do not send it, give the money back.
        _finish_unsent(message, reason=f"verification {verification.status} before sending", now=now)
        return "skipped"
    try:
        provider = registry.provider_for(channel=message.channel, operator=message.operator, is_test=message.is_test)
        result = provider.send(_outbound(message))
    except Exception as exc:  # noqa: BLE001 - a provider bug must not lose the message
        logger.exception("provider failed on %s", message_id)
        result = ProviderResult(Outcome.RETRY, error_code="provider_error", error_message=str(exc)[:300])
        provider_name = "unknown"
    else:
        provider_name = provider.name
    return _record_result(message, provider_name, result, timezone.now())


def _record_result(message: Message, provider_name: str, result: ProviderResult, now: datetime) -> str:
    if result.outcome == Outcome.ACCEPTED:
        with transaction.atomic():
            ids = result.part_ids or ((result.provider_message_id,) if result.provider_message_id else ())
            ProviderReference.objects.bulk_create(
                [
                    ProviderReference(provider=provider_name, provider_message_id=pid, message=message, part=i + 1)
                    for i, pid in enumerate(ids)
                ],
                ignore_conflicts=True,
            )
            transition(
                message,
                Message.Status.SENT,
                reason="accepted by provider",
                actor=provider_name,
                now=now,
                provider=provider_name,
                provider_message_id=result.provider_message_id,
                sent_at=now,
            )
        _apply_pending_reports(provider_name, ids)
        return "sent"
    if result.outcome == Outcome.RETRY and message.attempts < settings.DISPATCH_MAX_ATTEMPTS:
        wait = result.retry_after if result.retry_after is not None else _backoff(message.attempts)
        with transaction.atomic():
            transition(
                message,
                Message.Status.QUEUED,
                reason=f"retry in {wait:.1f}s: {result.error_code} {result.error_message}".strip(),
                actor=provider_name,
                now=now,
                next_attempt_at=now + timedelta(seconds=wait),
                error_code=result.error_code[:40],
                error_message=result.error_message[:300],
            )
            from messaging.services.sending import enqueue_dispatch

            transaction.on_commit(lambda: enqueue_dispatch(message.id, countdown=wait, channel=message.channel))
        return "retry"
    # Permanent refusal, or out of retries: not charged (R-PRE-4), fall back if asked.
    final = Message.Status.REJECTED if result.outcome == Outcome.PERMANENT else Message.Status.FAILED
    with transaction.atomic():
        transition(
            message,
            final,
            reason=f"{result.error_code} {result.error_message}".strip() or final,
            actor=provider_name,
            now=now,
            provider=provider_name,
            error_code=result.error_code[:40],
            error_message=result.error_message[:300],
            sealed="" if not message.fallback else message.sealed,
        )
        _reverse_charge(message, reason=f"provider {final}: {result.error_code}".strip(), now=now)
    _fall_back(message, now)
    return final


def _finish_unsent(message: Message, *, reason: str, now: datetime) -> None:
    with transaction.atomic():
        transition(
            message,
            Message.Status.FAILED,
            reason=reason,
            actor="worker",
            now=now,
            sealed="",
            error_code="verification_closed",
        )
        _reverse_charge(message, reason=reason, now=now)


def _reverse_charge(message: Message, *, reason: str, now: datetime) -> None:
    if not message.charged:
        return
    charge = Charge.objects.filter(reference=message.id).first()
    if charge is not None:
        billing.reverse(charge=charge, reason=reason[:200], now=now)


def _fall_back(message: Message, now: datetime) -> None:
    if not message.fallback or message.verification_id is None:
        return
    from messaging.services.sending import fallback_send

    fallback_message = fallback_send(message=message, now=now)
    if fallback_message is not None:
        logger.info("message %s fell back to %s as %s", message.id, fallback_message.channel, fallback_message.id)
    Message.objects.filter(pk=message.pk).update(sealed="")


# --- Delivery reports (flow 3) ----------------------------------------------

_STATE_TO_STATUS = {
    DeliveryState.SENT: Message.Status.SENT,
    DeliveryState.DELIVERED: Message.Status.DELIVERED,
    DeliveryState.UNDELIVERED: Message.Status.UNDELIVERED,
    DeliveryState.FAILED: Message.Status.UNDELIVERED,
}


def delivery_record(report: DeliveryReport) -> str:
    """Apply one receipt/callback: de-duplicated, forward-only, never twice.

    Returns "applied", "ignored" (duplicate, stale or out of order) or
    "pending" (the message has not recorded this provider id yet).
    """
    now = timezone.now()
    with transaction.atomic():
        ref = (
            ProviderReference.objects.select_for_update()
            .filter(provider=report.provider, provider_message_id=report.provider_message_id)
            .first()
        )
        if ref is None:
            PendingReport.objects.create(
                provider=report.provider,
                provider_message_id=report.provider_message_id,
                state=report.state,
                error_code=report.error_code[:40],
                occurred_at=report.occurred_at,
            )
            logger.info("receipt for unknown %s id %s kept pending", report.provider, report.provider_message_id)
            return "pending"
        new_status = _STATE_TO_STATUS[report.state]
        if ref.state and RANK[new_status] <= RANK[ref.state]:
            return "ignored"
        ref.state = new_status
        ref.save(update_fields=["state"])
        message = Message.objects.select_for_update(of=("self",)).select_related("verification").get(pk=ref.message_id)
        if new_status == Message.Status.SENT:
            return "ignored" if message.status != Message.Status.SENDING else _apply(message, new_status, report, now)
        states = list(ProviderReference.objects.filter(message=message).values_list("state", flat=True))
        if new_status == Message.Status.DELIVERED and any(s != Message.Status.DELIVERED for s in states):
            return "applied"  # wait for every part
        return _apply(message, new_status, report, now)


def _apply(message: Message, status: str, report: DeliveryReport, now: datetime) -> str:
    if message.status == Message.Status.SENDING and status != Message.Status.SENT:
        # A receipt overtook our own record of the acceptance.
        transition(
            message,
            Message.Status.SENT,
            reason="accepted (implied by receipt)",
            actor=report.provider,
            now=now,
            sent_at=now,
        )
    fields: dict[str, object] = {}
    if status == Message.Status.DELIVERED:
        fields = {"delivered_at": report.occurred_at or now, "sealed": ""}
    elif status == Message.Status.UNDELIVERED:
        fields = {"error_code": report.error_code[:40]}
    if not transition(
        message,
        status,
        reason=f"{report.provider} report {report.state} {report.error_code}".strip(),
        actor=report.provider,
        now=now,
        **fields,
    ):
        return "ignored"
    if status == Message.Status.UNDELIVERED:
        if settings.REFUND_UNDELIVERED:  # R-PRE-4 policy, default off
            _reverse_charge(message, reason="undelivered (REFUND_UNDELIVERED)", now=now)
        transaction.on_commit(lambda: _fall_back(message, timezone.now()))
    return "applied"


def _apply_pending_reports(provider: str, ids: tuple[str, ...] | list[str]) -> None:
    pending = list(PendingReport.objects.filter(provider=provider, provider_message_id__in=list(ids)).order_by("id"))
    for row in pending:
        PendingReport.objects.filter(pk=row.pk).delete()
        delivery_record(
            DeliveryReport(
                provider=row.provider,
                provider_message_id=row.provider_message_id,
                state=DeliveryState(row.state),
                occurred_at=row.occurred_at,
                error_code=row.error_code,
            )
        )


# --- The outbox sweep ---------------------------------------------------------


def outbox_sweep(*, now: datetime | None = None, batch: int = 1000) -> dict[str, int]:
    """Re-enqueue messages left ``queued`` longer than OUTBOX_SWEEP_AFTER
    (broker down, lost task) and retake ``sending`` claims older than
    DISPATCH_CLAIM_TIMEOUT (worker killed mid-send)."""
    from messaging.services.sending import enqueue_dispatch

    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.DISPATCH_CLAIM_TIMEOUT)
    retaken = 0
    for message in Message.objects.filter(status=Message.Status.SENDING, claimed_at__lt=stale)[:batch]:
        with transaction.atomic():
            if transition(
                message,
                Message.Status.QUEUED,
                reason="claim expired: worker lost",
                actor="sweep",
                now=now,
                next_attempt_at=None,
            ):
                retaken += 1
    due = now - timedelta(seconds=settings.OUTBOX_SWEEP_AFTER)
    rows = list(
        Message.objects.filter(status=Message.Status.QUEUED)
        .filter(Q(next_attempt_at__isnull=True, updated_at__lte=due) | Q(next_attempt_at__lte=due))
        .values_list("id", "channel")[:batch]
    )
    for message_id, channel in rows:
        enqueue_dispatch(message_id, channel=channel)
    return {"requeued": len(rows), "retaken": retaken, "fallbacks": fallbacks_due(now=now), **_hygiene(now)}


def _hygiene(now: datetime) -> dict[str, int]:
    """Clear sealed bodies nobody can need any more (once sent, a body is only
    kept for a pending verification's fallback, and a day at most) and forget
    receipts for ids that never turned up."""
    day_ago = now - timedelta(days=1)
    unsealed = (
        Message.objects.exclude(sealed="")
        .filter(status__in=[Message.Status.SENT, *Message.FINAL])
        .filter(Q(updated_at__lt=day_ago) | ~Q(verification__status=Verification.Status.PENDING))
        .update(sealed="")
    )
    forgotten, _ = PendingReport.objects.filter(created_at__lt=day_ago).delete()
    return {"unsealed": unsealed, "stale_reports": forgotten}


def fallbacks_due(*, now: datetime | None = None, batch: int = 500) -> int:
    """Fallback on delivery (issue 5): a verification's message that was
    accepted but not delivered within FALLBACK_TIMEOUT_WA / _SMS seconds is
    sent again through its next fallback channel (charged at that price).
    The first message stays charged: the upstream took it (R-PRE-4)."""
    now = now or timezone.now()
    sent = 0
    for channels, timeout in (
        (("wa", "wa_official"), settings.FALLBACK_TIMEOUT_WA),
        (("sms",), settings.FALLBACK_TIMEOUT_SMS),
    ):
        candidates = (
            Message.objects.filter(
                channel__in=channels,
                status=Message.Status.SENT,
                sent_at__lte=now - timedelta(seconds=timeout),
                verification__status=Verification.Status.PENDING,
                verification__expires_at__gt=now,
                fallback_message__isnull=True,
            )
            .exclude(fallback=[])
            .select_related("verification")[:batch]
        )
        from messaging.services.sending import fallback_send

        for message in candidates:
            if fallback_send(message=message, now=now) is not None:
                sent += 1
    return sent
