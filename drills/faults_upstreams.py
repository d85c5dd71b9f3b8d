"""Drills 4 to 7: the upstreams fail (the SMSC drops, refuses binds or goes silent; the
WhatsApp Cloud API answers 5xx; the WhatsApp status callbacks come twice and out of order)."""

from __future__ import annotations

import re
from collections import Counter

from drills.common import Size, all_alive, at, finish, new_customer, run_load, utc_now
from drills.infra import pause, say, wait_until
from drills.load import e164, otp_sends
from drills.stack import Stack
from drills.verify import Verdict, settle

# --- 4. The SMSC drops the connection and refuses binds for 15 s, then 90 s --------------------


def drill_smsc_outage(stack: Stack, size: Size) -> Verdict:
    """For each outage in ``smsc_outages``: under load, the SMSC closes every connection and
    refuses every bind (ESME_RBINDFAIL) for that long, then takes binds again; the next outage
    comes once every message of the previous one is final. Every OTP still valid when the
    SMSC is reachable again (and every ``/messages`` text) is delivered; a code that expired
    during the outage ends ``failed`` with its charge reversed (R-PRE-4)."""
    customer = new_customer(stack)
    loads, outages = [], []
    per_run = max(1, size.sends // len(size.smsc_outages))
    for run, seconds in enumerate(size.smsc_outages):
        sends = otp_sends(customer.live_key, drill=4, run=run, count=per_run, short_ttl_every=4)
        load = run_load(stack, sends, size, retry_for=60)
        loads.append(load)
        at(load, 0.25, size)
        stack.smsc.refuse_binds()
        dropped = stack.smsc.drop_all()
        say(f"smsc-outage run {run}: {dropped} connection(s) dropped, binds refused for {seconds:.0f} s")
        pause(seconds)
        stack.smsc.refuse_binds(None)
        outages.append({"run": run, "seconds": seconds, "dropped": dropped, "back_at": utc_now()})
        load.wait(timeout=600)
        if run + 1 < len(size.smsc_outages):
            settle(stack, [customer], timeout=size.settle)  # this outage's backlog out before the next
    verdict = finish(stack, customer, loads, size)
    # Every message not delivered must be a code that had expired when the platform was bound
    # again: the first message it sent after the SMSC took binds again.
    for outage in outages:
        first = stack.psql(
            "SELECT min(sent_at) FROM messaging_message WHERE customer_id = %s AND sent_at >= %s",
            (customer.id, outage["back_at"]),
        )[0][0]
        outage["bound_at"] = first or outage["back_at"]
        outage["bound_again_after_s"] = round((outage["bound_at"] - outage["back_at"]).total_seconds(), 1)
    rows = stack.psql(
        "SELECT m.id, m.status, m.created_at, v.expires_at FROM messaging_message m "
        "LEFT JOIN messaging_verification v ON v.id = m.verification_id "
        "WHERE m.customer_id = %s AND m.status <> 'delivered'",
        (customer.id,),
    )
    undelivered_valid, expired_while_binding = [], 0
    for message_id, status, created_at, expires_at in rows:
        outage = next((o for o in outages if o["back_at"] >= created_at), outages[-1])
        if expires_at is None or expires_at > outage["bound_at"]:
            undelivered_valid.append((message_id, status, str(expires_at)))
        elif expires_at > outage["back_at"]:
            expired_while_binding += 1
    backs = [o["back_at"] for o in outages]
    delays = stack.psql(
        "SELECT max(extract(epoch FROM delivered_at - %s)) FROM messaging_message "
        "WHERE customer_id = %s AND status = 'delivered' AND created_at < %s",
        (backs[-1], customer.id, backs[-1]),
    )
    verdict.figures.update(
        {
            "outages": [{k: v for k, v in o.items() if k not in ("back_at", "bound_at")} for o in outages],
            "codes_expired_in_outage": sum(1 for _, status, _, e in rows if e is not None and status == "failed"),
            "codes_expired_while_binding_again": expired_while_binding,
            "last_backlog_delivery_after_back_s": round(float(delays[0][0] or 0), 1),
        }
    )
    verdict.check(
        "every OTP still valid when the platform was bound again was delivered",
        not undelivered_valid,
        f"{undelivered_valid[:5]}",
    )
    all_alive(stack, verdict, "SMSC outage")
    return verdict


# --- 5. The SMSC stops answering for 25 s --------------------------------------------------------


def drill_smsc_silent(stack: Stack, size: Size) -> Verdict:
    """The SMSC goes silent under load: connections stay open, PDUs are read, nothing is
    answered (no submit_sm_resp, no bind_resp, no enquire_link_resp) for ``smsc_silence``
    seconds, but what it reads it accepts: only its answers are lost. A submit left
    unanswered is the one case where a copy may be duplicated: each one makes exactly one
    more copy, counted as a lost submit_sm_resp; every session that went silent is dropped
    and bound again (Review 8.17)."""
    customer = new_customer(stack)
    sends = otp_sends(customer.live_key, drill=5, run=0, count=size.sends)
    load = run_load(stack, sends, size)
    at(load, 0.25, size)
    stack.smsc.hang(True, accept=True)
    say(f"smsc-silent: SMSC silent for {size.smsc_silence:.0f} s")
    pause(size.smsc_silence)
    stack.smsc.hang(False)
    verdict = finish(stack, customer, [load], size)
    figures = verdict.figures
    figures["silence_s"] = size.smsc_silence
    verdict.check(
        "the silence was felt (submits accepted, their answers lost)",
        figures.get("smsc_lost_resp", 0) > 0,
        "no submit reached the silent SMSC",
    )
    verdict.check(
        "each lost submit_sm_resp made one more copy, and no other copy was made",
        figures["duplicated"] == figures["duplicated_lost_resp"] == figures["smsc_lost_resp"],
        f"{figures['duplicated']} duplicated, {figures['smsc_lost_resp']} answers lost",
    )
    all_alive(stack, verdict, "silent SMSC")
    return verdict


# --- 6. A WhatsApp provider answers 5xx for 30 s --------------------------------------------------


_RETRY_IN = re.compile(r"retry in ([0-9.]+)s")


def drill_wa_5xx(stack: Stack, size: Size) -> Verdict:
    """The WhatsApp Cloud API answers 503 to every request for ``wa_outage`` seconds. Messages
    are retried with growing waits; a verification that asked for an SMS fallback moves to SMS
    once WhatsApp has failed for FALLBACK_AFTER_DOWN (its WhatsApp charge reversed, R-PRE-4);
    the others go out on WhatsApp when it answers again."""
    customer = new_customer(stack)
    sends = otp_sends(
        customer.live_key, drill=6, run=0, count=size.sends, channel="wa_official", fallback_every=2, messages_every=0
    )
    load = run_load(stack, sends, size)
    at(load, 0.1, size)
    before = len(stack.wa_cloud.requests)
    stack.wa_cloud.fail_next(None, None, http_status=503)  # type: ignore[arg-type]  # None: for ever
    say(f"wa-5xx: WhatsApp Cloud API answers 503 for {size.wa_outage:.0f} s")
    pause(size.wa_outage)
    stack.wa_cloud.clear_failures()
    verdict = finish(stack, customer, [load], size)
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
    customer = new_customer(stack)
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
    load = run_load(stack, sends, size)
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
        verdict = finish(stack, customer, [load], size, webhooks="strict")
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
