"""Celery tasks: thin, each calls one service. Tasks may import services and
notifications; neither imports this module (notifications enqueue by name)."""

from __future__ import annotations

from datetime import date
from typing import Any

from celery import shared_task

from billing import notifications, services
from billing.monthend import month_end_run


@shared_task(autoretry_for=(OSError,), retry_backoff=30, max_retries=8, acks_late=True)
def notify(kind: str, **kwargs: Any) -> None:
    notifications.deliver(kind, **kwargs)


@shared_task(acks_late=True)
def run_daily(day: str | None = None) -> dict[str, int]:
    """Beat: every day at 00:10 WIB. Idempotent for a day; a day after today
    is refused by the service (Review 8.3)."""
    return services.daily_run(today=date.fromisoformat(day) if day else None)


@shared_task(acks_late=True)
def reconcile() -> dict[str, int]:
    """Beat: every day at 00:30 WIB, after ``run_daily``; emails staff when
    the ledger and the lot balances disagree (Review 8.6)."""
    return services.ledger_reconcile()


@shared_task(acks_late=True)
def close_month(month: str | None = None) -> dict[str, Any]:
    """Beat: 00:05 WIB on the 1st: the month-end run for the month just
    ended (registered steps, invoices R-POST-3, prepaid statements). Idempotent."""
    return month_end_run(month=date.fromisoformat(f"{month}-01") if month else None)


@shared_task(autoretry_for=(OSError,), retry_backoff=30, max_retries=8, acks_late=True)
def invoice_send(invoice_id: int) -> bool:
    """Render, store and email one invoice or credit note (retried on mail errors)."""
    return services.invoice_send(invoice_id=invoice_id)


@shared_task(
    autoretry_for=(OSError,), retry_backoff=30, max_retries=8, acks_late=True, time_limit=900, soft_time_limit=840
)
def invoices_send(invoice_ids: list[int]) -> int:
    """A chunk of the month-end run's invoices; each is sent once (a retry
    skips those already sent)."""
    return sum(1 for invoice_id in invoice_ids if services.invoice_send(invoice_id=invoice_id))


@shared_task(autoretry_for=(OSError,), retry_backoff=30, max_retries=8, acks_late=True)
def statement_send(statement_id: int) -> bool:
    return services.statement_send(statement_id=statement_id)
