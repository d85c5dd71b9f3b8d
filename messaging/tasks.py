"""Celery tasks: thin, each calls one service (architecture "Inside an app")."""

from __future__ import annotations

from celery import shared_task

from messaging.providers.base import DeliveryReport, DeliveryState


@shared_task(acks_late=True, ignore_result=True)
def dispatch(message_id: str) -> str:
    from messaging.services import message_dispatch

    return message_dispatch(message_id=message_id)


@shared_task(acks_late=True, ignore_result=True)
def deliver_webhook(delivery_id: int) -> None:
    from messaging.services import delivery_attempt

    delivery_attempt(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def sandbox_report(provider_message_id: str, state: str) -> str:
    from messaging.services import delivery_record

    return delivery_record(
        DeliveryReport(provider="sandbox", provider_message_id=provider_message_id, state=DeliveryState(state))
    )


@shared_task(ignore_result=True)
def sweep_outbox() -> dict[str, int]:
    from messaging.services import outbox_sweep

    return outbox_sweep()


@shared_task(ignore_result=True)
def expire_verifications() -> int:
    from messaging.services import verifications_expire

    return verifications_expire()


@shared_task(ignore_result=True)
def sweep_webhooks() -> int:
    from messaging.services import deliveries_sweep

    return deliveries_sweep()


@shared_task(ignore_result=True)
def purge_idempotency_records() -> int:
    from messaging.idempotency import records_purge

    return records_purge()
