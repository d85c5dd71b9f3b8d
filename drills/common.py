"""What every drill shares: its sizes, its customer, its load, and the end of a drill (wait
for every message to be final, then ``drills.verify``, plus the load's own checks).

A drill gets its own customer (a live key, a deposit, a webhook endpoint) and its own
range of numbers, so several drills can share one stack (the CI run) and each counts
only its own messages and the SMSC's submits to its own numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import requests

from drills.infra import DrillError, pause, wait_until
from drills.load import Answer, Load, Send
from drills.stack import Customer, Stack
from drills.verify import Verdict, settle, verify

DEPOSIT = 50_000_000  # Rp: enough for every send of a full drill


@dataclass(frozen=True)
class Size:
    """How big a drill is: ``FULL`` (``make drill``) or ``SHORT`` (CI, tests/drills/)."""

    name: str
    sends: int  # live sends per drill (per repetition for worker-kill)
    rate: float  # sends per second
    repetitions: int  # worker-kill
    redis_outage: float
    postgres_outage: float
    smsc_outages: tuple[float, ...]
    smsc_silence: float
    wa_outage: float
    settle: float  # seconds allowed for every message to become final after the load


FULL = Size(
    "full",
    sends=400,
    rate=12.0,
    repetitions=10,
    redis_outage=20,
    postgres_outage=10,
    smsc_outages=(15, 90),
    smsc_silence=25,
    wa_outage=30,
    settle=420,
)
SHORT = Size(
    "short",
    sends=60,
    rate=10.0,
    repetitions=2,
    redis_outage=8,
    postgres_outage=5,
    smsc_outages=(6,),
    smsc_silence=8,
    wa_outage=20,
    settle=240,
)


# The SMSC's counters when each drill's customer was made: on a shared stack a drill's
# figures count from its own start, not from the stack's.
_REDELIVERIES_AT_START: dict[str, int] = {}


def new_customer(stack: Stack) -> Customer:
    """The drill's customer: one made ahead (``Stack.spare``, on a shared stack) or a new one."""
    customer = stack.spare.pop(0) if stack.spare else stack.add_customers(1, deposit=DEPOSIT)[0]
    _REDELIVERIES_AT_START[customer.slug] = stack.smsc.redeliveries
    return customer


def run_load(stack: Stack, sends: list[Send], size: Size, *, retry_for: float = 120, rate: float = 0.0) -> Load:
    return Load(stack.base_url, sends, rate=rate or size.rate, retry_for=retry_for).start()


def at(load: Load, fraction: float, size: Size) -> None:
    """Wait until ``fraction`` of the load's sending window has passed."""
    pause(fraction * len(load.sends) / load.rate - (time.monotonic() - load.started_at))


def finish(stack: Stack, customer: Customer, loads: list[Load], size: Size, *, webhooks: str = "events") -> Verdict:
    """Wait for the loads and for every message to be final, then verify (``drills.verify``)."""
    for load in loads:
        if not load.wait(timeout=600):
            raise DrillError("the load did not finish")
    answers: list[Answer] = [a for load in loads for a in load.answers]
    final_s, webhooks_s = settle(stack, [customer], timeout=size.settle)
    verdict = verify(stack, [customer], answers, webhooks=webhooks)
    verdict.figures["receipts_redelivered"] -= _REDELIVERIES_AT_START.get(customer.slug, 0)
    verdict.figures = {
        **load_figures(loads),
        **verdict.figures,
        "all_final_after_load_s": round(final_s, 1),
        "webhooks_done_after_load_s": round(webhooks_s, 1),
    }
    problems = [p for load in loads for p in load.problems()]
    verdict.check(
        "every API answer is the contract's (no 500, 503s in the error shape)", not problems, f"{problems[:3]}"
    )
    never = [a for a in answers if not a.accepted]
    verdict.check(
        "every send is accepted in the end (a clean refusal retried with its Idempotency-Key)",
        not never,
        f"{[(a.send.body.get('to'), a.statuses[-3:]) for a in never[:3]]}",
    )
    return verdict


def load_figures(loads: list[Load]) -> dict[str, Any]:
    total: dict[str, Any] = {}
    for load in loads:
        for key, value in load.figures().items():
            if isinstance(value, dict):
                merged = total.setdefault(key, {})
                for k, v in value.items():
                    merged[k] = merged.get(k, 0) + v
            else:
                total[key] = total.get(key, 0) + value
    total["api_requests"] = total.pop("requests", 0)
    return total


def all_alive(stack: Stack, verdict: Verdict, why: str) -> None:
    dead = [name for name, proc in stack.procs.items() if not proc.alive()]
    verdict.check(f"no process of the product needed a restart ({why})", not dead, f"exited: {dead}")


def utc_now() -> datetime:
    return datetime.now(UTC)


def catch(predicate: Callable[[], bool], timeout: float, interval: float = 0.002) -> bool:
    """Poll ``predicate`` closely until it holds (True) or ``timeout`` passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        pause(interval)
    return False


class Watch:
    """One open connection to the drill's database, for close polling (``in_flight``)."""

    def __init__(self, stack: Stack) -> None:
        self.conn = psycopg.connect(stack.pg.url("otpportal"), autocommit=True, connect_timeout=10)

    def in_flight(self, numbers: list[str]) -> int:
        """Messages to ``numbers`` (E.164) accepted and not yet answered by the SMSC."""
        row = self.conn.execute(
            "SELECT count(*) FROM messaging_message WHERE \"to\" = ANY(%s) AND status IN ('queued', 'sending')",
            (numbers,),
        ).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self.conn.close()


def probe(stack: Stack) -> bool:
    try:
        return requests.get(f"{stack.base_url}/healthz", timeout=3).status_code == 200
    except requests.RequestException:
        return False


def wait_healthy(stack: Stack, timeout: float = 120) -> None:
    wait_until(lambda: probe(stack), timeout, "the portal answers /healthz 200")
