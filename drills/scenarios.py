"""The eight fault drills of issue 14, by number and name. Each takes a running ``Stack``
and a ``Size`` and returns a ``Verdict``: figures and the checks of ``drills.verify``, plus
its own (``drills.faults_processes``: our processes and servers fail;
``drills.faults_upstreams``: the SMSC and WhatsApp fail)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from drills.common import FULL, SHORT, Size, wait_healthy
from drills.faults_processes import drill_bind_kill, drill_postgres_restart, drill_redis_outage, drill_worker_kill
from drills.faults_upstreams import drill_smsc_outage, drill_smsc_silent, drill_wa_5xx, drill_wa_callbacks
from drills.stack import Stack
from drills.verify import Verdict


@dataclass(frozen=True)
class Drill:
    number: int
    name: str
    title: str
    run: Callable[[Stack, Size], Verdict]
    overrides: dict[str, str]


DRILLS: dict[str, Drill] = {
    d.name: d
    for d in [
        Drill(
            1,
            "worker-kill",
            "kill -9 of a Celery worker mid-batch",
            drill_worker_kill,
            {"DISPATCH_CLAIM_TIMEOUT": "30"},
        ),
        Drill(2, "redis-outage", "Redis stopped under load", drill_redis_outage, {}),
        Drill(3, "postgres-restart", "PostgreSQL restarted under load", drill_postgres_restart, {}),
        Drill(4, "smsc-outage", "SMSC drops and refuses binds", drill_smsc_outage, {}),
        Drill(5, "smsc-silent", "SMSC stops answering", drill_smsc_silent, {}),
        Drill(6, "wa-5xx", "WhatsApp answers 5xx", drill_wa_5xx, {}),
        Drill(7, "wa-callbacks", "WhatsApp callbacks duplicated, out of order", drill_wa_callbacks, {}),
        Drill(
            8,
            "bind-kill",
            "kill -9 of smpp_bind mid-receipts",
            drill_bind_kill,
            {"SMPP_WORKER_BIND_MODE": "transmitter"},
        ),
    ]  # fmt: skip
}


# One stack for every drill (the tests): what each drill sets for itself, together. A claim
# is retaken after 30 s (the worker-kill drill's), which the short database outage allows;
# every receipt goes to smpp_bind (the bind-kill drill's), a setup production may choose.
SHARED_OVERRIDES = {"DISPATCH_CLAIM_TIMEOUT": "30", "SMPP_WORKER_BIND_MODE": "transmitter"}


__all__ = ["DRILLS", "FULL", "SHARED_OVERRIDES", "SHORT", "Drill", "Size", "wait_healthy"]
