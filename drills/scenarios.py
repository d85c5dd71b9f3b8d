"""The eight fault drills of issue 14. Each takes a running ``Stack`` and a ``Size`` and
returns a ``Verdict``: figures and the checks of ``drills.verify``, plus its own.

A drill gets its own customer (a live key, a deposit, a webhook endpoint) and its own
range of numbers, so several drills can share one stack (the CI run) and each counts
only its own messages and the SMSC's submits to its own numbers.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from drills.infra import DrillError, pause, say, wait_until
from drills.load import Answer, Load, Send, e164, otp_sends
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
    settle=300,
)


def _customer(stack: Stack) -> Customer:
    return stack.add_customers(1, deposit=DEPOSIT)[0]


def _run_load(stack: Stack, sends: list[Send], size: Size, *, retry_for: float = 120) -> Load:
    return Load(stack.base_url, sends, rate=size.rate, retry_for=retry_for).start()


def _finish(stack: Stack, customer: Customer, loads: list[Load], size: Size, *, webhooks: str = "events") -> Verdict:
    for load in loads:
        if not load.wait(timeout=600):
            raise DrillError("the load did not finish")
    answers: list[Answer] = [a for load in loads for a in load.answers]
    final_s, webhooks_s = settle(stack, [customer], timeout=size.settle)
    verdict = verify(stack, [customer], answers, webhooks=webhooks)
    figures = _load_figures(loads)
    verdict.figures = {
        **figures,
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


def _load_figures(loads: list[Load]) -> dict[str, Any]:
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


def _sent_count(stack: Stack, customer: Customer) -> int:
    return int(
        stack.psql(
            "SELECT count(*) FROM messaging_message WHERE customer_id = %s AND status <> 'queued'", (customer.id,)
        )[0][0]
    )


# --- 1. kill -9 of a Celery worker in the middle of a dispatch batch -----------------------------


def drill_worker_kill(stack: Stack, size: Size) -> Verdict:
    """The ``otp`` worker (first attempts) is killed with SIGKILL, master and pool together, at a
    random moment while a batch is being dispatched, then started again; ``repetitions`` times.
    What it held comes back through the outbox: tasks it had reserved are re-enqueued by the
    sweep, claims it had taken are retaken once DISPATCH_CLAIM_TIMEOUT has passed."""
    customer = _customer(stack)
    loads, kills = [], []
    rng = random.Random()  # noqa: S311 - the kill's moment, not a secret
    for run in range(size.repetitions):
        sends = otp_sends(customer.live_key, drill=1, run=run, count=size.sends)
        before = _sent_count(stack, customer)
        load = _run_load(stack, sends, size)
        loads.append(load)
        window = len(sends) / size.rate
        moment = rng.uniform(0.15, 0.8) * window
        pause(moment - (time.monotonic() - load.started_at))
        in_flight = int(
            stack.psql(
                "SELECT count(*) FROM messaging_message WHERE customer_id = %s AND status IN ('queued', 'sending')",
                (customer.id,),
            )[0][0]
        )
        stack.procs["worker-otp"].kill9()
        kills.append(
            {
                "run": run,
                "at_s": round(moment, 1),
                "in_flight": in_flight,
                "dispatched_in_run": _sent_count(stack, customer) - before,
            }
        )
        say(f"worker-kill run {run}: otp worker killed at {moment:.1f} s with {in_flight} message(s) in flight")
        stack.restart_worker("otp")
        load.wait(timeout=600)
    verdict = _finish(stack, customer, loads, size)
    verdict.figures["kills"] = kills
    verdict.check(
        "every kill landed mid-batch (messages in flight)",
        all(k["in_flight"] > 0 for k in kills),
        f"{[k for k in kills if not k['in_flight']]}",
    )
    return verdict


def _at(load: Load, fraction: float, size: Size) -> None:
    """Wait until ``fraction`` of the load's sending window has passed."""
    pause(fraction * len(load.sends) / size.rate - (time.monotonic() - load.started_at))


def _all_alive(stack: Stack, verdict: Verdict, why: str) -> None:
    dead = [name for name, proc in stack.procs.items() if not proc.alive()]
    verdict.check(f"no process of the product needed a restart ({why})", not dead, f"exited: {dead}")


def _utc_now() -> datetime:
    return datetime.now(UTC)


# --- 2. Redis stopped for 20 s under load ------------------------------------------------------


def drill_redis_outage(stack: Stack, size: Size) -> Verdict:
    """Redis (the broker and the limits) is killed under load and started again, empty, after
    ``redis_outage`` seconds. Sends keep being accepted (the limits count in the database
    meanwhile: ``messaging.limits.FallbackBucket``) or get a clean 503; the tasks the broker
    lost come back through the outbox sweep, which delivers the backlog."""
    customer = _customer(stack)
    sends = otp_sends(customer.live_key, drill=2, run=0, count=size.sends)
    load = _run_load(stack, sends, size)
    _at(load, 0.25, size)
    down = time.monotonic()
    stack.redis.stop()
    say(f"redis-outage: Redis killed; down for {size.redis_outage:.0f} s")
    pause(size.redis_outage)
    stack.redis.start(stack.logs)
    up = time.monotonic()
    say("redis-outage: Redis started again (empty)")
    verdict = _finish(stack, customer, [load], size)
    accepted_during = load.answered_between(down, up, 201)
    refused_during = load.answered_between(down, up, 503)
    verdict.figures.update(
        {
            "outage_s": round(up - down, 1),
            "accepted_during_outage": accepted_during,
            "refused_503_during_outage": refused_during,
        }
    )
    verdict.check(
        "sends during the outage were accepted or refused cleanly (503)",
        accepted_during + refused_during > 0,
        "no request answered during the outage",
    )
    _all_alive(stack, verdict, "Redis outage")
    return verdict


# --- 3. PostgreSQL restarted under load --------------------------------------------------------


def drill_postgres_restart(stack: Stack, size: Size) -> Verdict:
    """PostgreSQL is stopped (``pg_ctl stop -m fast``: every session cut) under load and started
    again after ``postgres_outage`` seconds. The API answers 503 in the contract's shape while
    it is down, never a 500 page, and every process of the product carries on without a
    restart: the web processes reconnect (CONN_HEALTH_CHECKS), a worker keeps the provider's
    answer until it can record it, ``smpp_bind`` defers receipts (the SMSC sends them again)."""
    customer = _customer(stack)
    sends = otp_sends(customer.live_key, drill=3, run=0, count=size.sends)
    web = stack.procs["web"]
    web_pids = (web.pid, sorted(web.children()))
    load = _run_load(stack, sends, size, retry_for=180)
    _at(load, 0.3, size)
    down = time.monotonic()
    stack.pg.stop("fast")
    say(f"postgres-restart: PostgreSQL stopped; down for {size.postgres_outage:.0f} s")
    pause(size.postgres_outage)
    stack.pg.start()
    up = time.monotonic()
    say("postgres-restart: PostgreSQL started again")
    verdict = _finish(stack, customer, [load], size)
    refused_during = load.answered_between(down, up + 2, 503)
    after = (web.pid, sorted(web.children()))
    verdict.figures.update(
        {
            "outage_s": round(up - down, 1),
            "refused_503_during_outage": refused_during,
            "web_pids_unchanged": after == web_pids,
        }
    )
    verdict.check(
        "the API answered 503 during the outage", refused_during > 0, "no 503 seen: the outage went unnoticed"
    )
    verdict.check("the web processes were not restarted", after == web_pids, f"{web_pids} → {after}")
    verdict.check("the API answers again", probe(stack), "/healthz is not 200 after the restart")
    _all_alive(stack, verdict, "PostgreSQL restart")
    return verdict


# --- 4. The SMSC drops the connection and refuses binds for 15 s, then 90 s --------------------


def drill_smsc_outage(stack: Stack, size: Size) -> Verdict:
    """For each outage in ``smsc_outages``: under load, the SMSC closes every connection and
    refuses every bind (ESME_RBINDFAIL) for that long, then takes binds again. Every OTP still
    valid when it comes back (and every ``/messages`` text) is delivered; a code that expired
    during the outage ends ``failed`` with its charge reversed (R-PRE-4)."""
    customer = _customer(stack)
    loads, outages = [], []
    per_run = max(1, size.sends // len(size.smsc_outages))
    for run, seconds in enumerate(size.smsc_outages):
        sends = otp_sends(customer.live_key, drill=4, run=run, count=per_run, short_ttl_every=4)
        load = _run_load(stack, sends, size, retry_for=60)
        loads.append(load)
        _at(load, 0.25, size)
        stack.smsc.refuse_binds()
        dropped = stack.smsc.drop_all()
        say(f"smsc-outage run {run}: {dropped} connection(s) dropped, binds refused for {seconds:.0f} s")
        pause(seconds)
        stack.smsc.refuse_binds(None)
        outages.append({"run": run, "seconds": seconds, "dropped": dropped, "back_at": _utc_now()})
        load.wait(timeout=600)
    verdict = _finish(stack, customer, loads, size)
    # Every message not delivered must be a code that expired before it could be sent again:
    # by the time the SMSC took binds again, plus the longest back-off (the bind's).
    grace = timedelta(seconds=60)
    rows = stack.psql(
        "SELECT m.id, m.status, m.created_at, v.expires_at FROM messaging_message m "
        "LEFT JOIN messaging_verification v ON v.id = m.verification_id "
        "WHERE m.customer_id = %s AND m.status <> 'delivered'",
        (customer.id,),
    )
    backs = sorted(o["back_at"] for o in outages)
    undelivered_valid = []
    for message_id, status, created_at, expires_at in rows:
        back = next((b for b in backs if b >= created_at), backs[-1])
        if expires_at is None or expires_at > back + grace:
            undelivered_valid.append((message_id, status))
    delays = stack.psql(
        "SELECT max(extract(epoch FROM delivered_at - %s)) FROM messaging_message "
        "WHERE customer_id = %s AND status = 'delivered' AND created_at < %s",
        (backs[-1], customer.id, backs[-1]),
    )
    verdict.figures.update(
        {
            "outages": [{k: v for k, v in o.items() if k != "back_at"} for o in outages],
            "codes_expired_in_outage": sum(1 for _, status, _, e in rows if e is not None and status == "failed"),
            "last_backlog_delivery_after_back_s": round(float(delays[0][0] or 0), 1),
        }
    )
    verdict.check(
        "every OTP still valid when the SMSC came back was delivered", not undelivered_valid, f"{undelivered_valid[:5]}"
    )
    _all_alive(stack, verdict, "SMSC outage")
    return verdict


# --- 5. The SMSC stops answering for 25 s --------------------------------------------------------


def drill_smsc_silent(stack: Stack, size: Size) -> Verdict:
    """The SMSC goes silent under load: connections stay open, PDUs are read, nothing is
    answered (no submit_sm_resp, no bind_resp, no enquire_link_resp) for ``smsc_silence``
    seconds. A submit left unanswered is the one case where a copy may be duplicated; every
    session that went silent is dropped and bound again (Review 8.17)."""
    customer = _customer(stack)
    sends = otp_sends(customer.live_key, drill=5, run=0, count=size.sends)
    load = _run_load(stack, sends, size)
    _at(load, 0.25, size)
    stack.smsc.hang(True)
    say(f"smsc-silent: SMSC silent for {size.smsc_silence:.0f} s")
    pause(size.smsc_silence)
    stack.smsc.hang(False)
    verdict = _finish(stack, customer, [load], size)
    verdict.figures["silence_s"] = size.smsc_silence
    verdict.check(
        "the silence was felt (submits left unanswered)",
        verdict.figures.get("smsc_unanswered", 0) > 0,
        "no submit reached the silent SMSC",
    )
    _all_alive(stack, verdict, "silent SMSC")
    return verdict


# --- 6. A WhatsApp provider answers 5xx for 30 s --------------------------------------------------


_RETRY_IN = re.compile(r"retry in ([0-9.]+)s")


def drill_wa_5xx(stack: Stack, size: Size) -> Verdict:
    """The WhatsApp Cloud API answers 503 to every request for ``wa_outage`` seconds. Messages
    are retried with growing waits; a verification that asked for an SMS fallback moves to SMS
    once WhatsApp has failed for FALLBACK_AFTER_DOWN (its WhatsApp charge reversed, R-PRE-4);
    the others go out on WhatsApp when it answers again."""
    customer = _customer(stack)
    sends = otp_sends(
        customer.live_key, drill=6, run=0, count=size.sends, channel="wa_official", fallback_every=2, messages_every=0
    )
    load = _run_load(stack, sends, size)
    _at(load, 0.1, size)
    before = len(stack.wa_cloud.requests)
    stack.wa_cloud.fail_next(None, None, http_status=503)  # type: ignore[arg-type]  # None: for ever
    say(f"wa-5xx: WhatsApp Cloud API answers 503 for {size.wa_outage:.0f} s")
    pause(size.wa_outage)
    stack.wa_cloud.clear_failures()
    verdict = _finish(stack, customer, [load], size)
    requests_seen = stack.wa_cloud.requests[before:]
    per_number = Counter(str((r.json or {}).get("to", "")) for r in requests_seen if r.method == "POST")
    rows = stack.psql(
        "SELECT m.id, m.channel, m.status, m.fallback_of_id, v.fallback FROM messaging_message m "
        "JOIN messaging_verification v ON v.id = m.verification_id WHERE m.customer_id = %s",
        (customer.id,),
    )
    fallen = {r[3] for r in rows if r[3]}
    wa = [r for r in rows if r[1] == "wa_official"]
    wa_failed_with_fallback = [r for r in wa if r[2] == "failed" and r[4]]
    no_fallback_undelivered = [r[0] for r in wa if not r[4] and r[2] != "delivered"]
    fallback_missing = [r[0] for r in wa_failed_with_fallback if r[0] not in fallen]
    fallback_undelivered = [r[0] for r in rows if r[3] and r[2] != "delivered"]
    waits: list[list[float]] = []
    for message_id in (r[0] for r in wa if not r[4]):  # with a fallback, the last wait is cut short
        history = stack.psql(
            "SELECT reason FROM messaging_messagestatuschange WHERE message_id = %s AND new = 'queued' ORDER BY id",
            (message_id,),
        )
        found = [float(m.group(1)) for (reason,) in history if (m := _RETRY_IN.search(reason))]
        if len(found) >= 2:
            waits.append(found)
    growing = sum(1 for w in waits if w[-1] > w[0])
    verdict.figures.update(
        {
            "wa_outage_s": size.wa_outage,
            "wa_requests_in_outage_and_after": len(requests_seen),
            "wa_requests_per_message_max": max(per_number.values(), default=0),
            "fell_back_to_sms": len(fallen),
            "fallbacks_delivered": sum(1 for r in rows if r[3] and r[2] == "delivered"),
            "retried_messages": len(waits),
            "retry_waits_growing": growing,
            "wa_charges_reversed": sum(1 for r in wa if r[2] in ("failed", "rejected")),
        }
    )
    verdict.check("verifications without a fallback are delivered on WhatsApp", not no_fallback_undelivered,
                  f"{no_fallback_undelivered[:5]}")  # fmt: skip
    verdict.check(
        "a failed WhatsApp message with a fallback fell back", not fallback_missing, f"{fallback_missing[:5]}"
    )
    verdict.check("every fallback SMS is delivered", not fallback_undelivered, f"{fallback_undelivered[:5]}")
    verdict.check("some verifications fell back during the outage", bool(fallen), "none fell back")
    verdict.check(
        "retries back off (waits grow; at most 8 requests per message)",
        bool(waits) and growing == len(waits) and max(per_number.values(), default=0) <= 8,
        f"waits {waits[:3]}, max requests {max(per_number.values(), default=0)}",
    )
    return verdict


# --- 7. WhatsApp status callbacks duplicated and out of order -------------------------------------


def drill_wa_callbacks(stack: Stack, size: Size) -> Verdict:
    """Both WhatsApp upstreams send every status callback twice and last-first (``delivered``
    before ``sent``); one number in ten ends ``failed``. Statuses only move forward, each move
    is applied once, and the customer gets exactly one webhook per move."""
    customer = _customer(stack)
    half = size.sends // 2
    sends = otp_sends(customer.live_key, drill=7, run=0, count=half, channel="wa", messages_every=0) + otp_sends(
        customer.live_key, drill=7, run=1, count=size.sends - half, channel="wa_official", messages_every=0
    )
    stack.wa_gateway.script_callbacks(duplicate=True, out_of_order=True)
    stack.wa_cloud.script_callbacks(duplicate=True, out_of_order=True)
    for i, send in enumerate(sends):
        if i % 10 == 9:
            target = e164(send.body["to"]).lstrip("+")
            if send.body["channel"] == "wa":
                stack.wa_gateway.script_callbacks(target=target, final="failed", duplicate=True, out_of_order=True)
            else:
                stack.wa_cloud.script_callbacks(to=target, final="failed", duplicate=True, out_of_order=True)
    before = len(stack.wa_gateway.callbacks) + len(stack.wa_cloud.callbacks)
    load = _run_load(stack, sends, size)
    try:
        load.wait(timeout=600)
        # Every callback (two statuses, each twice, per message) posted before the checks.
        expected = 4 * sum(1 for a in load.answers if a.accepted)
        wait_until(
            lambda: len(stack.wa_gateway.callbacks) + len(stack.wa_cloud.callbacks) - before >= expected,
            size.settle,
            f"{expected} status callbacks posted",
            interval=1.0,
        )
        pause(3.0)  # the webhooks the last callbacks would raise, were they applied wrongly
        verdict = _finish(stack, customer, [load], size, webhooks="strict")
    finally:
        stack.wa_gateway.script_callbacks()
        stack.wa_cloud.script_callbacks()
    callbacks = (stack.wa_gateway.callbacks + stack.wa_cloud.callbacks)[before:]
    refused = [c for c in callbacks if c.status != 200]
    verdict.figures.update(
        {"callbacks_sent": len(callbacks), "callbacks_refused": len(refused), "scripted_failed": len(sends) // 10}
    )
    verdict.check(
        "every signed callback is answered 200, duplicates too", not refused, f"{[c.status for c in refused[:5]]}"
    )
    verdict.check(
        "the numbers scripted to fail end undelivered, the others delivered",
        verdict.figures.get("undelivered") == len(sends) // 10
        and verdict.figures.get("delivered") == len(sends) - len(sends) // 10,
        f"{verdict.figures.get('delivered')} delivered, {verdict.figures.get('undelivered')} undelivered",
    )
    return verdict


# --- 8. kill -9 of smpp_bind while receipts are flowing -------------------------------------------


def drill_bind_kill(stack: Stack, size: Size) -> Verdict:
    """Workers bind as transmitters, so every receipt reaches ``smpp_bind``; it is killed with
    SIGKILL while receipts flow (a receipt sent and not yet acknowledged, when one can be
    caught), and started again. The SMSC keeps what no receiver took and sends again what
    was never acknowledged: no receipt is lost, none is applied twice."""
    customer = _customer(stack)
    sends = otp_sends(customer.live_key, drill=8, run=0, count=size.sends)
    load = _run_load(stack, sends, size)
    kills = []
    count = max(1, size.repetitions // 3 + 1)
    for n in range(count):
        _at(load, (n + 1) / (count + 1), size)
        caught = _catch(lambda: stack.smsc.unacked_receipts() > 0, timeout=10)
        unacked = stack.smsc.unacked_receipts()
        stack.procs["smpp_bind"].kill9()
        kills.append({"kill": n, "receipts_unacknowledged_at_kill": unacked, "caught_in_flight": caught})
        say(f"bind-kill {n}: smpp_bind killed with {unacked} receipt(s) unacknowledged")
        pause(2.0)
        stack.start_bind()
    verdict = _finish(stack, customer, [load], size)
    verdict.figures["kills"] = kills
    verdict.check(
        "receipts were in flight at a kill",
        any(k["receipts_unacknowledged_at_kill"] for k in kills),
        "no kill caught a receipt unacknowledged",
    )
    verdict.check(
        "the SMSC sent unacknowledged receipts again", verdict.figures.get("receipts_redelivered", 0) > 0, "none resent"
    )
    return verdict


def _catch(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        pause(0.002)
    return False


# --- the registry ----------------------------------------------------------------------------


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


def probe(stack: Stack) -> bool:
    try:
        return requests.get(f"{stack.base_url}/healthz", timeout=3).status_code == 200
    except requests.RequestException:
        return False


def wait_healthy(stack: Stack, timeout: float = 120) -> None:
    wait_until(lambda: probe(stack), timeout, "the portal answers /healthz 200")


__all__ = ["DRILLS", "FULL", "SHARED_OVERRIDES", "SHORT", "Drill", "Size", "e164"]
