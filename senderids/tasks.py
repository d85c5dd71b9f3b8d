"""Celery tasks of sender IDs: thin, each calls one service (style.md #3).
Tasks may import services and notifications; neither imports this module
(notifications enqueue ``notify`` by name)."""

from __future__ import annotations

from datetime import date
from typing import Any

from celery import shared_task

from senderids import notifications, services


@shared_task(autoretry_for=(OSError,), retry_backoff=30, max_retries=8, acks_late=True)
def notify(kind: str, **kwargs: Any) -> None:
    notifications.deliver(kind, **kwargs)


@shared_task(acks_late=True)
def quarter_review(quarter: str | None = None) -> dict[str, int]:
    """Beat: 00:20 WIB on the first day of each quarter (R-SID-6, R-SID-7).
    Idempotent; ``quarter`` (YYYY-MM-DD of its first day) reruns a past one."""
    return services.quarter_review(quarter=date.fromisoformat(quarter) if quarter else None)


@shared_task(acks_late=True)
def quarter_warn() -> dict[str, int]:
    """Beat: daily at 09:00 WIB; acts from two weeks before a quarter ends. Idempotent."""
    return services.quarter_warn()
