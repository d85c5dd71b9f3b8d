from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task(autoretry_for=(OSError,), retry_backoff=30, max_retries=8, acks_late=True)
def notify(kind: str, **kwargs: Any) -> None:
    from billing import notifications

    notifications.deliver(kind, **kwargs)


@shared_task(acks_late=True)
def run_daily(day: str | None = None) -> dict[str, int]:
    """Beat: every day at 00:10 WIB. Idempotent for a day."""
    from datetime import date

    from billing.services import daily_run

    return daily_run(today=date.fromisoformat(day) if day else None)
