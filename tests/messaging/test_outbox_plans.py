"""Review 8.22: the outbox sweep runs every 15 s; each of its queries must be served by an index,
not scan the whole message table (before: a parallel seq scan of 300 000 rows for the tidy-up).
Checked on PostgreSQL with 60 000 messages in a realistic mix (nearly all final, a few hundred in
flight or kept sealed), after ANALYZE, with the planner free to choose (no enable_seqscan tricks).
The plans, as measured::

    tidy-up    Index Scan using msg_sealed on messaging_message
                 (Index Cond: status = ANY ('{sent,undelivered,rejected,failed,delivered}'),
                  Filter: updated_at < … OR verification_id IS NULL OR NOT (hashed SubPlan 1))
               SubPlan 1: Index Scan using ver_pending_expiry on messaging_verification
    queued     Index Scan using msg_outbox (Index Cond: status = 'queued', Filter: next_attempt_at…)
    sending    Index Scan using msg_outbox (Index Cond: status = 'sending', Filter: claimed_at…)
    fallbacks  Index Scan using ver_pending_expiry -> Index Scan on messaging_message (verification_id)
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from messaging.services import outbox
from tests.conftest import Cast

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

MESSAGES = 60_000
VERIFICATIONS = 40_000


@pytest.fixture
def busy_outbox(cast: Cast) -> None:
    """Mostly history: delivered or undelivered, sealed body cleared; every 500th queued, every
    500th sending, every 100th left ``sent`` without a receipt; one verification in a thousand
    still pending (its message sent and sealed, for a fallback)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO messaging_verification (id, is_test, "to", operator, channel, fallback, locale,
                code_length, ttl, code_hmacs, app_hash, status, checks, sends, expires_at, reference,
                created_at, updated_at, customer_id)
            SELECT 'ver_' || g, false, '+62812' || lpad(g::text, 7, '0'), 'telkomsel', 'sms', '["wa"]', 'id',
                6, 300, '[]', '', CASE WHEN g %% 1000 = 0 THEN 'pending' ELSE 'approved' END, 0, 1,
                now() + CASE WHEN g %% 1000 = 0 THEN interval '5 minutes' ELSE interval '-1 day' END, '',
                now() - g * interval '1 second', now(), %s
            FROM generate_series(1, %s) AS g
            """,
            [cast.acme.pk, VERIFICATIONS],
        )
        cursor.execute(
            """
            INSERT INTO messaging_message (id, is_test, "to", operator, channel, sender_id, encoding, units,
                price, charged, body, sealed, fallback, reference, status, provider, provider_message_id,
                attempts, submits, next_attempt_at, claimed_at, error_code, error_message, created_at,
                updated_at, sent_at, customer_id, verification_id)
            SELECT 'msg_' || g, false, '+62812' || lpad(g::text, 7, '0'), 'telkomsel', 'sms', 'OTPPORTAL',
                'gsm7', 1, 650, true, 'Kode OTP Anda ******',
                CASE WHEN status IN ('queued', 'sending') OR g %% 1000 = 0 THEN 'sealed' ELSE '' END,
                CASE WHEN g <= %s THEN '["wa"]'::jsonb ELSE '[]'::jsonb END, '', status, 'smpp', 'p' || g, 1, 1,
                CASE WHEN status = 'queued' THEN now() + interval '10 seconds' END,
                CASE WHEN status = 'sending' THEN now() END, '', '',
                now() - g * interval '1 second', now() - g * interval '1 second',
                CASE WHEN status NOT IN ('queued', 'sending') THEN now() - g * interval '1 second' END,
                %s, CASE WHEN g <= %s THEN 'ver_' || g END
            FROM (
                SELECT g, CASE WHEN g %% 1000 = 0 AND g <= %s THEN 'sent' WHEN g %% 500 = 1 THEN 'queued'
                    WHEN g %% 500 = 2 THEN 'sending' WHEN g %% 100 = 3 THEN 'sent'
                    WHEN g %% 100 = 4 THEN 'undelivered' ELSE 'delivered' END AS status
                FROM generate_series(1, %s) AS g
            ) AS rows
            """,
            [VERIFICATIONS, cast.acme.pk, VERIFICATIONS, VERIFICATIONS, MESSAGES],
        )
        cursor.execute("ANALYZE messaging_message")
        cursor.execute("ANALYZE messaging_verification")


def test_review_8_22_every_sweep_query_is_served_by_an_index(busy_outbox: None) -> None:
    """One test on one data set: loading 100 000 rows is the slow part."""
    now = timezone.now()
    plans = {
        "tidy-up (msg_sealed)": (outbox.sealed_to_forget(now=now), "msg_sealed"),
        "tidy-up (ver_pending_expiry)": (outbox.sealed_to_forget(now=now), "ver_pending_expiry"),
        "queued (msg_outbox)": (outbox.due_messages(due=now), "msg_outbox"),
        "sending (msg_outbox)": (outbox.stale_claims(now=now - timedelta(seconds=150)), "msg_outbox"),
        "sandbox receipts (msg_sandbox_sent)": (
            outbox.sandbox_unreported(sent_before=now - timedelta(seconds=60)),
            "msg_sandbox_sent",
        ),
        "fallbacks (ver_pending_expiry)": (
            outbox.fallback_candidates(channels=("sms",), sent_before=now - timedelta(seconds=120), now=now),
            "ver_pending_expiry",
        ),
    }
    for name, (queryset, index) in plans.items():
        text = queryset.explain()
        assert index in text, f"{name}:\n{text}"
        assert "Seq Scan on messaging_message" not in text, f"{name}:\n{text}"
        assert "Seq Scan on messaging_verification" not in text, f"{name}:\n{text}"
    # Behaviour on the same data: in-flight messages and pending verifications' sent ones keep their
    # sealed body; the delivered /messages ones still carrying one lose it.
    forget = set(outbox.sealed_to_forget(now=now).values_list("pk", flat=True))
    assert forget == {f"msg_{g}" for g in range(VERIFICATIONS + 1000, MESSAGES + 1, 1000)}
