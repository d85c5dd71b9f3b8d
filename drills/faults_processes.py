"""Drills 1, 2, 3 and 8: our own processes and servers fail (a Celery worker and
``smpp_bind`` killed with SIGKILL, Redis killed, PostgreSQL restarted)."""

from __future__ import annotations

import random
import time

from drills.common import Size, Watch, all_alive, at, catch, finish, new_customer, probe, run_load
from drills.infra import DrillError, pause, say
from drills.load import Load, Prober, Send, e164, otp_sends, probes
from drills.stack import Stack
from drills.verify import Verdict

# --- 1. kill -9 of a Celery worker in the middle of a dispatch batch -----------------------------

BATCH_SPEEDUP = 4.0  # a repetition's sends arrive this much faster than the other drills' load: a batch


def drill_worker_kill(stack: Stack, size: Size) -> Verdict:
    """Each repetition sends a batch (``sends`` at four times the load's rate) and the ``otp``
    worker (first attempts) is killed with SIGKILL, master and pool together, at a random
    moment of its dispatch: once the SMSC has taken a random 15-80 % of the batch, while
    messages of the batch are in flight. It is started again; ``repetitions`` times. What it
    held comes back through the outbox: tasks it had reserved are re-enqueued by the sweep,
    claims it had taken are retaken once DISPATCH_CLAIM_TIMEOUT has passed."""
    customer = new_customer(stack)
    loads, kills = [], []
    rng = random.Random()  # noqa: S311 - the kill's moment, not a secret
    watch = Watch(stack)
    try:
        for run in range(size.repetitions):
            sends = otp_sends(customer.live_key, drill=1, run=run, count=size.sends)
            load, kill = _kill_mid_batch(stack, watch, sends, size, rng)
            loads.append(load)
            kills.append({"run": run, **kill})
            say(f"worker-kill run {run}: otp worker killed with {kill['in_flight']} message(s) of the batch in flight")
            stack.restart_worker("otp")
            load.wait(timeout=600)
    finally:
        watch.close()
    verdict = finish(stack, customer, loads, size)
    verdict.figures["kills"] = kills
    verdict.check(
        "every kill landed mid-batch (messages of the batch in flight)",
        all(k["caught_in_flight"] for k in kills),
        f"{[k for k in kills if not k['caught_in_flight']]}",
    )
    return verdict


def _kill_mid_batch(stack: Stack, watch: Watch, sends: list[Send], size: Size, rng: random.Random) -> tuple[Load, dict]:
    numbers = [e164(s.body["to"]) for s in sends]
    digits = {n.lstrip("+") for n in numbers}
    load = run_load(stack, sends, size, rate=size.rate * BATCH_SPEEDUP)
    target = rng.randint(max(1, len(sends) * 15 // 100), max(1, len(sends) * 80 // 100))
    if not catch(lambda: _submitted(stack, digits) >= target, timeout=120, interval=0.01):
        raise DrillError(f"worker-kill: the SMSC never took {target} submits of the batch")
    deadline = time.monotonic() + 15
    in_flight = watch.in_flight(numbers)
    while not in_flight and time.monotonic() < deadline:  # the moment the worker holds some of the batch
        in_flight = watch.in_flight(numbers)
    stack.procs["worker-otp"].kill9()
    kill = {
        "at_s": round(time.monotonic() - load.started_at, 1),
        "batch_submitted": _submitted(stack, digits),
        "in_flight": in_flight,
        "caught_in_flight": in_flight > 0,
    }
    return load, kill


def _submitted(stack: Stack, digits: set[str]) -> int:
    return sum(1 for r in stack.smsc.submits if r.destination_addr in digits)


# --- 2. Redis stopped for 20 s under load ------------------------------------------------------


def drill_redis_outage(stack: Stack, size: Size) -> Verdict:
    """Redis (the broker and the limits) is killed under load and started again, empty, after
    ``redis_outage`` seconds. Sends keep being accepted (the limits count in the database
    meanwhile: ``messaging.limits.FallbackBucket``) or get a clean 503; the tasks the broker
    lost come back through the outbox sweep, which delivers the backlog."""
    customer = new_customer(stack)
    sends = otp_sends(customer.live_key, drill=2, run=0, count=size.sends)
    load = run_load(stack, sends, size)
    at(load, 0.25, size)
    prober = Prober(stack.base_url, probes(customer.live_key, customer.session)).start()
    down = time.monotonic()
    stack.redis.stop()
    say(f"redis-outage: Redis killed; down for {size.redis_outage:.0f} s")
    pause(size.redis_outage)
    stack.redis.start(stack.logs)
    up = time.monotonic()
    say("redis-outage: Redis started again (empty)")
    pause(AFTER_OUTAGE)
    prober.stop()
    verdict = finish(stack, customer, [load], size)
    _pages(verdict, prober, down, up, outage_503=False)
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
    all_alive(stack, verdict, "Redis outage")
    return verdict


# --- 3. PostgreSQL restarted under load --------------------------------------------------------


def drill_postgres_restart(stack: Stack, size: Size) -> Verdict:
    """PostgreSQL is stopped (``pg_ctl stop -m fast``: every session cut) under load and started
    again after ``postgres_outage`` seconds. The API answers 503 in the contract's shape while
    it is down, never a 500 page, and every process of the product carries on without a
    restart: the web processes reconnect (CONN_HEALTH_CHECKS), a worker keeps the provider's
    answer until it can record it, ``smpp_bind`` defers receipts (the SMSC sends them again)."""
    customer = new_customer(stack)
    sends = otp_sends(customer.live_key, drill=3, run=0, count=size.sends)
    web = stack.procs["web"]
    web_pids = (web.pid, sorted(web.children()))
    load = run_load(stack, sends, size, retry_for=180)
    at(load, 0.3, size)
    prober = Prober(stack.base_url, probes(customer.live_key, customer.session)).start()
    down = time.monotonic()
    stack.pg.stop("fast")
    say(f"postgres-restart: PostgreSQL stopped; down for {size.postgres_outage:.0f} s")
    pause(size.postgres_outage)
    stack.pg.start()
    up = time.monotonic()
    say("postgres-restart: PostgreSQL started again")
    pause(AFTER_OUTAGE)
    prober.stop()
    verdict = finish(stack, customer, [load], size)
    _pages(verdict, prober, down, up, outage_503=True)
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
    all_alive(stack, verdict, "PostgreSQL restart")
    return verdict


AFTER_OUTAGE = 5.0  # seconds the pages are still read after a server is back


def _pages(verdict: Verdict, prober: Prober, down: float, up: float, *, outage_503: bool) -> None:
    """The reads beside the load: an API read and a signed-in dashboard page, through the fault."""
    paths = [p.path for p in prober.probes]
    during = {path: prober.count(path, 503, down, up + 1) for path in paths}
    last = {path: next((s for _, p, s, _ in reversed(prober.answers) if p == path), 0) for path in paths}
    verdict.figures.update(
        {
            "page_reads": len(prober.answers),
            "page_reads_503_during_outage": during,
            "page_reads_500": sum(1 for _, _, s, _ in prober.answers if s == 500),
        }
    )
    problems = prober.problems()
    verdict.check(
        "API reads and dashboard pages: no 500, a 503 in the contract's shape or a 503 page",
        not problems,
        f"{problems[:3]}",
    )
    if outage_503:
        verdict.check("API reads and dashboard pages answered 503 during the outage", all(during.values()), f"{during}")
    verdict.check("API reads and dashboard pages answer 200 again", set(last.values()) == {200}, f"{last}")


# --- 8. kill -9 of smpp_bind while receipts are flowing -------------------------------------------


def drill_bind_kill(stack: Stack, size: Size) -> Verdict:
    """Workers bind as transmitters, so every receipt reaches ``smpp_bind``; it is killed with
    SIGKILL while receipts flow, with receipts sent to it and not acknowledged: to be sure of
    that moment it is first stopped (SIGSTOP, it reads nothing more) until the SMSC has sent
    it a receipt it has not acknowledged, then killed, and started again. The SMSC keeps
    what no receiver took and sends again what was never acknowledged: no receipt is lost,
    none is applied twice (one may have been recorded and not yet acknowledged)."""
    customer = new_customer(stack)
    sends = otp_sends(customer.live_key, drill=8, run=0, count=size.sends)
    load = run_load(stack, sends, size)
    kills = []
    count = max(1, size.repetitions // 3 + 1)
    for n in range(count):
        at(load, (n + 1) / (count + 1), size)
        bind = stack.procs["smpp_bind"]
        bind.freeze()
        caught = catch(lambda: stack.smsc.unacked_receipts() > 0, timeout=15, interval=0.05)
        unacked = stack.smsc.unacked_receipts()
        bind.kill9()
        kills.append({"kill": n, "receipts_unacknowledged_at_kill": unacked, "caught_in_flight": caught})
        say(f"bind-kill {n}: smpp_bind killed with {unacked} receipt(s) unacknowledged")
        pause(2.0)
        stack.start_bind()
    verdict = finish(stack, customer, [load], size)
    verdict.figures["kills"] = kills
    verdict.check(
        "every kill caught receipts unacknowledged",
        all(k["receipts_unacknowledged_at_kill"] for k in kills),
        f"{[k for k in kills if not k['receipts_unacknowledged_at_kill']]}",
    )
    verdict.check(
        "the SMSC sent unacknowledged receipts again", verdict.figures.get("receipts_redelivered", 0) > 0, "none resent"
    )
    return verdict
