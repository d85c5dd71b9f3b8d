"""Issue 12: a message's status history showed the workers' English reasons
and actors ("accepted", "sandbox report delivered", "api/worker") on the
Indonesian page. Storage stays English; ``messaging.display`` translates at
display time, and anything unknown reads as a translated generic label with
the stored text in a ``<code>`` element."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.utils import translation

from messaging import display
from messaging.models import MessageStatusChange
from messaging.providers import registry

ROOT = Path(__file__).resolve().parents[2]
GENERIC = "Status changed."


def change(reason: str, new: str = "sent", actor: str = "worker") -> MessageStatusChange:
    return MessageStatusChange(old="sending", new=new, reason=reason, actor=actor)


@pytest.mark.parametrize(
    ("stored", "new", "text", "detail"),
    [
        ("accepted", "queued", "Accepted and queued for sending.", ""),
        ("attempt 3", "sending", "Sending attempt 3.", ""),
        ("accepted by provider", "sent", "Accepted by the provider.", ""),
        ("accepted (implied by receipt)", "sent", "Accepted by the provider (its delivery report arrived first).", ""),
        ("sandbox report delivered", "delivered", "The provider's report: delivered to the phone.", ""),
        ("smpp report undelivered 011", "undelivered", "The provider's report: not delivered to the phone.", "011"),
        ("wa_cloud report failed 131026", "failed", "The provider's report: sending failed.", "131026"),
        (
            "retry in 4.2s: throttled Too many requests",
            "queued",
            "A temporary problem; trying again in 4 seconds.",
            "throttled Too many requests",
        ),
        (
            "verification approved before sending",
            "failed",
            "Not sent: the verification was already closed (Approved).",
            "",
        ),
        ("retry window over before sending", "failed", "Not sent: its time to be sent ran out first.", ""),
        ("claim expired: worker lost", "queued", "Sending was interrupted; queued again.", ""),
        (
            "6 attempts reached the provider (DISPATCH_MAX_ATTEMPTS): provider_error boom",
            "failed",
            "Stopped after 6 attempts at the provider.",
            "provider_error boom",
        ),
        (
            "sms failing for 31s (FALLBACK_AFTER_DOWN): falling back: not_bound",
            "failed",
            "This channel kept failing; the code goes out on the next channel.",
            "not_bound",
        ),
        (
            "the code expires before the next attempt: throttled",
            "failed",
            "Stopped: the code expires before another attempt.",
            "throttled",
        ),
        (
            "the retry window ends before the next attempt: x",
            "failed",
            "Stopped: its time to be sent runs out before another attempt.",
            "x",
        ),
        (
            "invalid_number Number unreachable",
            "rejected",
            "Refused by the provider.",
            "invalid_number Number unreachable",
        ),
        ("failed", "failed", "Sending failed.", ""),
    ],
)
def test_every_reason_the_pipeline_writes_reads_as_a_sentence(stored: str, new: str, text: str, detail: str) -> None:
    with translation.override("en"):
        reason = display.reason(change(stored, new=new))
        assert (str(reason.text), reason.detail) == (text, detail)


def test_an_unknown_reason_is_a_generic_label_with_the_stored_text_as_code() -> None:
    reason = display.reason(change("something new from a future worker"))
    assert (str(reason.text), reason.detail) == (GENERIC, "something new from a future worker")


def test_reasons_and_actors_follow_the_active_language() -> None:
    """Through the catalogue: the same stored row reads in each language's msgstr."""
    stored = change("sandbox report delivered", new="delivered", actor="sandbox")
    for language in ("id", "en"):
        with translation.override(language):
            assert str(display.reason(stored).text) == translation.gettext(
                "The provider's report: delivered to the phone."
            )
            assert str(display.actor("api")[0]) == translation.gettext("Your API request")
            assert display.status_label("delivered") == translation.gettext("Delivered")


def test_every_actor_the_pipeline_writes_has_a_name() -> None:
    """The API, the worker, the sweep and every provider (its ``name``)."""
    providers = {"sandbox", "smpp", "wa_cloud", "wa_gateway", "unknown"}
    for name in ("sandbox", "wa_cloud", "wa_gateway"):
        providers.add(registry._build(name).name)
    for actor in {"api", "worker", "sweep"} | providers:
        name, code = display.actor(actor)
        assert code == "" and str(name) != "System", actor
    assert display.actor("mystery") == (display.actor("mystery")[0], "mystery")


def _literal_reasons() -> set[str]:
    """Every literal ``reason="…"`` the messaging services pass when they move a message."""
    found = set()
    for path in (ROOT / "messaging" / "services").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg == "reason" and isinstance(keyword.value, ast.Constant):
                        found.add(keyword.value.value)
    return found


def test_every_literal_reason_in_the_services_is_translated() -> None:
    """A guard: a new fixed reason in messaging.services needs its sentence in messaging.display.
    (Charge reversals' reasons go to billing, not to the history: they are listed apart.)"""
    reversal_only = {"undelivered (REFUND_UNDELIVERED)"}
    reasons = _literal_reasons() - reversal_only
    assert {"accepted", "accepted by provider", "claim expired: worker lost"} <= reasons
    for stored in sorted(reasons):
        assert str(display.reason(change(stored)).text) != GENERIC, stored
