"""What every drill proves once the fault is over (issue 14), from the drill's database,
the SMSC's own log of the submits it received, and the customer's webhook receiver.

* every accepted message reaches a final state (lost = accepted and not final);
* none reaches the SMSC twice, unless an attempt was left in doubt (its
  ``submit_sm_resp`` lost: no answer in time, the connection dropped after the
  submit, or the worker killed between the SMSC's answer and its record), which is
  counted and reported as such;
* every charged message has exactly one charge, every charge its message, a charge is
  reversed exactly when its message failed or was refused, and the customer's balance is
  the deposit less the charges that stand;
* ``manage.py reconcile`` finds 0 differences;
* each message moved to each status once, and the customer got one webhook per move.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from drills.infra import pause, say
from drills.load import Answer
from drills.stack import Customer, Stack

FINAL = ("delivered", "undelivered", "failed", "rejected")
# Status-change reasons that leave an attempt in doubt: the SMSC may have accepted it.
AMBIGUOUS = ("no_response", "connection_lost", "claim expired")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Verdict:
    figures: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append(Check(name, bool(ok), detail))

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks)

    def failures(self) -> list[str]:
        return [f"{c.name}: {c.detail}" for c in self.checks if not c.ok]


def _ids(customers: list[Customer]) -> list[int]:
    return [c.id for c in customers]


def unfinished(stack: Stack, customers: list[Customer]) -> int:
    rows = stack.psql(
        "SELECT count(*) FROM messaging_message WHERE customer_id = ANY(%s) AND NOT is_test AND status <> ALL(%s)",
        (_ids(customers), list(FINAL)),
    )
    return int(rows[0][0])


def settle(stack: Stack, customers: list[Customer], *, timeout: float) -> tuple[float, float]:
    """Wait (bounded) until every message of ``customers`` is final, then until every webhook
    delivery is done; returns the seconds each took. Nothing is nudged: beat's sweeps do the work."""
    started = time.monotonic()
    deadline = started + timeout
    left = -1
    while time.monotonic() < deadline:
        left = unfinished(stack, customers)
        if left == 0:
            break
        pause(1.0)
    final_s = time.monotonic() - started
    if left:
        say(f"{left} message(s) still not final after {timeout:.0f} s")
    while time.monotonic() < deadline:
        pending = stack.psql(
            "SELECT count(*) FROM messaging_webhookdelivery d JOIN messaging_webhookevent e ON e.id = d.event_id "
            "WHERE e.customer_id = ANY(%s) AND d.status = 'pending'",
            (_ids(customers),),
        )[0][0]
        if not pending:
            break
        pause(1.0)
    return final_s, time.monotonic() - started


def verify(
    stack: Stack,
    customers: list[Customer],
    answers: list[Answer],
    *,
    numbers: set[str] | None = None,
    webhooks: str = "events",
) -> Verdict:
    """The invariants above, over the messages of ``customers``; SMSC submits counted for the
    destinations in ``numbers`` (E.164 without "+"; default: every destination of those messages).
    ``webhooks``: "events" (one event per move; a POST repeated is reported, webhooks are
    at-least-once, docs/api.md), "strict" (each event POSTed once too) or "" (not checked)."""
    verdict = Verdict()
    ids = _ids(customers)
    messages = {
        row[0]: {
            "status": row[1],
            "channel": row[2],
            "to": row[3],
            "charged": row[4],
            "price": row[5],
            "verification_id": row[6],
            "fallback_of_id": row[7],
            "error_code": row[8],
        }
        for row in stack.psql(
            'SELECT id, status, channel, "to", charged, price, verification_id, fallback_of_id, error_code '
            "FROM messaging_message WHERE customer_id = ANY(%s) AND NOT is_test",
            (ids,),
        )
    }
    history: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for message_id, old, new, reason in stack.psql(
        "SELECT c.message_id, c.old, c.new, c.reason FROM messaging_messagestatuschange c "
        "JOIN messaging_message m ON m.id = c.message_id WHERE m.customer_id = ANY(%s) AND NOT m.is_test ORDER BY c.id",
        (ids,),
    ):
        history[message_id].append((old, new, reason))

    # --- lost: accepted by the API, and not final (or not there at all)
    accepted = [a for a in answers if a.accepted]
    accepted_ids = {a.message_id for a in accepted}
    missing = sorted(accepted_ids - set(messages))
    not_final = sorted(m for m, row in messages.items() if row["status"] not in FINAL)
    statuses = Counter(row["status"] for row in messages.values())
    verdict.figures.update(
        {
            "accepted": len(accepted),
            "messages": len(messages),
            "fallbacks": sum(1 for row in messages.values() if row["fallback_of_id"]),
            "delivered": statuses.get("delivered", 0),
            "undelivered": statuses.get("undelivered", 0),
            "failed": statuses.get("failed", 0),
            "rejected": statuses.get("rejected", 0),
            "failed_why": dict(
                Counter(
                    row["error_code"] or "?" for row in messages.values() if row["status"] in ("failed", "rejected")
                )
            ),
            "lost": len(missing) + len(not_final),
        }
    )
    verdict.check("every accepted message is in the database", not missing, f"missing {missing[:5]}")
    verdict.check(
        "every message is final",
        not not_final,
        f"{len(not_final)} not final, e.g. {[(m, messages[m]['status']) for m in not_final[:5]]}",
    )

    # --- the SMSC's own log: copies per destination
    sms_numbers = numbers or {row["to"].lstrip("+") for row in messages.values() if row["channel"] == "sms"}
    submits = [r for r in stack.smsc.submits if r.destination_addr in sms_numbers]
    copies = Counter(r.destination_addr for r in submits if r.accepted)
    by_number = defaultdict(list)
    for message_id, row in messages.items():
        if row["channel"] == "sms":
            by_number[row["to"].lstrip("+")].append(message_id)
    # (destination, extra copies, reasons): an attempt left in doubt explains one extra copy at most.
    explained: list[tuple[str, int, list[str]]] = []
    unexplained: list[tuple[str, int, list[str]]] = []
    for destination, count in copies.items():
        if count <= 1:
            continue
        reasons = [r for m in by_number.get(destination, []) for (_, _, r) in history[m]]
        in_doubt = [r for r in reasons if any(word in r for word in AMBIGUOUS)]
        extra = count - 1
        if in_doubt:
            explained.append((destination, min(extra, len(in_doubt)), in_doubt[:2]))
        if extra > len(in_doubt):
            unexplained.append((destination, extra - len(in_doubt), reasons[-4:]))
    delivered_without_copy = [
        m
        for m, row in messages.items()
        if row["channel"] == "sms" and row["status"] == "delivered" and not copies.get(row["to"].lstrip("+"))
    ]
    verdict.figures.update(
        {
            "smsc_submits": len(submits),
            "smsc_accepted": sum(copies.values()),
            "smsc_unanswered": sum(1 for r in submits if not r.answered),
            "smsc_lost_resp": sum(1 for r in submits if r.accepted and not r.answered),
            "duplicated": sum(n for _, n, _ in explained + unexplained),
            "duplicated_lost_resp": sum(n for _, n, _ in explained),
            "duplicated_unexplained": sum(n for _, n, _ in unexplained),
            "duplicate_reasons": dict(Counter(_reason_word(r) for _, _, rs in explained for r in rs[:1])),
            "receipts_redelivered": stack.smsc.redeliveries,
        }
    )
    verdict.check(
        "no message reaches the SMSC twice, except after a lost submit_sm_resp",
        not unexplained,
        f"{unexplained[:5]}",
    )
    verdict.check(
        "every delivered SMS was accepted by the SMSC", not delivered_without_copy, f"{delivered_without_copy[:5]}"
    )

    # --- money
    charges = {
        row[0]: {"amount": row[1], "reversed": row[2] is not None, "customer": row[3]}
        for row in stack.psql(
            "SELECT reference, amount, reversed_at, customer_id FROM billing_charge WHERE customer_id = ANY(%s)",
            (ids,),
        )
    }
    charged = {m for m, row in messages.items() if row["charged"]}
    without_charge = sorted(charged - set(charges))
    orphans = sorted(set(charges) - set(messages))
    wrong_reversal = sorted(
        m for m in charged & set(charges) if charges[m]["reversed"] != (messages[m]["status"] in ("failed", "rejected"))
    )
    standing = sum(c["amount"] for c in charges.values() if not c["reversed"])
    balances = dict(
        stack.psql(
            "SELECT customer_id, coalesce(sum(remaining), 0) FROM billing_depositlot "
            "WHERE customer_id = ANY(%s) GROUP BY customer_id",
            (ids,),
        )
    )
    balance = sum(int(v) for v in balances.values())
    deposits = sum(c.deposit for c in customers)
    differences, reconcile_text = stack.reconcile()
    verdict.figures.update(
        {
            "charges": len(charges),
            "charges_standing": sum(1 for c in charges.values() if not c["reversed"]),
            "charges_reversed": sum(1 for c in charges.values() if c["reversed"]),
            "charged_twice": 0,  # billing_charge.reference is unique: a second charge cannot exist
            "charges_without_message": len(orphans),
            "messages_charged_without_charge": len(without_charge),
            "charges_reconciled": len(charges) - len(orphans) - len(wrong_reversal),
            "balance_expected": deposits - standing,
            "balance": balance,
            "reconcile_differences": differences,
        }
    )
    verdict.check("every charged message has its charge", not without_charge, f"{without_charge[:5]}")
    verdict.check("every charge has its message", not orphans, f"{orphans[:5]}")
    verdict.check(
        "a charge is reversed exactly when its message failed or was refused",
        not wrong_reversal,
        f"{[(m, messages[m]['status'], charges[m]['reversed']) for m in wrong_reversal[:5]]}",
    )
    verdict.check(
        "balance = deposits − standing charges", balance == deposits - standing, f"{balance} ≠ {deposits - standing}"
    )
    verdict.check("reconcile finds 0 differences", differences == 0, reconcile_text[-500:])

    # --- each move once (receipts and callbacks never applied twice)
    twice = [
        (m, new)
        for m, moves in history.items()
        for new, n in Counter(new for (_, new, _) in moves if new in ("sent", *FINAL)).items()
        if n > 1
    ]
    backwards = [m for m, moves in history.items() if not _forward_only(moves)]
    verdict.figures["applied_twice"] = len(twice)
    verdict.check("no status applied twice", not twice, f"{twice[:5]}")
    verdict.check("statuses only move forward", not backwards, f"{backwards[:5]}")
    if webhooks:
        _verify_webhooks(stack, customers, messages, history, verdict, strict=webhooks == "strict")
    return verdict


_RANK = {"": -1, "queued": 0, "sending": 1, "sent": 2, "delivered": 3, "undelivered": 3, "failed": 3, "rejected": 3}


def _forward_only(moves: list[tuple[str, str, str]]) -> bool:
    """A retry (sending → queued) is the one move back the table allows; a reported status never goes back."""
    reported = [new for (_, new, _) in moves if new in ("sent", *FINAL)]
    return all(_RANK[a] < _RANK[b] for a, b in zip(reported, reported[1:], strict=False))


def _reason_word(reason: str) -> str:
    return next((w for w in AMBIGUOUS if w in reason), "?")


def signature_valid(secret: str, body: bytes, header: str) -> bool:
    """The integrator's recipe (docs/api.md "Webhooks"): HMAC-SHA256 of "<t>.<body>" with the secret."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    except (ValueError, KeyError):
        return False
    return hmac.compare_digest(expected, parts.get("v1", ""))


def _verify_webhooks(
    stack: Stack,
    customers: list[Customer],
    messages: dict[str, dict[str, Any]],
    history: dict[str, list[tuple[str, str, str]]],
    verdict: Verdict,
    *,
    strict: bool,
) -> None:
    """One event per message move the customer hears about (sent and the final ones), each
    POSTed once, signed."""
    secrets = [c.webhook_secret for c in customers]
    events: dict[tuple[str, str], set[str]] = defaultdict(set)
    posts: Counter[str] = Counter()
    bad_signature = 0
    for request in stack.receiver.requests:
        try:
            body = json.loads(request.body)
        except ValueError:
            continue
        data = body.get("data", {})
        if body.get("type") != "message.status" or data.get("id") not in messages:
            continue
        header = request.header("X-OTP-Signature") or ""
        if not any(signature_valid(secret, request.body, header) for secret in secrets):
            bad_signature += 1
        events[(data["id"], data.get("status", ""))].add(body["id"])
        posts[body["id"]] += 1
    expected = {(m, new) for m, moves in history.items() for (_, new, _) in moves if new in ("sent", *FINAL)}
    several = [(k, sorted(v)) for k, v in events.items() if len(v) > 1]
    unexpected = sorted(set(events) - expected)
    missing = sorted(expected - set(events))
    posted_twice = [e for e, n in posts.items() if n > 1]
    verdict.figures.update(
        {
            "webhooks_received": sum(posts.values()),
            "webhooks_expected": len(expected),
            "webhooks_events_twice": len(several),
            "webhooks_posted_twice": len(posted_twice),
            "webhooks_missing": len(missing),
        }
    )
    verdict.check(
        "one customer webhook event per move", not several and not unexpected, f"{several[:3]} {unexpected[:3]}"
    )
    if strict:
        verdict.check("each customer webhook POSTed once", not posted_twice, f"{posted_twice[:5]}")
    verdict.check("a customer webhook for every move", not missing, f"{missing[:5]}")
    verdict.check(
        "every customer webhook verifies with the documented recipe", bad_signature == 0, f"{bad_signature} bad"
    )
