"""The ``smpp_bind`` process's heartbeat (provider health in the back office)."""

from __future__ import annotations

from datetime import datetime

from messaging.models import SmppBindStatus


def bind_heartbeat(*, account: str, process: str, mode: str, state: str, error: str, now: datetime) -> SmppBindStatus:
    """Record that ``process`` still runs its bind to ``account``, in ``state``;
    ``state_since`` moves only when the state changes."""
    row, created = SmppBindStatus.objects.get_or_create(
        account=account,
        process=process,
        defaults={"mode": mode, "state": state, "state_since": now, "last_seen": now, "last_error": error[:300]},
    )
    if not created:
        if row.state != state:
            row.state_since = now
        row.mode, row.state, row.last_seen, row.last_error = mode, state, now, error[:300]
        row.save(update_fields=["mode", "state", "state_since", "last_seen", "last_error"])
    return row
