"""Celery tasks: thin, each calls one service (architecture "Inside an app").

Imports go one way, tasks → services → providers: nothing below imports this
module; services and providers enqueue these tasks by name
(``messaging.queueing``).
"""

from __future__ import annotations

from celery import shared_task

from accounts.idempotency import records_purge
from messaging import services
from messaging.providers.base import DeliveryReport, DeliveryState


@shared_task(acks_late=True, ignore_result=True)
def dispatch(message_id: str) -> str:
    return services.message_dispatch(message_id=message_id)


@shared_task(acks_late=True, ignore_result=True)
def drain(slot: int) -> int:
    return services.messages_drain(slot=slot)


@shared_task(acks_late=True, ignore_result=True)
def deliver_webhook(delivery_id: int) -> None:
    services.delivery_attempt(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def sandbox_report(provider_message_id: str, state: str) -> str:
    return services.delivery_record(
        DeliveryReport(provider="sandbox", provider_message_id=provider_message_id, state=DeliveryState(state))
    )


@shared_task(ignore_result=True)
def sweep_outbox() -> dict[str, int]:
    return services.outbox_sweep()


@shared_task(ignore_result=True)
def expire_verifications() -> int:
    return services.verifications_expire()


@shared_task(ignore_result=True)
def sweep_webhooks() -> int:
    return services.deliveries_sweep()


@shared_task(ignore_result=True)
def purge_idempotency_records() -> int:
    return records_purge()
