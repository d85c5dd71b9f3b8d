"""How stored values read on the dashboard, in the user's language.

A message's status history is written by the API, the workers, the sweep and
the providers' reports, in English and with internal codes ("accepted",
"sandbox report delivered", "retry in 4.0s: throttled …", actor "worker").
Storage stays English (the back office and the logs read it); the dashboard
translates at display time: each known reason shape maps to a sentence
through gettext, each known actor to a name. Anything unknown reads as a
translated generic label with the stored text beside it in a ``<code>``
element, so nothing English ever appears as if it were a sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from messaging import phones
from messaging.models import Channel, Message, MessageStatusChange, Verification

ACTORS: dict[str, Promise] = {
    "api": _("Your API request"),
    "worker": _("Sending service"),
    "sweep": _("Automatic recovery"),
    "sandbox": _("Sandbox"),
    "smpp": _("SMS operator"),
    "wa_cloud": _("WhatsApp Official"),
    "wa_gateway": _("WhatsApp gateway"),
    "unknown": _("Provider"),
}

ENCODINGS: dict[str, Promise] = {
    "gsm7": _("Standard (GSM-7)"),
    "ucs2": _("Unicode (UCS-2)"),
}

REPORT_STATES: dict[str, Promise] = {
    "sent": _("The provider's report: sent to the network."),
    "delivered": _("The provider's report: delivered to the phone."),
    "undelivered": _("The provider's report: not delivered to the phone."),
    "failed": _("The provider's report: sending failed."),
}


@dataclass(frozen=True)
class Reason:
    """A history reason as shown: a translated sentence, and the technical
    detail (an upstream code, never translated) when there is one."""

    text: str | Promise
    detail: str = ""


def _verification_status(value: str) -> str:
    return str(Verification.Status(value).label) if value in Verification.Status.values else value


# (pattern, builder) in order; the first pattern that matches the whole stored reason wins.
_REASONS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], Reason]]] = [
    (re.compile(r"accepted"), lambda m: Reason(_("Accepted and queued for sending."))),
    (re.compile(r"attempt (\d+)"), lambda m: Reason(_("Sending attempt %(number)s.") % {"number": m[1]})),
    (re.compile(r"accepted by provider"), lambda m: Reason(_("Accepted by the provider."))),
    (
        re.compile(r"accepted \(implied by receipt\)"),
        lambda m: Reason(_("Accepted by the provider (its delivery report arrived first).")),
    ),
    (
        re.compile(r"\w+ report (sent|delivered|undelivered|failed) ?(.*)"),
        lambda m: Reason(REPORT_STATES[m[1]], m[2].strip()),
    ),
    (
        re.compile(r"retry in ([\d.]+)s: ?(.*)"),
        lambda m: Reason(
            _("A temporary problem; trying again in %(seconds)s seconds.") % {"seconds": round(float(m[1]))},
            m[2].strip(),
        ),
    ),
    (
        re.compile(r"verification (\w+) before sending"),
        lambda m: Reason(
            _("Not sent: the verification was already closed (%(status)s).") % {"status": _verification_status(m[1])}
        ),
    ),
    (
        re.compile(r"retry window over before sending"),
        lambda m: Reason(_("Not sent: its time to be sent ran out first.")),
    ),
    (re.compile(r"claim expired: worker lost"), lambda m: Reason(_("Sending was interrupted; queued again."))),
    (
        re.compile(r"(\d+) attempts reached the provider \(DISPATCH_MAX_ATTEMPTS\): ?(.*)"),
        lambda m: Reason(_("Stopped after %(number)s attempts at the provider.") % {"number": m[1]}, m[2].strip()),
    ),
    (
        re.compile(r"\w+ failing for \d+s \(FALLBACK_AFTER_DOWN\): falling back: ?(.*)"),
        lambda m: Reason(_("This channel kept failing; the code goes out on the next channel."), m[1].strip()),
    ),
    (
        re.compile(r"the code expires before the next attempt: ?(.*)"),
        lambda m: Reason(_("Stopped: the code expires before another attempt."), m[1].strip()),
    ),
    (
        re.compile(r"the retry window ends before the next attempt: ?(.*)"),
        lambda m: Reason(_("Stopped: its time to be sent runs out before another attempt."), m[1].strip()),
    ),
]

_FINAL_REASONS: dict[str, Promise] = {
    "rejected": _("Refused by the provider."),
    "failed": _("Sending failed."),
    "undelivered": _("Not delivered to the phone."),
}


def reason(change: MessageStatusChange) -> Reason:
    """The stored reason of one status change, as the customer reads it."""
    stored = (change.reason or "").strip()
    for pattern, build in _REASONS:
        match = pattern.fullmatch(stored)
        if match:
            return build(match)
    if change.new in _FINAL_REASONS:
        # A provider's refusal: "<code> <message>" as the upstream said it.
        return Reason(_FINAL_REASONS[change.new], "" if stored == change.new else stored)
    if not stored:
        return Reason(_("Status changed."))
    return Reason(_("Status changed."), stored)


def actor(value: str) -> tuple[str | Promise, str]:
    """(name, raw code): a known actor's name, or a generic label and the stored code."""
    if value in ACTORS:
        return ACTORS[value], ""
    if not value:
        return "—", ""
    return _("System"), value


def status_label(value: str) -> str:
    return str(Message.Status(value).label) if value in Message.Status.values else value


def channel_label(value: str) -> str:
    return str(Channel(value).label) if value in Channel.values else value


def operator_label(value: str) -> str:
    try:
        return phones.Operator(value).label
    except ValueError:
        return value


def encoding_label(value: str) -> str:
    return str(ENCODINGS.get(value, value))


def timeline(history: list[MessageStatusChange]) -> list[dict[str, Any]]:
    """A message's status history as display rows, oldest first."""
    rows = []
    for change in history:
        why = reason(change)
        who, who_code = actor(change.actor)
        rows.append(
            {
                "change": change,
                "old": status_label(change.old) if change.old else "",
                "new": status_label(change.new),
                "reason": why.text,
                "detail": why.detail,
                "actor": who,
                "actor_code": who_code,
                "tone": "final-ok"
                if change.new == Message.Status.DELIVERED
                else "final-bad"
                if change.new in Message.FINAL
                else "",
            }
        )
    return rows
